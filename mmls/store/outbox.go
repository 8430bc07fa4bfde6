package store

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Outgoing is a message we sent and the recipients that have not yet
// acknowledged it.
type Outgoing struct {
	ID      string          `json:"id"`
	Room    string          `json:"room"`
	Kind    string          `json:"kind,omitempty"`   // KindText, KindInvite (Text is the room) or KindFile (Text is its name)
	Secret  []byte          `json:"secret,omitempty"` // an invitation's private room secret
	Body    []byte          `json:"body,omitempty"`   // a file offer as it travels
	File    *FileRef        `json:"file,omitempty"`
	Text    string          `json:"text"`
	SentAt  time.Time       `json:"sent_at"`
	To      []string        `json:"to"`
	Acked   map[string]bool `json:"acked,omitempty"`
	Dropped map[string]bool `json:"dropped,omitempty"` // removed since: delivery cancelled
}

// Kinds of outgoing messages.
const (
	KindText   = ""
	KindInvite = "invite"
	KindFile   = "file"
)

// Pending lists the recipients that have neither acknowledged nor been
// dropped.
func (o Outgoing) Pending() []string {
	var out []string
	for _, to := range o.To {
		if !o.Acked[to] && !o.Dropped[to] {
			out = append(out, to)
		}
	}
	return out
}

// AddOutgoing records a message we are sending; it goes into history too.
// It is stored before it is reported sent.
func (s *Store) AddOutgoing(o Outgoing, fromID, fromNick string) error {
	return s.update(func(tx *bolt.Tx) error {
		if err := putOutgoing(tx.Bucket(bOutbox), []byte(o.ID), o); err != nil {
			return err
		}
		if o.Kind != KindText && o.Kind != KindFile {
			return nil // only text and files go into the history
		}
		if _, err := appendHistory(tx, Message{ID: o.ID, Room: o.Room, FromID: fromID, FromNick: fromNick, Text: o.Text,
			SentAt: o.SentAt, ReceivedAt: o.SentAt, Mine: true, File: o.File}); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bDelivery), []byte(o.ID), Delivery{To: len(o.To)})
	})
}

// Delivery is how far one of our messages got, kept after the outbox
// forgets it: To recipients when sent, of whom Acked have stored it and
// Dropped were removed before they did (they no longer count).
type Delivery struct {
	To      int      `json:"to"`
	Acked   []string `json:"acked,omitempty"`
	Dropped int      `json:"dropped,omitempty"`
}

// noteDelivery records in the delivery bucket what changed in o.
func noteDelivery(tx *bolt.Tx, o Outgoing, ackedBy string, dropped bool) error {
	b := tx.Bucket(bDelivery)
	var d Delivery
	switch err := getJSON(b, []byte(o.ID), &d); {
	case errors.Is(err, ErrNotFound):
		if o.Kind != KindText {
			return nil
		}
		d.To = len(o.To) // sent before version 5
	case err != nil:
		return err
	}
	if ackedBy != "" && !slices.Contains(d.Acked, ackedBy) {
		d.Acked = append(d.Acked, ackedBy)
	}
	if dropped {
		d.Dropped++
	}
	return putJSON(b, []byte(o.ID), d)
}

// Deliveries returns the delivery of each of ids that is one of our
// messages.
func (s *Store) Deliveries(ids []string) (map[string]Delivery, error) {
	out := map[string]Delivery{}
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bDelivery)
		for _, id := range ids {
			var d Delivery
			switch err := getJSON(b, []byte(id), &d); {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return err
			default:
				out[id] = d
			}
		}
		return nil
	})
	return out, err
}

// Acknowledge records that peer has stored message id. It reports whether
// this was news, and the message's state after it.
func (s *Store) Acknowledge(id, peer string) (bool, Outgoing, error) {
	return s.outboxChange(id, peer, func(o *Outgoing) bool {
		if o.Acked[peer] || !contains(o.To, peer) {
			return false
		}
		if o.Acked == nil {
			o.Acked = map[string]bool{}
		}
		o.Acked[peer] = true
		return true
	})
}

// DropRecipient cancels delivery of every pending message of room to peer
// (it was removed from our send group), and returns their ids.
func (s *Store) DropRecipient(room, peer string) ([]string, error) {
	var ids []string
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOutbox)
		var keys [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			var o Outgoing
			if err := getJSON(b, k, &o); err != nil {
				return err
			}
			if o.Room != room || !contains(o.To, peer) || o.Acked[peer] || o.Dropped[peer] {
				continue
			}
			if o.Dropped == nil {
				o.Dropped = map[string]bool{}
			}
			o.Dropped[peer] = true
			if err := putOutgoing(b, k, o); err != nil {
				return err
			}
			if err := noteDelivery(tx, o, "", true); err != nil {
				return err
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	return ids, err
}

func (s *Store) outboxChange(id, ackedBy string, f func(*Outgoing) bool) (bool, Outgoing, error) {
	var o Outgoing
	changed := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOutbox)
		if err := getJSON(b, []byte(id), &o); err != nil {
			return err
		}
		if changed = f(&o); !changed {
			return nil
		}
		if err := putOutgoing(b, []byte(id), o); err != nil {
			return err
		}
		return noteDelivery(tx, o, ackedBy, false)
	})
	return changed, o, err
}

// putOutgoing stores o, or deletes it once nobody is pending (the history
// keeps the message).
func putOutgoing(b *bolt.Bucket, key []byte, o Outgoing) error {
	if len(o.Pending()) == 0 {
		return b.Delete(key)
	}
	return putJSON(b, key, o)
}

// Outbox lists the messages some recipient has not acknowledged, oldest
// first.
func (s *Store) Outbox() ([]Outgoing, error) {
	var out []Outgoing
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bOutbox)
		return b.ForEach(func(k, _ []byte) error {
			var o Outgoing
			if err := getJSON(b, k, &o); err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].SentAt.Before(out[j].SentAt) })
	return out, err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
