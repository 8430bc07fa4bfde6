package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"time"
)

// Delivery through members (version 7). Every message an author sends in
// a room is numbered per recipient (1, 2, 3, ...: seqs); recipients
// acknowledge cumulatively what they hold (acked; the records of others,
// peeracks), and members keep others' signed messages (held) to hand on
// to recipients the author never met. The engine encodes the records; the
// store keeps their bytes.
var (
	bSeqs     = []byte("seqs")     // room -> { peer id [32 hex as 64 bytes] | u64 }*: the last seq we gave each peer in room
	bSealed   = []byte("sealed")   // message id -> our signed envelope, while the outbox keeps the message
	bAcked    = []byte("acked")    // room \x00 author id -> what we hold of author's messages (an encoded entry)
	bPeerAcks = []byte("peeracks") // room \x00 member id -> that member's latest signed record for room
	bHeld     = []byte("held")     // sub-bucket per room: author \x00 sent_at u64 \x00 message id -> held_at u64 | envelope
)

// LastSeqs returns, per peer, the last sequence number we gave a message
// of ours to it in room.
func (s *Store) LastSeqs(room string) (map[string]uint64, error) {
	var out map[string]uint64
	err := s.view(func(tx *Tx) error {
		var err error
		out, err = decodeSeqs(tx.Bucket(bSeqs).Get([]byte(room)))
		return err
	})
	return out, err
}

// decodeSeqs reads a room's record of sequence numbers: one entry per
// peer (its id's 64 hex digits, then a u64).
func decodeSeqs(v []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	const entry = 64 + 8
	if len(v)%entry != 0 {
		return nil, fmt.Errorf("%w: a sequence record of %d bytes", ErrCorrupt, len(v))
	}
	for ; len(v) > 0; v = v[entry:] {
		out[string(v[:64])] = binary.BigEndian.Uint64(v[64:entry])
	}
	return out, nil
}

// numbered writes, with an outgoing message, the sequence numbers it
// used: one record per room (a message costs one write, not one per
// recipient).
func numbered(tx *Tx, o Outgoing) error {
	if len(o.Seqs) == 0 {
		return nil
	}
	b := tx.Bucket(bSeqs)
	seqs, err := decodeSeqs(b.Get([]byte(o.Room)))
	if err != nil {
		return err
	}
	changed := false
	for peer, seq := range o.Seqs {
		if len(peer) == 64 && seq > seqs[peer] {
			seqs[peer], changed = seq, true
		}
	}
	if !changed {
		return nil
	}
	peers := make([]string, 0, len(seqs))
	for p := range seqs {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	v := make([]byte, 0, len(peers)*(64+8))
	for _, p := range peers {
		v = binary.BigEndian.AppendUint64(append(v, p...), seqs[p])
	}
	return b.Put([]byte(o.Room), v)
}

// AckEntries returns what we hold of each author's messages in room, as
// PutAckEntry stored it.
func (s *Store) AckEntries(room string) (map[string][]byte, error) {
	out, err := s.records(bAcked, room)
	delete(out, versionKey)
	return out, err
}

// versionKey keeps, beside the entries, the version of our last record.
const versionKey = "\xffversion"

// AckVersion returns the version of our last acknowledgement record for
// room (0: none yet).
func (s *Store) AckVersion(room string) (uint64, error) {
	var v uint64
	err := s.view(func(tx *Tx) error {
		if b := tx.Bucket(bAcked).Get([]byte(room + "\x00" + versionKey)); len(b) == 8 {
			v = binary.BigEndian.Uint64(b)
		}
		return nil
	})
	return v, err
}

// PutAckVersion keeps the version of our last record for room: the next
// one, even after a restart or with a clock set back, is newer.
func (s *Store) PutAckVersion(room string, v uint64) error {
	return s.update(func(tx *Tx) error {
		return tx.Bucket(bAcked).Put([]byte(room+"\x00"+versionKey), binary.BigEndian.AppendUint64(nil, v))
	})
}

// PutAckEntry keeps what we hold of author's messages in room.
func (s *Store) PutAckEntry(room, author string, entry []byte) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bAcked).Put([]byte(room+"\x00"+author), entry) })
}

