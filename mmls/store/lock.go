package store

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// Encryption at rest. A sealed store's values are sealed under keys
// derived from one random data key (seal.go); the data key is kept in the
// meta bucket wrapped by the user's passphrase: Argon2id (RFC 9106's
// second recommended setting: 3 passes over 64 MiB, 4 lanes) stretches
// the passphrase and a random salt into a key that seals the data key with
// XChaCha20-Poly1305. Nothing else derived from the passphrase is stored.
// Changing the passphrase re-wraps the data key only.

// More errors callers match with errors.Is.
var (
	ErrPassphrase = errors.New("store: wrong passphrase")
	ErrSealed     = errors.New("store: the data is encrypted: a passphrase is needed")
	ErrPlain      = errors.New("store: the data is not encrypted")
)

// State is what a data directory holds, as Inspect finds it.
type State int

const (
	StateNone        State = iota // no store yet
	StatePlain                    // a plain store whose user was never asked for a passphrase
	StatePlainChosen              // a plain store whose user chose no passphrase
	StateSealed                   // a store sealed under a passphrase
)

// KDF is Argon2id's cost.
type KDF struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultKDF is the cost of new wraps (about 0.1 s on a 2-core machine).
var DefaultKDF = KDF{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// kdf is the cost of the wraps this process makes (tests lower it).
var kdf = DefaultKDF

const (
	metaSeal    = "seal"  // the wrapped data key
	metaPlain   = "plain" // "chosen": the user chose no passphrase
	metaRekey   = "rekey" // "due": the passphrase changed; a new data key at the next close or start
	wrapVersion = 1
	dataKeyLen  = 32
	saltLen     = 16
	sealingExt  = ".sealing" // a migration under way
	// A record asking more than four times the default's work is damaged
	// (or written to make a start slow).
	maxMemoryKiB = 256 << 10
	maxTime      = 12
	maxThreads   = 16
)

// lockState is what a sealed store keeps in memory to re-wrap.
type lockState struct {
	dataKey []byte
	fresh   []byte // a new store's wrapped key, written by init
	rekey   []byte // the passphrase a new data key is to be wrapped by at Close
}

type wrapRecord struct {
	kdf                  KDF
	salt, nonce, wrapped []byte
}

// header is the record without the wrapped key: what the wrap binds.
func (w wrapRecord) header() []byte {
	var b cryptobyte.Builder
	b.AddUint8(wrapVersion)
	b.AddUint32(w.kdf.Time)
	b.AddUint32(w.kdf.MemoryKiB)
	b.AddUint8(w.kdf.Threads)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(w.salt) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(w.nonce) })
	return b.BytesOrPanic()
}

func (w wrapRecord) marshal() []byte {
	b := cryptobyte.NewBuilder(w.header())
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(w.wrapped) })
	return b.BytesOrPanic()
}

func parseWrap(raw []byte) (wrapRecord, error) {
	var w wrapRecord
	var salt, nonce, wrapped cryptobyte.String
	s := cryptobyte.String(raw)
	var v uint8
	if !s.ReadUint8(&v) || v != wrapVersion || !s.ReadUint32(&w.kdf.Time) || !s.ReadUint32(&w.kdf.MemoryKiB) ||
		!s.ReadUint8(&w.kdf.Threads) || !s.ReadUint8LengthPrefixed(&salt) || !s.ReadUint8LengthPrefixed(&nonce) ||
		!s.ReadUint16LengthPrefixed(&wrapped) || !s.Empty() {
		return w, fmt.Errorf("%w: the wrapped data key is unreadable", ErrCorrupt)
	}
	if w.kdf.Time < 1 || w.kdf.Time > maxTime || w.kdf.MemoryKiB < 8 || w.kdf.MemoryKiB > maxMemoryKiB || w.kdf.Threads < 1 || w.kdf.Threads > maxThreads ||
		len(salt) != saltLen || len(nonce) != chacha20poly1305.NonceSizeX || len(wrapped) != dataKeyLen+chacha20poly1305.Overhead {
		return w, fmt.Errorf("%w: the wrapped data key has impossible parameters", ErrCorrupt)
	}
	w.salt, w.nonce, w.wrapped = salt, nonce, wrapped
	return w, nil
}

func (w wrapRecord) kek(pass []byte) []byte {
	return argon2.IDKey(pass, w.salt, w.kdf.Time, w.kdf.MemoryKiB, w.kdf.Threads, chacha20poly1305.KeySize)
}

func wrapKey(pass, dataKey []byte, cost KDF) wrapRecord {
	w := wrapRecord{kdf: cost, salt: make([]byte, saltLen), nonce: make([]byte, chacha20poly1305.NonceSizeX)}
	rand.Read(w.salt)
	rand.Read(w.nonce)
	aead, _ := chacha20poly1305.NewX(w.kek(pass))
	w.wrapped = aead.Seal(nil, w.nonce, dataKey, w.header())
	return w
}

