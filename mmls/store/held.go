package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Delivery through members (version 7). Every message an author sends in
// a room is numbered per recipient (1, 2, 3, ...: seqs); recipients
// acknowledge cumulatively what they hold (acked; the records of others,
// peeracks), and members keep others' signed messages (held) to hand on
// to recipients the author never met. The engine encodes the records; the
// store keeps their bytes.
var (
	bSeqs     = []byte("seqs")     // room \x00 peer id -> u64: the last seq we gave peer in room
	bOutSeq   = []byte("outseq")   // room \x00 peer id \x00 seq u64 -> message id: our messages peer has not acknowledged
	bAcked    = []byte("acked")    // room \x00 author id -> what we hold of author's messages (an encoded entry)
	bPeerAcks = []byte("peeracks") // room \x00 member id -> that member's latest signed record for room
	bHeld     = []byte("held")     // sub-bucket per room: author \x00 sent_at u64 \x00 message id -> held_at u64 | envelope
)

func seqKey(room, peer string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(room+"\x00"+peer+"\x00"), seq)
}

// LastSeqs returns, per peer, the last sequence number we gave a message
// of ours to it in room.
func (s *Store) LastSeqs(room string) (map[string]uint64, error) {
	out := map[string]uint64{}
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bSeqs).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(v) != 8 {
				return fmt.Errorf("%w: sequence record %q", ErrCorrupt, k)
			}
			out[string(k[len(prefix):])] = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return out, err
}

// numbered writes, with an outgoing message, the sequence numbers it
// used and an index of them to find it by when acknowledged.
func numbered(tx *bolt.Tx, o Outgoing) error {
	for peer, seq := range o.Seqs {
		if seq == 0 {
			continue
		}
		k := []byte(o.Room + "\x00" + peer)
		if old := tx.Bucket(bSeqs).Get(k); len(old) != 8 || binary.BigEndian.Uint64(old) < seq {
			if err := tx.Bucket(bSeqs).Put(k, binary.BigEndian.AppendUint64(nil, seq)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bOutSeq).Put(seqKey(o.Room, peer, seq), []byte(o.ID)); err != nil {
			return err
		}
	}
	return nil
}

// AckSeqs records that peer holds our messages of room whose sequence
// numbers (to it) are up to upto and held says it holds, and returns the
// ids of those that were news.
func (s *Store) AckSeqs(room, peer string, upto uint64, held func(seq uint64) bool) ([]string, error) {
	type hit struct {
		key []byte
		id  string
	}
	var hits []hit
	prefix := []byte(room + "\x00" + peer + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bOutSeq).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("%w: sequence index %q", ErrCorrupt, k)
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq > upto {
				break
			}
			if held(seq) {
				hits = append(hits, hit{bytes.Clone(k), string(v)})
			}
		}
		return nil
	})
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	var news []string
	for _, h := range hits {
		changed, _, err := s.Acknowledge(h.id, peer)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return news, err
		case changed:
			news = append(news, h.id)
		}
		if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bOutSeq).Delete(h.key) }); err != nil {
			return news, err
		}
	}
	return news, nil
}

// dropSeqs forgets the index of peer's pending messages of room.
func dropSeqs(tx *bolt.Tx, room, peer string) error {
	prefix := []byte(room + "\x00" + peer + "\x00")
	c := tx.Bucket(bOutSeq).Cursor()
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := tx.Bucket(bOutSeq).Delete(k); err != nil {
			return err
		}
	}
	return nil
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
	err := s.view(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bAcked).Put([]byte(room+"\x00"+versionKey), binary.BigEndian.AppendUint64(nil, v))
	})
}

// PutAckEntry keeps what we hold of author's messages in room.
func (s *Store) PutAckEntry(room, author string, entry []byte) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bAcked).Put([]byte(room+"\x00"+author), entry) })
}

// PeerAcks returns the latest acknowledgement record of each member of
// room, as PutPeerAcks stored it.
func (s *Store) PeerAcks(room string) (map[string][]byte, error) {
	return s.records(bPeerAcks, room)
}

// PutPeerAcks keeps member's latest acknowledgement record for room.
func (s *Store) PutPeerAcks(room, member string, record []byte) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bPeerAcks).Put([]byte(room+"\x00"+member), record) })
}

func (s *Store) records(bucket []byte, room string) (map[string][]byte, error) {
	out := map[string][]byte{}
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
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

func getTotals(b *bolt.Bucket, key string) heldTotals {
	v := b.Get([]byte(totalsPrefix + key))
	if len(v) != 16 {
		return heldTotals{}
	}
	return heldTotals{int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:]))}
}

func putTotals(b *bolt.Bucket, key string, t heldTotals) error {
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
	err := s.update(func(tx *bolt.Tx) error {
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

func addTotals(b *bolt.Bucket, author string, n, size int64) error {
	a, r := getTotals(b, author), getTotals(b, "")
	a.n, a.bytes, r.n, r.bytes = a.n+n, a.bytes+size, r.n+n, r.bytes+size
	if err := putTotals(b, author, a); err != nil {
		return err
	}
	return putTotals(b, "", r)
}

// enforce drops the oldest held messages until author and the room are
// within lim.
func enforce(b *bolt.Bucket, author string, lim HoldLimits) error {
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

func dropOldest(b *bolt.Bucket, author string) error {
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
	err := s.view(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
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
	return s.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bHeld).Bucket([]byte(room)) == nil {
			return nil
		}
		return tx.Bucket(bHeld).DeleteBucket([]byte(room))
	})
}

// HeldRooms lists the rooms we hold messages for.
func (s *Store) HeldRooms() ([]string, error) {
	var rooms []string
	err := s.view(func(tx *bolt.Tx) error {
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
	err := s.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bHeld).Bucket([]byte(room)); b != nil {
			t = getTotals(b, "")
		}
		return nil
	})
	return int(t.n), t.bytes, err
}