// PeerAcks returns the latest acknowledgement record of each member of
// room, as PutPeerAcks stored it.
func (s *Store) PeerAcks(room string) (map[string][]byte, error) {
	return s.records(bPeerAcks, room)
}

// PutPeerAcks keeps member's latest acknowledgement record for room.
func (s *Store) PutPeerAcks(room, member string, record []byte) error {
	return s.update(func(tx *Tx) error { return tx.Bucket(bPeerAcks).Put([]byte(room+"\x00"+member), record) })
}

func (s *Store) records(bucket []byte, room string) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out[string(k[len(prefix):])] = bytes.Clone(v)
		}
		return nil
	})
	return out, err
}

// HeldMessage is another member's message we keep to hand on to its
// recipients who have not acknowledged it.
type HeldMessage struct {
	Room     string
	Author   string // the author's id
	ID       string // the message id
	SentAt   time.Time
	HeldAt   time.Time
	Envelope []byte // the author's signed envelope, as it was sent
}

// HoldLimits bound what one room's held messages take, per author and in
// all; past them the oldest go first (an author's own oldest when that
// author is over its share, else the oldest of the author holding most).
type HoldLimits struct {
	PerAuthor      int
	PerAuthorBytes int64
	PerRoom        int
	PerRoomBytes   int64
}

func heldKey(author string, sentAt time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64([]byte(author+"\x00"), uint64(sentAt.UnixNano()))
	return append(append(k, 0), id...)
}

// totals are kept under a key no author id starts with.
const totalsPrefix = "\xff"

type heldTotals struct{ n, bytes int64 }

func getTotals(b *Bucket, key string) heldTotals {
	v := b.Get([]byte(totalsPrefix + key))
	if len(v) != 16 {
		return heldTotals{}
	}
	return heldTotals{int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))}
}

func putTotals(b *Bucket, key string, t heldTotals) error {
	if t.n <= 0 {
		return b.Delete([]byte(totalsPrefix + key))
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(t.n))
	return b.Put([]byte(totalsPrefix+key), binary.BigEndian.AppendUint64(v, uint64(t.bytes)))
}

// Hold keeps m to hand on (once: it reports whether it was new), within
// lim.
func (s *Store) Hold(m HeldMessage, lim HoldLimits) (bool, error) {
	added := false
	err := s.update(func(tx *Tx) error {
		b, err := tx.Bucket(bHeld).CreateBucketIfNotExists([]byte(m.Room))
		if err != nil {
			return err
		}
		k := heldKey(m.Author, m.SentAt, m.ID)
		if b.Get(k) != nil {
			return nil
		}
		v := binary.BigEndian.AppendUint64(nil, uint64(m.HeldAt.UnixNano()))
		if err := b.Put(k, append(v, m.Envelope...)); err != nil {
			return err
		}
		added = true
		size := int64(len(m.Envelope))
		if err := addTotals(b, m.Author, 1, size); err != nil {
			return err
		}
		return enforce(b, m.Author, lim)
	})
	return added, err
}

func addTotals(b *Bucket, author string, n, size int64) error {
	a, r := getTotals(b, author), getTotals(b, "")
	a.n, a.bytes, r.n, r.bytes = a.n+n, a.bytes+size, r.n+n, r.bytes+size
	if err := putTotals(b, author, a); err != nil {
		return err
	}
	return putTotals(b, "", r)
}

