package dmls

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

// Fingerprint is the SHA-256 of a participant's Ed25519 public key; it is
// the participant's id everywhere in mmls-chat.
type Fingerprint = mlsguard.Fingerprint

// ParseFingerprint reads the hex form of a fingerprint.
func ParseFingerprint(s string) (Fingerprint, bool) { return mlsguard.ParseFingerprint(s) }

// RoomID is the SHA-256 of a room name; names never travel in clear.
type RoomID [32]byte

// RoomIDOf hashes a room name.
func RoomIDOf(name string) RoomID {
	return sha256.Sum256([]byte("mmls-chat room v1\x00" + name))
}

// Env is what the protocol layer takes from the outside world: randomness
// and time. Tests fix both.
type Env struct {
	Rand io.Reader
	Now  func() time.Time
}

func (e Env) secret() ([]byte, error) {
	b := make([]byte, mlsguard.SecretSize)
	if _, err := io.ReadFull(e.Rand, b); err != nil {
		return nil, fmt.Errorf("dmls: randomness: %w", err)
	}
	return b, nil
}

// Identity is a participant's long-term key, nick and KeyPackage store.
type Identity struct {
	seed []byte
	mls  *mlsguard.Identity
	keys *KeyStore
}

// NewIdentity creates a fresh identity from env's randomness.
func NewIdentity(env Env, nick string) (*Identity, error) {
	seed, err := env.secret()
	if err != nil {
		return nil, err
	}
	return IdentityFromSeed(seed, nick)
}

// IdentityFromSeed rebuilds a stored identity.
func IdentityFromSeed(seed []byte, nick string) (*Identity, error) {
	id, err := mlsguard.NewIdentity(seed, nick)
	if err != nil {
		return nil, fmt.Errorf("dmls: identity: %w", classify(err))
	}
	return &Identity{seed: bytes.Clone(seed), mls: id, keys: newKeyStore()}, nil
}

// Seed returns the secret seed to store (it is the private key).
func (id *Identity) Seed() []byte { return bytes.Clone(id.seed) }

// Nick returns the nick.
func (id *Identity) Nick() string { return id.mls.Nick() }

// PublicKey returns the Ed25519 public key.
func (id *Identity) PublicKey() []byte { return id.mls.PublicKey() }

// Fingerprint returns the participant's id.
func (id *Identity) Fingerprint() Fingerprint { return id.mls.Fingerprint() }

// Sign signs msg with the identity key.
func (id *Identity) Sign(msg []byte) ([]byte, error) { return id.mls.Sign(msg) }

// SafetyNumber returns a 60-digit number, the same for both parties and
// independent of order, that two people compare out of band to verify each
// other's keys. It is grouped in 12 blocks of 5 digits.
func SafetyNumber(pubA, pubB []byte) string {
	keys := [][]byte{pubA, pubB}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	h := sha256.New()
	h.Write([]byte("mmls-chat safety number v1\x00"))
	for _, k := range keys {
		h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(k))))
		h.Write(k)
	}
	sum := h.Sum(nil)
	// Stretch to 60 bytes: 12 blocks of 5 bytes, each reduced mod 10^5.
	more := sha256.Sum256(sum)
	buf := append(sum, more[:]...)
	blocks := make([]string, 12)
	for i := range blocks {
		var v uint64
		for _, c := range buf[i*5 : i*5+5] {
			v = v<<8 | uint64(c)
		}
		blocks[i] = fmt.Sprintf("%05d", v%100000)
	}
	return strings.Join(blocks, " ")
}

// KeyStore keeps the KeyPackages we handed out, with their init secrets,
// until a Welcome uses them or they expire. It is bounded per peer (a
// peer's new one replaces its oldest) and in all; over the total, the
// oldest package of the peer holding the most goes, so a peer asking for
// packages over and over evicts only its own, never a joiner's.
type KeyStore struct {
	entries map[string]*keyEntry
	byPeer  map[Fingerprint][]string // hashes in the order issued (live ones after a compaction)
}

