package store

import (
	"bytes"
	"encoding/binary"
	"time"
)

// MaxAlerts bounds the alerts kept. Past it the oldest alert without
// evidence goes first (peers can cause key-changed and look-alike alerts
// at will; they must not push out an owner's two signed commits), then the
// oldest.
const MaxAlerts = 256

// Alert is a security alert as kept: for an equivocation, the evidence
// (the two commits the owner signed for one epoch, and their digests).
type Alert struct {
	Kind     string    `json:"kind"`
	Room     string    `json:"room,omitempty"`
	By       string    `json:"by,omitempty"`   // the peer the alert is about
	Nick     string    `json:"nick,omitempty"` // its nick
	At       time.Time `json:"at"`
	Detail   string    `json:"detail"`
	Group    []byte    `json:"group,omitempty"`
	Epoch    uint64    `json:"epoch,omitempty"`
	Digests  []string  `json:"digests,omitempty"`
	Commits  [][]byte  `json:"commits,omitempty"`
	Reporter string    `json:"reporter,omitempty"`
}

// AddAlert keeps a, dropping one past MaxAlerts (see MaxAlerts).
func (s *Store) AddAlert(a Alert) error {
	return s.update(func(tx *Tx) error {
		b := tx.Bucket(bAlerts)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(b, binary.BigEndian.AppendUint64(nil, seq), a); err != nil {
			return err
		}
		var plain, evidence [][]byte // alerts without and with evidence, oldest first
		err = b.ForEach(func(k, v []byte) error {
			var a Alert
			if err := getJSON(b, k, &a); err != nil {
				return err
			}
			if len(a.Commits) == 0 {
				plain = append(plain, bytes.Clone(k))
			} else {
				evidence = append(evidence, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		victims := append(plain, evidence...)
		for _, k := range victims[:max(0, len(victims)-MaxAlerts)] {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Alerts returns the kept alerts, oldest first.
func (s *Store) Alerts() ([]Alert, error) {
	var out []Alert
	err := s.view(func(tx *Tx) error {
		b := tx.Bucket(bAlerts)
		return b.ForEach(func(k, _ []byte) error {
			var a Alert
			if err := getJSON(b, k, &a); err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, err
}
