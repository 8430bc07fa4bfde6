// Package peerid is the participant id every layer shares: the SHA-256 of
// a participant's Ed25519 public key, written as 64 lower-case hex digits
// (the store, the headless contract, contact strings) or its first 8 for
// people and logs. syncthing's protocol.DeviceID is the model. It imports
// nothing of ours, so the transport, the go-mls boundary, the protocol,
// the engine and files name a participant the same way without depending
// on one another.
package peerid

import (
	"crypto/sha256"
	"encoding/hex"
)

// ID identifies a participant: the SHA-256 of its public key.
type ID [32]byte

// Of returns the id of a raw public key.
func Of(pub []byte) ID { return sha256.Sum256(pub) }

// Parse reads the form String writes: exactly 64 hex digits (either case).
func Parse(s string) (ID, bool) {
	var id ID
	if len(s) != 2*len(id) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err == nil
}

// String is the whole id in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short is its first 8 hex digits.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }
