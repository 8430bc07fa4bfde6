package store

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"
)

// Message is one message in a room's history.
type Message struct {
	ID         string    `json:"id"` // hex of the 16-byte message id
	Room       string    `json:"room"`
	FromID     string    `json:"from_id"` // hex fingerprint
	FromNick   string    `json:"from"`
	Text       string    `json:"text"`
	SentAt     time.Time `json:"sent_at"`
	ReceivedAt time.Time `json:"received_at"`
	Mine       bool      `json:"mine,omitempty"`
	File       *FileRef  `json:"file,omitempty"` // a file offer (Text is its name)
}

// FileRef is what history keeps of a file offer (never its key).
type FileRef struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Mime   string `json:"mime"`
	SHA256 string `json:"sha256"`
}

// AddMessage appends m to its room's history unless its sender's message
// with its id is already stored in that room (a re-send). It reports
// whether m was new. Another sender's message with the same id is another
// message: nobody can hide someone else's by reusing its id.
func (s *Store) AddMessage(m Message) (bool, error) {
	if m.ID == "" || m.Room == "" {
		return false, fmt.Errorf("store: message without id or room")
	}
	added := false
	err := s.update(func(tx *Tx) (err error) {
		added, err = appendHistory(tx, m)
		return err
	})
	return added, err
}

// HasMessage reports whether sender's message id is stored in room.
func (s *Store) HasMessage(room, sender, id string) (bool, error) {
	has := false
	err := s.view(func(tx *Tx) error {
		has = tx.Bucket(bMsgKeys).Get(messageKey(Message{Room: room, FromID: sender, ID: id})) != nil
		return nil
	})
	return has, err
}

// messageKey is a message's dedupe key: room, sender and id.
func messageKey(m Message) []byte { return []byte(m.Room + "\x00" + m.FromID + "\x00" + m.ID) }

// appendHistory appends m to its room's history unless it is stored
// already; it reports whether it did.
func appendHistory(tx *Tx, m Message) (bool, error) {
	keys := tx.Bucket(bMsgKeys)
	if keys.Get(messageKey(m)) != nil {
		return false, nil
	}
	room, err := tx.Bucket(bMessages).CreateBucketIfNotExists([]byte(m.Room))
	if err != nil {
		return false, err
	}
	seq, err := room.NextSequence()
	if err != nil {
		return false, err
	}
	if err := putJSON(room, binary.BigEndian.AppendUint64(nil, seq), m); err != nil {
		return false, err
	}
	// A mark, not an empty value: bbolt reads a key put with no value as
	// missing until its transaction commits, and a batch looks it up
	// again before that.
	return true, keys.Put(messageKey(m), present)
}

var present = []byte{1}

// History returns the last limit messages of room, oldest first (all of
// them when limit <= 0).
func (s *Store) History(room string, limit int) ([]Message, error) {
	p, err := s.HistoryBefore(room, 0, limit)
	return p.Messages, err
}

// Page is a run of a room's messages, oldest first: Before is the place
// of the oldest one (pass it to HistoryBefore for the ones before it),
// More says whether there are.
type Page struct {
	Messages []Message
	Before   uint64
	More     bool
}

// HistoryBefore returns the last limit messages of room stored before
// the place before (0: the newest), oldest first.
func (s *Store) HistoryBefore(room string, before uint64, limit int) (Page, error) {
	var p Page
	err := s.view(func(tx *Tx) error {
		b := tx.Bucket(bMessages).Bucket([]byte(room))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k []byte
		if before == 0 {
			k, _ = c.Last()
		} else if k, _ = c.Seek(binary.BigEndian.AppendUint64(nil, before)); k == nil {
			k, _ = c.Last() // all of them are before it
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && (limit <= 0 || len(p.Messages) < limit); k, _ = c.Prev() {
			var m Message
			if err := getJSON(b, k, &m); err != nil {
				return err
			}
			p.Messages = append(p.Messages, m)
			if len(k) == 8 {
				p.Before = binary.BigEndian.Uint64(k)
			}
		}
		p.More = k != nil
		return nil
	})
	slices.Reverse(p.Messages)
	return p, err
}