func (w wrapRecord) unwrap(pass []byte) ([]byte, error) {
	aead, _ := chacha20poly1305.NewX(w.kek(pass))
	key, err := aead.Open(nil, w.nonce, w.wrapped, w.header())
	if err != nil {
		return nil, ErrPassphrase
	}
	return key, nil
}

// openBolt opens the database file, mapping bbolt's refusals to ours.
func openBolt(path string, readOnly bool) (db *bolt.DB, err error) {
	// bbolt panics on some damaged files; a panic here is a damaged file.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
			return nil, fmt.Errorf("%w: %s: %v", ErrForeign, path, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return db, nil
}

// Inspect says what the data directory dir holds, without changing it.
func Inspect(dir string) (st State, err error) {
	path := filepath.Join(dir, FileName)
	if fi, err := os.Stat(path); errors.Is(err, os.ErrNotExist) || err == nil && fi.Size() == 0 {
		return StateNone, nil
	}
	db, err := openBolt(path, true)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("%w: %s has bucket %q", ErrForeign, path, k)
			}
			st = StateNone
			return nil
		}
		switch {
		case string(meta.Get([]byte("magic"))) != magic:
			return fmt.Errorf("%w: %s", ErrForeign, path)
		case meta.Get([]byte(metaSeal)) != nil:
			st = StateSealed
		case string(meta.Get([]byte(metaPlain))) == "chosen":
			st = StatePlainChosen
		default:
			st = StatePlain
		}
		return nil
	})
	return st, err
}

// OpenSealed opens the store in dir sealed under pass: it creates a new
// sealed store, unlocks a sealed one (ErrPassphrase, and nothing written,
// if pass is not its passphrase), or first seals a plain one. Sealing a
// plain store writes a sealed copy beside it and renames it over the
// plain file only once it is whole, so a crash at any point leaves one of
// the two whole.
func OpenSealed(dir string, pass []byte) (*Store, error) {
	if len(pass) == 0 {
		return nil, errors.New("store: an empty passphrase")
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	st, err := Inspect(dir)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(filepath.Join(dir, FileName+sealingExt)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	if st == StatePlain || st == StatePlainChosen {
		if err := seal(dir, pass); err != nil {
			return nil, err
		}
	}
	s, err := openStore(dir, pass)
	if err != nil {
		return nil, err
	}
	// A change of passphrase whose new data key a crash kept from being
	// made: made now.
	if due, err := s.rekeyDue(); err != nil || !due {
		return s, err
	}
	s.lock.rekey = bytes.Clone(pass)
	if err := s.Close(); err != nil {
		return nil, err
	}
	return openStore(dir, pass)
}

// seal turns the plain store in dir into a sealed one.
func seal(dir string, pass []byte) error {
	plain, err := Open(dir) // brings it up to this version
	if err != nil {
		return err
	}
	plain.Close()
	return reseal(dir, pass, nil)
}

// reseal writes the store in dir (sealed under from, or plain when from
// is nil) again, sealed under a new data key wrapped by pass: a sealed
// copy beside it, renamed over it once durable. The copy is a fresh file:
// no page of it ever held what the old one did.
func reseal(dir string, pass []byte, from *sealKeys) error {
	path := filepath.Join(dir, FileName)
	tmp := path + sealingExt
	src, err := openBolt(path, true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openBolt(tmp, false)
	if err != nil {
		return err
	}
	key := make([]byte, dataKeyLen)
	rand.Read(key)
	keys, err := deriveKeys(key)
	if err != nil {
		dst.Close()
		return err
	}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", ErrCorrupt, r)
			}
		}()
		return src.View(func(stx *bolt.Tx) error {
			return dst.Update(func(dtx *bolt.Tx) error {
				return copyStore(&Tx{tx: stx, k: from}, &Tx{tx: dtx, k: keys}, wrapKey(pass, key, kdf).marshal())
			})
		})
	}()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: sealing: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: sealing: %w", err)
	}
	return syncDir(dir)
}

// copyStore copies every bucket of src into dst, opening and sealing on
// the way; the meta bucket gets the new wrapped key and loses the marks
// of a plain store's choice and of a re-key to come.
func copyStore(src, dst *Tx, wrap []byte) error {
	return src.tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		db, err := dst.CreateBucket(name)
		if err != nil {
			return err
		}
		if string(name) == string(bMeta) {
			if err := db.Put([]byte(metaSeal), wrap); err != nil {
				return err
			}
		}
		return copyBucket(src.Bucket(name), db)
	})
}

