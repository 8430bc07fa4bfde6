// Package store keeps mmls-chat's durable state in one bbolt file in the
// data directory: the identity, rooms, kicks, pinned peer keys, message
// history (deduplicated by message id for the life of the file) and the
// outbox of messages we sent with who has acknowledged each.
//
// MLS group state is not stored: after a restart the engine creates fresh
// send groups and asks owners to re-add it (REJOIN), and re-protects what
// the outbox says was not acknowledged. So no epoch secret is ever on disk.
// The identity seed is, in a file only its owner can read (0600, in a 0700
// folder).
//
// A file that is not a bbolt database, or a bbolt database that is not
// ours, or one written by a newer version, is refused with an error
// wrapping ErrForeign or ErrCorrupt; nothing is reset silently.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data directory.
const FileName = "mmls-chat.db"

const (
	magic   = "mmls-chat store"
	version = 1
)

// Errors callers match with errors.Is.
var (
	ErrForeign  = errors.New("store: not an mmls-chat database")
	ErrCorrupt  = errors.New("store: database is damaged")
	ErrNewer    = errors.New("store: database written by a newer mmls-chat")
	ErrNotFound = errors.New("store: not found")
	ErrLocked   = errors.New("store: database is in use by another mmls-chat")
)

var (
	bMeta     = []byte("meta")
	bIdentity = []byte("identity")
	bRooms    = []byte("rooms")
	bMessages = []byte("messages") // sub-bucket per room: seq -> Message
	bMsgIDs   = []byte("msgids")   // message id -> room name
	bOutbox   = []byte("outbox")   // message id -> Outgoing
	bKicks    = []byte("kicks")    // room \x00 peer id -> time
	bPins     = []byte("pins")     // nick -> peer id
	bMembers  = []byte("members")  // room \x00 peer id -> "" : who is in our send group
	bVerified = []byte("verified") // peer id -> time the user compared safety numbers
	buckets   = [][]byte{bMeta, bIdentity, bRooms, bMessages, bMsgIDs, bOutbox, bKicks, bPins, bMembers, bVerified}
)

// Store is the open database. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the store in dir. The folder is made
// 0700 and the file 0600.
func Open(dir string) (s *Store, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// bbolt panics on some damaged files; a panic here is a damaged file.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		if errors.Is(err, bolt.ErrInvalid) || errors.Is(err, bolt.ErrVersionMismatch) || errors.Is(err, bolt.ErrChecksum) {
			return nil, fmt.Errorf("%w: %s: %v", ErrForeign, path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s = &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init stamps a new file, or checks an existing one is ours.
func (s *Store) init() error {
	return s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			// A bbolt file with other buckets and no meta is someone else's.
			if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				return fmt.Errorf("%w: %s has bucket %q", ErrForeign, s.path, name)
			}); err != nil {
				return err
			}
			for _, b := range buckets {
				if _, err := tx.CreateBucket(b); err != nil {
					return err
				}
			}
			meta = tx.Bucket(bMeta)
			if err := meta.Put([]byte("magic"), []byte(magic)); err != nil {
				return err
			}
			return meta.Put([]byte("version"), binary.BigEndian.AppendUint32(nil, version))
		}
		if string(meta.Get([]byte("magic"))) != magic {
			return fmt.Errorf("%w: %s", ErrForeign, s.path)
		}
		v := meta.Get([]byte("version"))
		if len(v) != 4 {
			return fmt.Errorf("%w: %s: bad version record", ErrCorrupt, s.path)
		}
		if binary.BigEndian.Uint32(v) > version {
			return fmt.Errorf("%w: %s: version %d", ErrNewer, s.path, binary.BigEndian.Uint32(v))
		}
		for _, b := range buckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: %s: bucket %q missing", ErrCorrupt, s.path, b)
			}
		}
		return nil
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) update(f func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return s.db.Update(f)
}

func (s *Store) view(f func(*bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return s.db.View(f)
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: record %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, raw)
}

// ---- identity ----

