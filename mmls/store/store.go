// Package store keeps mmls-chat's durable state in one bbolt file in the
// data directory: the identity, rooms, kicks, pinned peer keys, message
// history (deduplicated by room, sender and message id for the life of the
// file) and the outbox of messages we sent with who has acknowledged each.
//
// MLS group state is not stored: after a restart the engine creates fresh
// send groups and asks owners to re-add it (REJOIN), and re-protects what
// the outbox says was not acknowledged. So no epoch secret is ever on disk.
// What other members need of others' messages travels as the authors'
// signed envelopes (held.go), handed on by whoever holds them.
// The file is only its owner's (0600, in a 0700 folder). A store opened
// with OpenSealed is encrypted at rest: every value sealed, every key
// that would say something hashed under a key only the passphrase
// unlocks (seal.go, lock.go); Open opens a plain one.
//
// A file that is not a bbolt database, or a bbolt database that is not
// ours, or one written by a newer version, is refused with an error
// wrapping ErrForeign or ErrCorrupt; nothing is reset silently.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// FileName is the database file inside the data directory.
const FileName = "mmls-chat.db"

const (
	magic   = "mmls-chat store"
	version = 9 // 2: private rooms (vouches, invites); 3: messages keyed by sender, room and id; 4: alerts; 5: delivery, known peers, settings; 6: files; 7: delivery through members (seqs, acknowledgements, held messages); 8: invitations keyed by inviter, ignored peers, quotas; 9: rooms' identities
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
	bMsgKeys  = []byte("msgkeys")  // room \x00 sender id \x00 message id -> "" (version 3)
	bOutbox   = []byte("outbox")   // message id -> Outgoing
	bKicks    = []byte("kicks")    // room \x00 peer id -> time
	bPins     = []byte("pins")     // nick -> peer id
	bMembers  = []byte("members")  // room \x00 peer id -> "" : who is in our send group
	bVerified = []byte("verified") // peer id -> time the user compared safety numbers
	bVouches  = []byte("vouches")  // room \x00 peer id -> "": peers we vouch for in a private room (version 2)
	bInvites  = []byte("invites")  // room name -> Invite: invitations not yet accepted (version 2)
	bAlerts   = []byte("alerts")   // seq -> Alert, with its evidence (version 4)
	bDelivery = []byte("delivery") // message id -> Delivery of one of our messages (version 5)
	bKnown    = []byte("known")    // peer id -> KnownPeer: nick and address last seen (version 5)
	bSettings = []byte("settings") // name -> value: what the user set (version 5)
	bNotes    = []byte("notes")    // sub-bucket per room: seq -> Note (version 5)
	bFiles    = []byte("files")    // file id -> File: offered, sent, fetched, saved (version 6)
	bManifest = []byte("manifest") // file id -> the SHA-256s of its sealed chunks (version 6)
	buckets   = [][]byte{bMeta, bIdentity, bRooms, bMessages, bMsgKeys, bOutbox, bKicks, bPins, bMembers, bVerified, bVouches, bInvites, bAlerts, bDelivery, bKnown, bSettings, bNotes, bFiles, bManifest,
		bSeqs, bSealed, bAcked, bPeerAcks, bHeld, bIgnored, bQuota, bRoomIDs}
	// upgrades bring a store of the version before each up to it.
	upgrades = map[uint32]func(*Tx) error{
		2: func(tx *Tx) error { return createBuckets(tx, bVouches, bInvites) },
		3: keyMessagesBySender,
		4: func(tx *Tx) error { return createBuckets(tx, bAlerts) },
		5: func(tx *Tx) error { return createBuckets(tx, bDelivery, bKnown, bSettings, bNotes) },
		6: func(tx *Tx) error { return createBuckets(tx, bFiles, bManifest) },
		7: func(tx *Tx) error { return createBuckets(tx, bSeqs, bSealed, bAcked, bPeerAcks, bHeld) },
		8: func(tx *Tx) error {
			if err := createBuckets(tx, bIgnored, bQuota); err != nil {
				return err
			}
			return keyInvitesByInviter(tx)
		},
		9: nameRooms,
	}
)