type keyEntry struct {
	kp      *mlsguard.KeyPackage
	secret  []byte
	expires time.Time
}

// Limits of the KeyStore.
const (
	MaxKeyPackages = 1024
	// MaxKeyPackagesPerPeer: one per room we share, for as many rooms as
	// a peer may ask about at once.
	MaxKeyPackagesPerPeer = 64
	KeyPackageTTL         = 7 * 24 * time.Hour
)

func newKeyStore() *KeyStore {
	return &KeyStore{entries: map[string]*keyEntry{}, byPeer: map[Fingerprint][]string{}}
}

// NewKeyPackage makes a fresh KeyPackage for peer and remembers its init
// secret.
func (id *Identity) NewKeyPackage(env Env, peer Fingerprint) (*mlsguard.KeyPackage, error) {
	secret, err := env.secret()
	if err != nil {
		return nil, err
	}
	kp, err := id.mls.NewKeyPackage(secret)
	if err != nil {
		return nil, fmt.Errorf("dmls: key package: %w", classify(err))
	}
	ks := id.keys
	h := string(kp.Hash())
	ks.entries[h] = &keyEntry{kp: kp, secret: secret, expires: env.Now().Add(KeyPackageTTL)}
	live := ks.live(peer)
	ks.byPeer[peer] = append(live, h)
	if len(live)+1 > MaxKeyPackagesPerPeer {
		ks.dropOldest(peer)
	}
	for len(ks.entries) > MaxKeyPackages {
		var most Fingerprint
		n := 0
		for fp := range ks.byPeer {
			if l := len(ks.live(fp)); l > n || l == n && bytes.Compare(fp[:], most[:]) < 0 {
				most, n = fp, l
			}
		}
		ks.dropOldest(most)
	}
	return kp, nil
}

// live compacts and returns peer's issued hashes still held.
func (ks *KeyStore) live(peer Fingerprint) []string {
	hs := ks.byPeer[peer][:0]
	for _, h := range ks.byPeer[peer] {
		if ks.entries[h] != nil {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		delete(ks.byPeer, peer)
		return nil
	}
	ks.byPeer[peer] = hs
	return hs
}

func (ks *KeyStore) dropOldest(peer Fingerprint) {
	if hs := ks.live(peer); len(hs) > 0 {
		ks.drop(hs[0])
		ks.byPeer[peer] = hs[1:]
	}
}

// Held reports how many KeyPackages we hold, in all and for peer.
func (ks *KeyStore) Held(peer Fingerprint) (all, forPeer int) {
	return len(ks.entries), len(ks.live(peer))
}

// take finds and removes the entry a Welcome addresses; the caller
// clears its secret after use.
func (ks *KeyStore) take(hashes [][]byte, now time.Time) *keyEntry {
	for _, h := range hashes {
		if e := ks.entries[string(h)]; e != nil {
			delete(ks.entries, string(h))
			if now.After(e.expires) {
				clear(e.secret)
				return nil
			}
			return e
		}
	}
	return nil
}

func (ks *KeyStore) drop(h string) {
	if e := ks.entries[h]; e != nil {
		clear(e.secret)
		delete(ks.entries, h)
	}
}

// Expire forgets KeyPackages past their lifetime.
func (ks *KeyStore) Expire(now time.Time) {
	for h, e := range ks.entries {
		if now.After(e.expires) {
			ks.drop(h)
		}
	}
	for fp := range ks.byPeer {
		ks.live(fp)
	}
}

// Pending reports how many KeyPackages await a Welcome.
func (ks *KeyStore) Pending() int { return len(ks.entries) }

// ValidNick reports whether nick can be carried in a credential: 1 to 32
// printable characters (no control character, escape or bidi override).
//
// bytes of UTF-8 without control characters.
func ValidNick(nick string) error {
	if err := mlsguard.ValidNick(nick); err != nil {
		return classify(err)
	}
	return nil
}