// Identity is the stored identity: the key seed and the nick.
type Identity struct {
	Seed []byte `json:"seed"`
	Nick string `json:"nick"`
}

// Identity returns the stored identity, or ErrNotFound.
func (s *Store) Identity() (Identity, error) {
	var id Identity
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bIdentity), []byte("self"), &id) })
	if err == nil && len(id.Seed) != 32 {
		return Identity{}, fmt.Errorf("%w: identity seed of %d bytes", ErrCorrupt, len(id.Seed))
	}
	return id, err
}

// SetIdentity stores the identity (a first start, or a nick change).
func (s *Store) SetIdentity(id Identity) error {
	return s.update(func(tx *bolt.Tx) error { return putJSON(tx.Bucket(bIdentity), []byte("self"), id) })
}

// ---- rooms ----

// Room is a room we joined.
type Room struct {
	Name     string    `json:"name"`
	JoinedAt time.Time `json:"joined_at"`
}

// JoinRoom records that we are in room.
func (s *Store) JoinRoom(name string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRooms)
		if b.Get([]byte(name)) != nil {
			return nil
		}
		return putJSON(b, []byte(name), Room{Name: name, JoinedAt: at.UTC()})
	})
}

// LeaveRoom forgets that we are in room (its history stays).
func (s *Store) LeaveRoom(name string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bRooms).Delete([]byte(name)) })
}

// Rooms lists the rooms we are in, by name.
func (s *Store) Rooms() ([]Room, error) {
	var out []Room
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bRooms).ForEach(func(k, _ []byte) error {
			var r Room
			if err := getJSON(tx.Bucket(bRooms), k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// ---- messages ----

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
}

// AddMessage appends m to its room's history unless a message with its id
// is already stored (in any room). It reports whether m was new.
func (s *Store) AddMessage(m Message) (bool, error) {
	if m.ID == "" || m.Room == "" {
		return false, fmt.Errorf("store: message without id or room")
	}
	added := false
	err := s.update(func(tx *bolt.Tx) error {
		ids := tx.Bucket(bMsgIDs)
		if ids.Get([]byte(m.ID)) != nil {
			return nil
		}
		room, err := tx.Bucket(bMessages).CreateBucketIfNotExists([]byte(m.Room))
		if err != nil {
			return err
		}
		seq, err := room.NextSequence()
		if err != nil {
			return err
		}
		if err := putJSON(room, binary.BigEndian.AppendUint64(nil, seq), m); err != nil {
			return err
		}
		added = true
		return ids.Put([]byte(m.ID), []byte(m.Room))
	})
	return added, err
}

// HasMessage reports whether a message id is stored.
func (s *Store) HasMessage(id string) (bool, error) {
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bMsgIDs).Get([]byte(id)) != nil
		return nil
	})
	return found, err
}

// History returns the last limit messages of room, oldest first (all of
// them when limit <= 0).
func (s *Store) History(room string, limit int) ([]Message, error) {
	var out []Message
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bMessages).Bucket([]byte(room))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			var m Message
			if err := getJSON(b, k, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// ---- outbox ----

// Outgoing is a message we sent and the recipients that have not yet
// acknowledged it.
type Outgoing struct {
	ID      string          `json:"id"`
	Room    string          `json:"room"`
	Kind    string          `json:"kind,omitempty"` // "" for text, "invite" (Text is the room)
	Text    string          `json:"text"`
	SentAt  time.Time       `json:"sent_at"`
	To      []string        `json:"to"`
	Acked   map[string]bool `json:"acked,omitempty"`
	Dropped map[string]bool `json:"dropped,omitempty"` // removed since: delivery cancelled
}

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
		ids := tx.Bucket(bMsgIDs)
		if o.Kind != "" || ids.Get([]byte(o.ID)) != nil {
			return nil // only text goes into the history
		}
		room, err := tx.Bucket(bMessages).CreateBucketIfNotExists([]byte(o.Room))
		if err != nil {
			return err
		}
		seq, err := room.NextSequence()
		if err != nil {
			return err
		}
		m := Message{ID: o.ID, Room: o.Room, FromID: fromID, FromNick: fromNick, Text: o.Text,
			SentAt: o.SentAt, ReceivedAt: o.SentAt, Mine: true}
		if err := putJSON(room, binary.BigEndian.AppendUint64(nil, seq), m); err != nil {
			return err
		}
		return ids.Put([]byte(o.ID), []byte(o.Room))
	})
}

