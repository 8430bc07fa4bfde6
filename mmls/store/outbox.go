package store

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// Outgoing is a message we sent and the recipients that have not yet
// acknowledged it.
type Outgoing struct {
	ID     string    `json:"id"`
	Room   string    `json:"room"`
	Kind   string    `json:"kind,omitempty"`   // KindText, KindInvite (Text is the room) or KindFile (Text is its name)
	Secret []byte    `json:"secret,omitempty"` // an invitation's private room secret
	Body   []byte    `json:"body,omitempty"`   // a file offer as it travels
	File   *FileRef  `json:"file,omitempty"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sent_at"`
	To     []string  `json:"to"`
	// Sealed: the signed envelope as it first went (version 7; a
	// message stored before has none and is numbered when re-sent), kept
	// apart from the entry (which each acknowledgement rewrites); Seqs:
	// the sequence number it has for each recipient, as it is numbered
	// (the envelope holds them).
	Sealed  []byte            `json:"-"`
	Seqs    map[string]uint64 `json:"-"`
	Acked   map[string]bool   `json:"acked,omitempty"`
	Dropped map[string]bool   `json:"dropped,omitempty"` // removed since: delivery cancelled
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
	return s.update(func(tx *Tx) error {
		if err := s.outboxWrite(tx, o.ID); err != nil {
			return err
		}
		if err := putOutgoing(tx, []byte(o.ID), o); err != nil {
			return err
		}
		if err := numbered(tx, o); err != nil {
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

// Renumber keeps o again with the sequence numbers and signed envelope it
// was given when first re-sent (a message stored before version 7).
func (s *Store) Renumber(o Outgoing) error {
	return s.update(func(tx *Tx) error {
		if err := s.outboxWrite(tx, o.ID); err != nil {
			return err
		}
		if err := putOutgoing(tx, []byte(o.ID), o); err != nil {
			return err
		}
		return numbered(tx, o)
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

// getDelivery reads o's delivery record; nil when o has none (not a text,
// or sent before version 5: then a record is started).
func getDelivery(tx *Tx, o Outgoing) (*Delivery, error) {
	var d Delivery
	switch err := getJSON(tx.Bucket(bDelivery), []byte(o.ID), &d); {
	case errors.Is(err, ErrNotFound):
		if o.Kind != KindText {
			return nil, nil
		}
		d.To = len(o.To) // sent before version 5
	case err != nil:
		return nil, err
	}
	return &d, nil
}

func (d *Delivery) note(ackedBy string, dropped bool) {
	if ackedBy != "" && !slices.Contains(d.Acked, ackedBy) {
		d.Acked = append(d.Acked, ackedBy)
	}
	if dropped {
		d.Dropped++
	}
}

// Deliveries returns the delivery of each of ids that is one of our
// messages.
func (s *Store) Deliveries(ids []string) (map[string]Delivery, error) {
	if err := s.flushOutbox(); err != nil {
		return nil, err
	}
	out := map[string]Delivery{}
	err := s.view(func(tx *Tx) error {
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
	err := s.update(func(tx *Tx) error {
		if err := s.outboxWrite(tx, ""); err != nil {
			return err
		}
		b := tx.Bucket(bOutbox)
		var keys [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			keys = append(keys, bytes.Clone(k))
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			o, d, err := readOutgoing(tx, k)
			if err != nil {
				return err
			}
			if o.Room != room || !contains(o.To, peer) || o.Acked[peer] || o.Dropped[peer] {
				continue
			}
			if o.Dropped == nil {
				o.Dropped = map[string]bool{}
			}
			o.Dropped[peer] = true
			if err := putOutgoing(tx, k, o); err != nil {
				return err
			}
			if d != nil {
				d.note("", true)
				if err := putJSON(tx.Bucket(bDelivery), k, *d); err != nil {
					return err
				}
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	return ids, err
}

func (s *Store) outboxChange(id, ackedBy string, f func(*Outgoing) bool) (bool, Outgoing, error) {
	if s.oc != nil {
		return s.outboxChangeCached(id, ackedBy, f)
	}
	var o Outgoing
	changed := false
	err := s.update(func(tx *Tx) error {
		if err := s.outboxWrite(tx, id); err != nil {
			return err
		}
		v, d, err := readOutgoing(tx, []byte(id))
		if err != nil {
			return err
		}
		o = v
		if changed = f(&o); !changed {
			return nil
		}
		if d != nil {
			d.note(ackedBy, false)
		}
		return keepMarks(tx, []byte(id), o, d)
	})
	return changed, o, err
}

// readOutgoing reads the outbox entry key with what its delivery record
// says (nil: none kept): the record holds the acknowledgements of a text
// or a file (keepMarks), the entry those of other kinds and the dropped.
func readOutgoing(tx *Tx, key []byte) (Outgoing, *Delivery, error) {
	var o Outgoing
	if err := getJSON(tx.Bucket(bOutbox), key, &o); err != nil {
		return o, nil, err
	}
	d, err := getDelivery(tx, o)
	if err != nil || d == nil {
		return o, d, err
	}
	for _, peer := range d.Acked {
		if contains(o.To, peer) {
			if o.Acked == nil {
				o.Acked = map[string]bool{}
			}
			o.Acked[peer] = true
		}
	}
	return o, d, nil
}

// keepMarks stores an acknowledgement of o (d: its delivery record, nil
// when it has none). A message with a record keeps its acknowledgements
// there alone: its entry (recipients, numbers, text: 2 KB of JSON in a
// room of 20) is written when sent and deleted when done, not rewritten
// for each batch of acknowledgements.
func keepMarks(tx *Tx, key []byte, o Outgoing, d *Delivery) error {
	if d == nil {
		return putOutgoing(tx, key, o)
	}
	if err := putJSON(tx.Bucket(bDelivery), key, *d); err != nil {
		return err
	}
	if len(o.Pending()) == 0 {
		return putOutgoing(tx, key, o) // deletes it
	}
	return nil
}

// outboxCache keeps the outbox entries and delivery records that
// acknowledgements change, decoded, from batch to batch: in a burst every
// member's acknowledgement of a message lands in a few batches, and each
// decoded the message's whole entry again (a fifth of a node's CPU while
// 20 nodes chat, before there was a cache; then still a twentieth with
// one per batch). What a batch changes is written once at its end
// (sync); a batch that fails empties the cache, and so does code
// that writes the buckets itself (outboxWrite). One cache is shared by a
// store and its batches; mu guards it.
type outboxCache struct {
	mu    sync.Mutex
	out   map[string]*Outgoing // acknowledgements merged (readOutgoing); nil: not in the outbox
	del   map[string]*Delivery // nil: no delivery record kept
	dirty map[string]bool
}

// maxCached bounds the entries the cache keeps between batches.
const maxCached = 4096

func newOutboxCache() *outboxCache {
	return &outboxCache{out: map[string]*Outgoing{}, del: map[string]*Delivery{}, dirty: map[string]bool{}}
}

// reset forgets everything (c.mu held).
func (c *outboxCache) reset() {
	clear(c.out)
	clear(c.del)
	clear(c.dirty)
}

// outboxChangeCached is outboxChange inside a batch, through the cache.
func (s *Store) outboxChangeCached(id, ackedBy string, f func(*Outgoing) bool) (bool, Outgoing, error) {
	var out Outgoing
	changed := false
	err := s.update(func(tx *Tx) error {
		c := s.oc
		c.mu.Lock()
		defer c.mu.Unlock()
		o, ok := c.out[id]
		if !ok {
			v, d, err := readOutgoing(tx, []byte(id))
			switch {
			case errors.Is(err, ErrNotFound):
				c.out[id] = nil
			case err != nil:
				return err
			default:
				o, c.out[id], c.del[id] = &v, &v, d
			}
		}
		if o == nil || len(o.Pending()) == 0 { // deleted, or to be at the end
			return ErrNotFound
		}
		changed = f(o)
		out = o.clone()
		if !changed {
			return nil
		}
		c.dirty[id] = true
		if d := c.del[id]; d != nil {
			d.note(ackedBy, false)
		}
		return nil
	})
	return changed, out, err
}

// sync writes what the batch's cache changed (c.mu held).
func (c *outboxCache) sync(tx *Tx) error {
	for id := range c.dirty {
		o := c.out[id]
		if o == nil {
			continue
		}
		if err := keepMarks(tx, []byte(id), *o, c.del[id]); err != nil {
			return err
		}
		if len(o.Pending()) == 0 {
			delete(c.out, id)
			delete(c.del, id)
		}
	}
	clear(c.dirty)
	return nil
}

// outboxWrite readies the outbox for code that writes it without the
// cache: inside a batch, what the cache changed is written first; then
// the cache forgets id ("": everything).
func (s *Store) outboxWrite(tx *Tx, id string) error {
	c := s.cache
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.oc != nil {
		if err := c.sync(tx); err != nil {
			return err
		}
	}
	if id == "" {
		c.reset()
	} else {
		delete(c.out, id)
		delete(c.del, id)
	}
	return nil
}

// flushOutbox writes the batch's cached changes before a read of the
// buckets (a failure fails the batch).
func (s *Store) flushOutbox() error {
	c := s.oc
	if c == nil {
		return nil
	}
	c.mu.Lock()
	dirty := len(c.dirty) > 0
	c.mu.Unlock()
	if !dirty {
		return nil
	}
	return s.update(func(tx *Tx) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sync(tx)
	})
}

// endBatch ends the batch for the cache: kept when the commit succeeded
// (within maxCached), else forgotten (it holds what was not stored).
func (c *outboxCache) endBatch(committed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !committed || len(c.out) > maxCached {
		c.reset()
	}
}

// clone copies o deep enough that later receipts do not change the copy.
func (o *Outgoing) clone() Outgoing {
	c := *o
	c.Acked, c.Dropped = maps.Clone(o.Acked), maps.Clone(o.Dropped)
	return c
}

// putOutgoing stores o, or deletes it once nobody is pending (the history
// keeps the message).
func putOutgoing(tx *Tx, key []byte, o Outgoing) error {
	if len(o.Pending()) == 0 {
		if err := tx.Bucket(bSealed).Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bOutbox).Delete(key)
	}
	if o.Sealed != nil && tx.Bucket(bSealed).Get(key) == nil {
		if err := tx.Bucket(bSealed).Put(key, o.Sealed); err != nil {
			return err
		}
	}
	return putJSON(tx.Bucket(bOutbox), key, o)
}

// Outbox lists the messages some recipient has not acknowledged, oldest
// first.
func (s *Store) Outbox() ([]Outgoing, error) {
	if err := s.flushOutbox(); err != nil {
		return nil, err
	}
	var out []Outgoing
	err := s.view(func(tx *Tx) error {
		return tx.Bucket(bOutbox).ForEach(func(k, _ []byte) error {
			o, _, err := readOutgoing(tx, k)
			if err != nil {
				return err
			}
			if v := tx.Bucket(bSealed).Get(k); v != nil {
				o.Sealed = bytes.Clone(v)
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