// enforce drops the oldest held messages until author and the room are
// within lim.
func enforce(b *Bucket, author string, lim HoldLimits) error {
	for {
		a := getTotals(b, author)
		if a.n <= int64(lim.PerAuthor) && a.bytes <= lim.PerAuthorBytes {
			break
		}
		if err := dropOldest(b, author); err != nil {
			return err
		}
	}
	for {
		r := getTotals(b, "")
		if r.n <= int64(lim.PerRoom) && r.bytes <= lim.PerRoomBytes {
			return nil
		}
		biggest, most := "", int64(-1)
		c := b.Cursor()
		for k, v := c.Seek([]byte(totalsPrefix)); k != nil && bytes.HasPrefix(k, []byte(totalsPrefix)); k, v = c.Next() {
			if len(k) > 1 && len(v) == 16 {
				if n := int64(binary.BigEndian.Uint64(v[8:])); n > most {
					biggest, most = string(k[1:]), n
				}
			}
		}
		if biggest == "" {
			return nil
		}
		if err := dropOldest(b, biggest); err != nil {
			return err
		}
	}
}

func dropOldest(b *Bucket, author string) error {
	prefix := []byte(author + "\x00")
	k, v := b.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return putTotals(b, author, heldTotals{}) // counted what is not there: start again
	}
	if err := b.Delete(bytes.Clone(k)); err != nil {
		return err
	}
	return addTotals(b, author, -1, -int64(len(v)-8))
}

// HeldIn returns room's held messages, by author and then as each author
// sent them.
func (s *Store) HeldIn(room string) ([]HeldMessage, error) {
	var out []HeldMessage
	err := s.view(func(tx *Tx) error {
		b := tx.Bucket(bHeld).Bucket([]byte(room))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil && !bytes.HasPrefix(k, []byte(totalsPrefix)); k, v = c.Next() {
			m, err := parseHeld(room, k, v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

func parseHeld(room string, k, v []byte) (HeldMessage, error) {
	author, rest, ok := bytes.Cut(k, []byte{0})
	if !ok || len(rest) < 9 || rest[8] != 0 || len(v) < 8 {
		return HeldMessage{}, fmt.Errorf("%w: held message %q", ErrCorrupt, k)
	}
	return HeldMessage{Room: room, Author: string(author), ID: string(rest[9:]),
		SentAt:   time.Unix(0, int64(binary.BigEndian.Uint64(rest))).UTC(),
		HeldAt:   time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(),
		Envelope: bytes.Clone(v[8:])}, nil
}

// Unhold forgets held messages of room (every recipient has them, or
// they are too old).
func (s *Store) Unhold(room string, ms []HeldMessage) error {
	if len(ms) == 0 {
		return nil
	}
	return s.update(func(tx *Tx) error {
		b := tx.Bucket(bHeld).Bucket([]byte(room))
		if b == nil {
			return nil
		}
		for _, m := range ms {
			k := heldKey(m.Author, m.SentAt, m.ID)
			v := b.Get(k)
			if v == nil {
				continue
			}
			size := int64(len(v) - 8)
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := addTotals(b, m.Author, -1, -size); err != nil {
				return err
			}
		}
		return nil
	})
}

// DropHeld forgets every message held for room (we left it, or stopped
// holding for others).
func (s *Store) DropHeld(room string) error {
	return s.update(func(tx *Tx) error {
		if tx.Bucket(bHeld).Bucket([]byte(room)) == nil {
			return nil
		}
		return tx.Bucket(bHeld).DeleteBucket([]byte(room))
	})
}

// HeldRooms lists the rooms we hold messages for.
func (s *Store) HeldRooms() ([]string, error) {
	var rooms []string
	err := s.view(func(tx *Tx) error {
		return tx.Bucket(bHeld).ForEachBucket(func(k []byte) error {
			rooms = append(rooms, string(k))
			return nil
		})
	})
	sort.Strings(rooms)
	return rooms, err
}

// HeldTotals returns how many messages of room are held and their bytes.
func (s *Store) HeldTotals(room string) (int, int64, error) {
	var t heldTotals
	err := s.view(func(tx *Tx) error {
		if b := tx.Bucket(bHeld).Bucket([]byte(room)); b != nil {
			t = getTotals(b, "")
		}
		return nil
	})
	return int(t.n), t.bytes, err
}