// Acknowledge records that peer has stored message id. It reports whether
// this was news, and the message's state after it.
func (s *Store) Acknowledge(id, peer string) (bool, Outgoing, error) {
	return s.outboxChange(id, func(o *Outgoing) bool {
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
// (it was removed from our send group).
func (s *Store) DropRecipient(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error {
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
		}
		return nil
	})
}

func (s *Store) outboxChange(id string, f func(*Outgoing) bool) (bool, Outgoing, error) {
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
		return putOutgoing(b, []byte(id), o)
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

// ---- kicks ----

func kickKey(room, peer string) []byte { return []byte(room + "\x00" + peer) }

// Kick records that peer is kicked from room (by us, or by propagation).
func (s *Store) Kick(room, peer string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bKicks).Put(kickKey(room, peer), []byte(at.UTC().Format(time.RFC3339Nano)))
	})
}

// Unkick lifts a kick (an explicit re-invitation).
func (s *Store) Unkick(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bKicks).Delete(kickKey(room, peer)) })
}

// Kicked lists the peers kicked from room.
func (s *Store) Kicked(room string) ([]string, error) { return s.prefixed(bKicks, room) }

// ---- members ----

// AddMember records that peer is in our send group for room, so messages
// written after a restart are still addressed to it before it rejoins.
func (s *Store) AddMember(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMembers).Put(kickKey(room, peer), nil) })
}

// RemoveMember records that peer left our send group for room.
func (s *Store) RemoveMember(room, peer string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bMembers).Delete(kickKey(room, peer)) })
}

// Members lists the peers in our send group for room.
func (s *Store) Members(room string) ([]string, error) { return s.prefixed(bMembers, room) }

// ClearMembers forgets room's members (we left it).
func (s *Store) ClearMembers(room string) error {
	members, err := s.Members(room)
	if err != nil {
		return err
	}
	return s.update(func(tx *bolt.Tx) error {
		for _, m := range members {
			if err := tx.Bucket(bMembers).Delete(kickKey(room, m)); err != nil {
				return err
			}
		}
		return nil
	})
}

// prefixed lists the peer ids stored under room in a room\x00peer bucket.
func (s *Store) prefixed(bucket []byte, room string) ([]string, error) {
	var out []string
	prefix := []byte(room + "\x00")
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, string(k[len(prefix):]))
		}
		return nil
	})
	return out, err
}

// ---- verification ----

// SetVerified records that the user compared safety numbers with peer.
func (s *Store) SetVerified(peer string, at time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bVerified).Put([]byte(peer), []byte(at.UTC().Format(time.RFC3339)))
	})
}

// Verified reports whether the user verified peer.
func (s *Store) Verified(peer string) (bool, error) {
	found := false
	err := s.view(func(tx *bolt.Tx) error {
		found = tx.Bucket(bVerified).Get([]byte(peer)) != nil
		return nil
	})
	return found, err
}

// ---- pins ----

// Pin records that nick belongs to peer id. When nick is already pinned
// to another id it changes nothing and returns that id (the caller raises
// a key-changed alert); otherwise it returns "".
func (s *Store) Pin(nick, id string) (string, error) {
	var previous string
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bPins)
		if old := b.Get([]byte(nick)); old != nil {
			if string(old) != id {
				previous = string(old)
			}
			return nil
		}
		return b.Put([]byte(nick), []byte(id))
	})
	return previous, err
}

// Repin accepts a new key for nick (after the user verified it).
func (s *Store) Repin(nick, id string) error {
	return s.update(func(tx *bolt.Tx) error { return tx.Bucket(bPins).Put([]byte(nick), []byte(id)) })
}
