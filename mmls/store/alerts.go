package store

import (
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaxAlerts bounds the alerts kept; the oldest go first.
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

// AddAlert keeps a, dropping the oldest past MaxAlerts.
func (s *Store) AddAlert(a Alert) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bAlerts)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(b, binary.BigEndian.AppendUint64(nil, seq), a); err != nil {
			return err
		}
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		for ; n > MaxAlerts; n-- {
			k, _ := b.Cursor().First()
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
	err := s.view(func(tx *bolt.Tx) error {
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
