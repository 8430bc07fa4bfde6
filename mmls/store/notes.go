package store

import (
	"encoding/binary"
	"time"
)

// Note is a line about a room worth keeping across restarts: who joined
// or left our group, who removed us, an invitation. Room "" holds what
// belongs to no room (invitations).
type Note struct {
	Room      string    `json:"-"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // NoteMember, NoteRemoved, NoteInvite
	Peer      string    `json:"peer,omitempty"`
	Nick      string    `json:"nick,omitempty"`
	By        string    `json:"by,omitempty"`
	ByNick    string    `json:"by_nick,omitempty"`
	Change    string    `json:"change,omitempty"`
	Departure bool      `json:"departure,omitempty"`
	Following string    `json:"following,omitempty"`
	Private   bool      `json:"private,omitempty"`
	Subject   string    `json:"subject,omitempty"` // an invitation's room
}

// Kinds of notes.
const (
	NoteMember  = "member"
	NoteRemoved = "removed"
	NoteInvite  = "invite"
)

// MaxNotes bounds the notes kept per room; the oldest go first.
const MaxNotes = 200

// AddNotes appends notes in one transaction (callers batch them: a note
// is worth less than an fsync of its own).
func (s *Store) AddNotes(notes []Note) error {
	if len(notes) == 0 {
		return nil
	}
	return s.update(func(tx *Tx) error {
		for _, n := range notes {
			b, err := tx.Bucket(bNotes).CreateBucketIfNotExists(noteBucket(n.Room))
			if err != nil {
				return err
			}
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			n.At = n.At.UTC()
			if err := putJSON(b, binary.BigEndian.AppendUint64(nil, seq), n); err != nil {
				return err
			}
			for count(b) > MaxNotes {
				k, _ := b.Cursor().First()
				if err := b.Delete(k); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Notes returns room's notes, oldest first.
func (s *Store) Notes(room string) ([]Note, error) {
	var out []Note
	err := s.view(func(tx *Tx) error {
		b := tx.Bucket(bNotes).Bucket(noteBucket(room))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var n Note
			if err := getJSON(b, k, &n); err != nil {
				return err
			}
			n.Room = room
			out = append(out, n)
			return nil
		})
	})
	return out, err
}

// count counts a bucket's keys (its Stats need not see this transaction's
// writes).
func count(b *Bucket) int {
	n := 0
	c := b.b.Cursor() // the stored keys: nothing to open to count them
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n
}

// noteBucket names room's bucket of notes; no room ("") has one too.
func noteBucket(room string) []byte {
	if room == "" {
		return []byte{0}
	}
	return []byte(room)
}