func createBuckets(tx *Tx, names ...[]byte) error {
	for _, b := range names {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// keyMessagesBySender re-keys the history's dedupe index: a message id
// counts per sender and room (version 3), not across the store.
func keyMessagesBySender(tx *Tx) error {
	if err := createBuckets(tx, bMsgKeys); err != nil {
		return err
	}
	keys := tx.Bucket(bMsgKeys)
	err := tx.Bucket(bMessages).ForEachBucket(func(room []byte) error {
		b := tx.Bucket(bMessages).Bucket(room)
		return b.ForEach(func(k, _ []byte) error {
			var m Message
			if err := getJSON(b, k, &m); err != nil {
				return err
			}
			return keys.Put(messageKey(m), present)
		})
	})
	if err != nil {
		return err
	}
	if tx.Bucket([]byte("msgids")) != nil {
		return tx.DeleteBucket([]byte("msgids"))
	}
	return nil
}

// Store is the open database. Its methods are safe for concurrent use,
// except on a Batch, which belongs to the goroutine that began it.
type Store struct {
	db         *bolt.DB
	path       string
	writeFault *atomic.Pointer[error]
	keys       *sealKeys // nil: a plain store
	lock       *lockState
	// batch is the write transaction of a Batch: every read and write
	// goes through it, and nothing is durable until Commit.
	batch  *Tx
	failed error        // the first failed write of the batch
	oc     *outboxCache // in a batch: the cache, whose changes Commit writes
	cache  *outboxCache // the outbox cache, shared by the store and its batches
	wrote  bool         // the batch has written: Commit has something to make durable
}

// Begin starts a batch: a Store whose reads and writes all go through one
// write transaction, made durable (one fsync) by Commit. A write that fails
// inside it fails the whole batch: Commit then rolls everything back and
// returns that error, so a caller acknowledges nothing of it. Other
// goroutines keep using s; their writes wait for the batch to end.
func (s *Store) Begin() (*Store, error) {
	if s.batch != nil {
		return nil, errors.New("store: a batch inside a batch")
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &Store{db: s.db, path: s.path, writeFault: s.writeFault, keys: s.keys, lock: s.lock,
		batch: &Tx{tx: tx, k: s.keys}, oc: s.cache, cache: s.cache}, nil
}

// Commit ends a batch: everything it wrote is durable when it returns nil.
// A batch that wrote nothing ends without touching the disk (bbolt's
// commit of an empty transaction still writes and fsyncs twice).
func (s *Store) Commit() error {
	if s.batch == nil {
		return errors.New("store: commit outside a batch")
	}
	if err := s.flushOutbox(); err != nil && s.failed == nil {
		s.failed = err
	}
	tx, c := s.batch, s.oc
	s.batch, s.oc = nil, nil
	err := s.commit(tx)
	c.endBatch(err == nil)
	return err
}

func (s *Store) commit(tx *Tx) error {
	if s.failed != nil {
		_ = tx.tx.Rollback()
		return s.failed
	}
	if !s.wrote {
		return tx.tx.Rollback()
	}
	if fault := s.writeFault.Load(); fault != nil {
		_ = tx.tx.Rollback()
		return fmt.Errorf("store: %w", *fault)
	}
	if err := tx.tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// FailWrites makes every write fail with err until FailWrites(nil): fault
// injection for tests of what callers do when the disk refuses a write.
func (s *Store) FailWrites(err error) {
	if err == nil {
		s.writeFault.Store(nil)
		return
	}
	s.writeFault.Store(&err)
}

// Open opens (creating if needed) the plain store in dir; a sealed one
// is refused with ErrSealed (see OpenSealed). The folder is made 0700 and
// the file 0600.
func Open(dir string) (*Store, error) { return openStore(dir, nil) }

func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: data directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("store: data directory: %w", err)
	}
	return nil
}

// openStore opens the store in dir, sealed under pass (nil: plain).
func openStore(dir string, pass []byte) (*Store, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	db, err := openBolt(path, false)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{db: db, path: path, writeFault: new(atomic.Pointer[error]), cache: newOutboxCache()}
	if err := s.unlock(pass); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init stamps a new file, or checks an existing one is ours.
func (s *Store) init() error {
	return s.update(func(tx *Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			// A bbolt file with other buckets and no meta is someone else's.
			if err := tx.tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
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
			if s.lock != nil && s.lock.fresh != nil {
				if err := meta.Put([]byte(metaSeal), s.lock.fresh); err != nil {
					return err
				}
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
		have := binary.BigEndian.Uint32(v)
		if have > version {
			return fmt.Errorf("%w: %s: version %d", ErrNewer, s.path, have)
		}
		for ; have < version; have++ {
			if err := upgrades[have+1](tx); err != nil {
				return fmt.Errorf("store: upgrade to version %d: %w", have+1, err)
			}
			if err := meta.Put([]byte("version"), binary.BigEndian.AppendUint32(nil, have+1)); err != nil {
				return err
			}
		}
		for _, b := range buckets {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("%w: %s: bucket %q missing", ErrCorrupt, s.path, b)
			}
		}
		return nil
	})
}

// SetNoSync turns off syncing to disk at each commit: for simulations
// and benchmarks that run thousands of participants' days and do not
// test durability. Never for a real participant.
func (s *Store) SetNoSync(on bool) { s.db.NoSync = on }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return err
	}
	if s.lock != nil && s.lock.rekey != nil {
		pass := s.lock.rekey
		s.lock.rekey = nil
		return reseal(filepath.Dir(s.path), pass, s.keys)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

func (s *Store) update(f func(*Tx) error) (err error) {
	// A batch reaches the disk at Commit, which is where a refused write
	// shows.
	if fault := s.writeFault.Load(); fault != nil && s.batch == nil {
		return fmt.Errorf("store: %w", *fault)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
			if s.batch != nil && s.failed == nil {
				s.failed = err // it may have written half: roll back it all
			}
		}
	}()
	if s.batch != nil {
		if s.failed != nil {
			return s.failed // the batch will roll back: write nothing more
		}
		if err := f(s.batch); err != nil {
			// ErrNotFound is an answer (a receipt for a message no
			// longer pending, say), found before any write; any other
			// error may have written half: roll back it all.
			if !errors.Is(err, ErrNotFound) {
				s.failed = err
			}
			return err
		}
		s.wrote = true
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error { return f(&Tx{tx: tx, k: s.keys}) })
}

func (s *Store) view(f func(*Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	if s.batch != nil {
		return f(s.batch)
	}
	return s.db.View(func(tx *bolt.Tx) error { return f(&Tx{tx: tx, k: s.keys}) })
}

func getJSON(b *Bucket, key []byte, v any) error {
	raw := b.Get(key)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: record %q: %v", ErrCorrupt, key, err)
	}
	return nil
}

func putJSON(b *Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, raw)
}