func copyBucket(src, dst *Bucket) error {
	if err := dst.SetSequence(src.Sequence()); err != nil {
		return err
	}
	c := src.b.Cursor()
	for rk, rv := c.First(); rk != nil; rk, rv = c.Next() {
		if sb := src.b.Bucket(rk); sb != nil {
			name := rk
			if src.k != nil {
				raw := src.b.Get(subName(rk))
				if raw == nil {
					return fmt.Errorf("%w: a sub-bucket without its name", ErrCorrupt)
				}
				name, _ = src.open(subName(rk), raw)
			}
			d, err := dst.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			if err := copyBucket(src.sub(rk, sb), d); err != nil {
				return err
			}
			continue
		}
		if src.k != nil && len(rk) > 0 && rk[len(rk)-1] == 0 && src.b.Bucket(rk[:len(rk)-1]) != nil {
			continue // a sub-bucket's name, written with it
		}
		if src.own == layoutClear && (string(rk) == metaSeal || string(rk) == metaPlain || string(rk) == metaRekey) {
			continue
		}
		k, v := rk, rv
		if src.k != nil && src.own != layoutClear {
			k, v = src.open(rk, rv)
		}
		if err := dst.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// unlock reads the wrapped data key before anything is written: a plain
// store wants no passphrase, a sealed one its own.
func (s *Store) unlock(pass []byte) error {
	var raw []byte
	fresh := false
	if err := s.view(func(tx *Tx) error {
		meta := tx.Bucket(bMeta)
		if meta == nil {
			fresh = true
			return nil
		}
		raw = bytes.Clone(meta.Get([]byte(metaSeal)))
		return nil
	}); err != nil {
		return err
	}
	switch {
	case fresh && pass != nil:
		key := make([]byte, dataKeyLen)
		rand.Read(key)
		s.lock = &lockState{dataKey: key, fresh: wrapKey(pass, key, kdf).marshal()}
	case fresh || raw == nil && pass == nil:
		return nil
	case raw == nil:
		return fmt.Errorf("%w: %s (seal it with OpenSealed)", ErrPlain, s.path)
	case pass == nil:
		return fmt.Errorf("%w: %s", ErrSealed, s.path)
	default:
		w, err := parseWrap(raw)
		if err != nil {
			return err
		}
		key, err := w.unwrap(pass)
		if err != nil {
			return err
		}
		s.lock = &lockState{dataKey: key}
	}
	var err error
	s.keys, err = deriveKeys(s.lock.dataKey)
	return err
}

// Sealed says whether the store is encrypted.
func (s *Store) Sealed() bool { return s.keys != nil }

// LogKey is the key the log file's records are sealed with (nil on a
// plain store).
func (s *Store) LogKey() []byte {
	if s.keys == nil {
		return nil
	}
	return s.keys.log
}

// LocalName is the name a file of the data directory that stands for
// name (a file's id) is given: on a sealed store a keyed hash of it (a
// thief reads nothing from the folder's listing), else name itself.
func (s *Store) LocalName(purpose, name string) string {
	if s.keys == nil {
		return name
	}
	return hex.EncodeToString(s.keys.hash([]byte("local names\x00"+purpose), []byte(name)))
}

// ChangePassphrase re-wraps the data key under next, once old is shown to
// be the passphrase. Nothing else is rewritten.
func (s *Store) ChangePassphrase(old, next []byte) error {
	if s.lock == nil {
		return ErrPlain
	}
	if len(next) == 0 {
		return errors.New("store: an empty passphrase")
	}
	var raw []byte
	if err := s.view(func(tx *Tx) error {
		raw = bytes.Clone(tx.Bucket(bMeta).Get([]byte(metaSeal)))
		return nil
	}); err != nil {
		return err
	}
	w, err := parseWrap(raw)
	if err != nil {
		return err
	}
	if _, err := w.unwrap(old); err != nil {
		return err
	}
	// The data key is re-wrapped now, so that the store works on; a new
	// data key replaces it when the store closes (or, after a crash, at
	// the next start): a copy of the folder made before, opened with
	// the old passphrase, then opens nothing written since, and no freed
	// page keeps the old wrapped key.
	rec := wrapKey(next, s.lock.dataKey, kdf).marshal()
	if err := s.update(func(tx *Tx) error {
		if err := tx.Bucket(bMeta).Put([]byte(metaSeal), rec); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte(metaRekey), []byte("due"))
	}); err != nil {
		return err
	}
	s.lock.rekey = bytes.Clone(next)
	return nil
}

// rekeyDue says whether the passphrase changed since the data key was
// made.
func (s *Store) rekeyDue() (due bool, err error) {
	err = s.view(func(tx *Tx) error {
		due = tx.Bucket(bMeta).Get([]byte(metaRekey)) != nil
		return nil
	})
	return due, err
}

// ChoosePlain records that the user chose to keep the data unencrypted
// (true), or wants to be asked again at the next start (false).
func (s *Store) ChoosePlain(chosen bool) error {
	if s.lock != nil {
		return errors.New("store: the data is encrypted")
	}
	return s.update(func(tx *Tx) error {
		if chosen {
			return tx.Bucket(bMeta).Put([]byte(metaPlain), []byte("chosen"))
		}
		return tx.Bucket(bMeta).Delete([]byte(metaPlain))
	})
}
