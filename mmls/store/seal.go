package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A sealed store keeps bbolt's layout but hides what it holds: every value
// is sealed with AES-256-GCM (a random 96-bit nonce each: a store writes
// far fewer than the 2^32 values one key allows) under a key derived from
// the data key,
// bound to where it lies (its bucket and key), and every key that would
// say something (a room's name, a nick, a peer or message id) is replaced
// by keyed hashes of its parts, so prefix scans still work. What stays
// readable is what bbolt needs to find things: counters (history and
// notes are numbered), a held message's send time to the hour (held
// messages are dropped oldest first), how many records each bucket has,
// and their sizes. A part's hash depends on its bucket, so the same peer
// or room is a different pseudonym in each. The original key travels inside the sealed value, so iteration
// gives callers the keys they wrote.
//
// Tx, Bucket and Cursor are the store's view of bbolt's: on a plain store
// they pass everything through unchanged, so a plain file is exactly the
// format it always was.

// sealKeys are the data key's per-purpose keys.
type sealKeys struct {
	aead cipher.AEAD // values
	name []byte      // keyed hashes of keys' parts
	log  []byte      // the log file's records
	// The same parts (room names, peer ids) are hashed again and again:
	// the last few thousand are kept, and HMAC states are reused.
	mu     sync.Mutex
	hashes map[string]map[string][]byte // by bucket path, then part
	cached int
	macs   sync.Pool
}

// maxHashCache bounds the parts whose hashes are kept (then all are
// forgotten at once); parts longer than maxCachedPart are not kept.
const (
	maxHashCache  = 4096
	maxCachedPart = 64
)

const nameHashLen = 16

func deriveKeys(dataKey []byte) (*sealKeys, error) {
	sub := func(purpose string) []byte {
		k, err := hkdf.Key(sha256.New, dataKey, nil, "mmls-chat store "+purpose, 32)
		if err != nil {
			panic(err) // only for lengths hkdf cannot give
		}
		return k
	}
	block, err := aes.NewCipher(sub("values"))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return &sealKeys{aead: aead, name: sub("names"), log: sub("log"), hashes: map[string]map[string][]byte{}}, nil
}

// hash is the keyed hash that stands for one part of a key in the bucket
// at path (callers copy it, never change it). The bucket is in the hash:
// one peer or room is a different pseudonym in each bucket, so the
// buckets cannot be joined on them.
func (k *sealKeys) hash(path, part []byte) []byte {
	k.mu.Lock()
	h, ok := k.hashes[string(path)][string(part)]
	k.mu.Unlock()
	if ok {
		return h
	}
	m, _ := k.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, k.name)
	}
	m.Reset()
	var n [binary.MaxVarintLen64]byte
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(path)))])
	m.Write(path)
	m.Write(part)
	var sum [sha256.Size]byte
	h = bytes.Clone(m.Sum(sum[:0])[:nameHashLen])
	k.macs.Put(m)
	if len(part) <= maxCachedPart {
		k.mu.Lock()
		if k.cached >= maxHashCache {
			clear(k.hashes)
			k.cached = 0
		}
		in := k.hashes[string(path)]
		if in == nil {
			in = map[string][]byte{}
			k.hashes[string(path)] = in
		}
		in[string(part)] = h
		k.cached++
		k.mu.Unlock()
	}
	return h
}

// layout says how a bucket's keys are stored.
type layout uint8

const (
	layoutNames layout = iota // parts split at \x00, each a keyed hash
	layoutSeqs                // big-endian counters, kept as they are
	layoutHeld                // author \x00 sent-at \x00 id; \xff totals
	layoutClear               // nothing hidden (the meta bucket)
)

// layoutOf is the layout of a top-level bucket's keys, and of its
// sub-buckets' keys.
func layoutOf(name []byte) (own, subs layout) {
	switch string(name) {
	case string(bMeta):
		return layoutClear, layoutClear
	case string(bAlerts):
		return layoutSeqs, layoutSeqs
	case string(bMessages), string(bNotes):
		return layoutNames, layoutSeqs
	case string(bHeld):
		return layoutNames, layoutHeld
	}
	return layoutNames, layoutNames
}

// storedKey is what bbolt holds for key k. A key that ends in \x00 (a
// prefix to scan) gives the prefix of the stored keys it begins.
func (b *Bucket) storedKey(k []byte) []byte {
	switch {
	case b.k == nil || b.own == layoutClear || b.own == layoutSeqs:
		return k
	case b.own == layoutHeld:
		return b.heldKey(k)
	}
	return b.namesKey(k)
}

func (b *Bucket) namesKey(k []byte) []byte {
	out := make([]byte, 0, nameHashLen*(1+bytes.Count(k, []byte{0})))
	for {
		part, rest, more := bytes.Cut(k, []byte{0})
		out = append(out, b.k.hash(b.path, part)...)
		if !more || len(rest) == 0 {
			return out
		}
		k = rest
	}
}

// heldKey keeps a held message's send time (to the hour) in the clear, so that the
// oldest of an author is found first, and the totals (\xff...) after
// every message.
func (b *Bucket) heldKey(k []byte) []byte {
	if len(k) > 0 && k[0] == 0xff {
		if len(k) == 1 {
			return []byte{0xff}
		}
		return append([]byte{0xff}, b.k.hash(b.path, k[1:])...)
	}
	author, rest, ok := bytes.Cut(k, []byte{0})
	switch {
	case ok && len(rest) == 0:
		return append([]byte{0}, b.k.hash(b.path, author)...)
	case ok && len(rest) >= 9 && rest[8] == 0:
		// The send time to the hour only: enough to drop the oldest
		// first, too coarse to name an author by a time members saw.
		sent := int64(binary.BigEndian.Uint64(rest[:8]))
		out := binary.BigEndian.AppendUint64(append([]byte{0}, b.k.hash(b.path, author)...), uint64(sent-sent%int64(time.Hour)))
		return append(out, b.k.hash(b.path, rest[9:])...)
	}
	return append([]byte{1}, b.k.hash(b.path, k)...)
}

// seal is what bbolt holds for value v under key k (stored as sk): the
// nonce, then the sealed key and value, in one buffer sealed in place.
func (b *Bucket) seal(k, sk, v []byte) []byte {
	nonceLen := b.k.aead.NonceSize()
	buf := make([]byte, nonceLen, nonceLen+binary.MaxVarintLen64+len(k)+len(v)+b.k.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		panic(err) // crypto/rand does not fail
	}
	buf = binary.AppendUvarint(buf, uint64(len(k)))
	buf = append(append(buf, k...), v...)
	out := b.k.aead.Seal(buf[nonceLen:nonceLen], buf[:nonceLen], buf[nonceLen:], b.ad(sk))
	return buf[:nonceLen+len(out)]
}

// open gives back the key and value sealed in raw (stored under sk). A
// value that does not open is a damaged or altered file: it panics with
// ErrCorrupt, which the store's view and update turn into an error.
func (b *Bucket) open(sk, raw []byte) (k, v []byte) {
	nonceLen := b.k.aead.NonceSize()
	if len(raw) < nonceLen+b.k.aead.Overhead() {
		panic(fmt.Errorf("%w: a sealed value of %d bytes", ErrCorrupt, len(raw)))
	}
	plain, err := b.k.aead.Open(nil, raw[:nonceLen], raw[nonceLen:], b.ad(sk))
	if err != nil {
		panic(fmt.Errorf("%w: a sealed value does not open (altered, or moved from elsewhere)", ErrCorrupt))
	}
	n, used := binary.Uvarint(plain)
	if used <= 0 || n > uint64(len(plain)-used) {
		panic(fmt.Errorf("%w: a sealed value without its key", ErrCorrupt))
	}
	return plain[used : used+int(n)], plain[used+int(n):]
}

// ad is what a value is bound to: its bucket's path and its stored key.
// It is built in the bucket's scratch space (a Bucket belongs to one
// transaction, so to one goroutine).
func (b *Bucket) ad(sk []byte) []byte {
	b.scratch = append(append(append(b.scratch[:0], b.path...), 0xff), sk...)
	return b.scratch
}

// Tx is a bbolt transaction seen through the store's seal.
type Tx struct {
	tx *bolt.Tx
	k  *sealKeys // nil: a plain store
}

// Bucket is a top-level bucket (nil if it does not exist).
func (t *Tx) Bucket(name []byte) *Bucket { return t.top(name, t.tx.Bucket(name)) }

func (t *Tx) top(name []byte, b *bolt.Bucket) *Bucket {
	if b == nil {
		return nil
	}
	own, subs := layoutOf(name)
	return &Bucket{b: b, k: t.k, own: own, subs: subs, path: bytes.Clone(name)}
}

// CreateBucketIfNotExists creates a top-level bucket.
func (t *Tx) CreateBucketIfNotExists(name []byte) (*Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	return t.top(name, b), err
}

// CreateBucket creates a top-level bucket that must not exist.
func (t *Tx) CreateBucket(name []byte) (*Bucket, error) {
	b, err := t.tx.CreateBucket(name)
	return t.top(name, b), err
}

// DeleteBucket deletes a top-level bucket.
func (t *Tx) DeleteBucket(name []byte) error { return t.tx.DeleteBucket(name) }

// Bucket is a bbolt bucket seen through the store's seal.
type Bucket struct {
	b         *bolt.Bucket
	k         *sealKeys
	own, subs layout
	path      []byte // top-level name, then each sub-bucket's stored name
	scratch   []byte
}

// Get returns the value of k, nil if there is none.
func (b *Bucket) Get(k []byte) []byte {
	if b.k == nil || b.own == layoutClear {
		return b.b.Get(k)
	}
	sk := b.storedKey(k)
	raw := b.b.Get(sk)
	if raw == nil {
		return nil
	}
	_, v := b.open(sk, raw)
	if v == nil {
		v = []byte{}
	}
	return v
}

// Put sets k to v.
func (b *Bucket) Put(k, v []byte) error {
	if b.k == nil || b.own == layoutClear {
		return b.b.Put(k, v)
	}
	sk := b.storedKey(k)
	return b.b.Put(sk, b.seal(k, sk, v))
}

// Delete removes k.
func (b *Bucket) Delete(k []byte) error { return b.b.Delete(b.storedKey(k)) }

// NextSequence, Sequence and SetSequence are bbolt's counter, unsealed.
func (b *Bucket) NextSequence() (uint64, error) { return b.b.NextSequence() }
func (b *Bucket) Sequence() uint64              { return b.b.Sequence() }
func (b *Bucket) SetSequence(v uint64) error    { return b.b.SetSequence(v) }

// ForEach calls f with every key and value (v nil for a sub-bucket), in
// stored order.
func (b *Bucket) ForEach(f func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

// subName is where a sealed store keeps a sub-bucket's name, beside it.
func subName(sk []byte) []byte { return append(bytes.Clone(sk), 0) }

func (b *Bucket) sub(sk []byte, c *bolt.Bucket) *Bucket {
	if c == nil {
		return nil
	}
	path := append(append(bytes.Clone(b.path), 0), sk...)
	return &Bucket{b: c, k: b.k, own: b.subs, subs: b.subs, path: path}
}

// Bucket is the sub-bucket name (nil if it does not exist).
func (b *Bucket) Bucket(name []byte) *Bucket {
	sk := b.storedKey(name)
	return b.sub(sk, b.b.Bucket(sk))
}

// CreateBucketIfNotExists creates the sub-bucket name.
func (b *Bucket) CreateBucketIfNotExists(name []byte) (*Bucket, error) {
	sk := b.storedKey(name)
	c, err := b.b.CreateBucketIfNotExists(sk)
	if err != nil {
		return nil, err
	}
	if b.k != nil && b.b.Get(subName(sk)) == nil {
		if err := b.b.Put(subName(sk), b.seal(name, subName(sk), nil)); err != nil {
			return nil, err
		}
	}
	return b.sub(sk, c), nil
}

// DeleteBucket deletes the sub-bucket name.
func (b *Bucket) DeleteBucket(name []byte) error {
	sk := b.storedKey(name)
	if err := b.b.DeleteBucket(sk); err != nil {
		return err
	}
	if b.k == nil {
		return nil
	}
	return b.b.Delete(subName(sk))
}

// ForEachBucket calls f with the name of every sub-bucket.
func (b *Bucket) ForEachBucket(f func(name []byte) error) error {
	return b.b.ForEachBucket(func(sk []byte) error {
		if b.k == nil {
			return f(sk)
		}
		raw := b.b.Get(subName(sk))
		if raw == nil {
			panic(fmt.Errorf("%w: a sub-bucket without its name", ErrCorrupt))
		}
		name, _ := b.open(subName(sk), raw)
		return f(name)
	})
}

// Cursor walks the bucket in stored order: on a sealed store that is the
// order of the hashes, except for counters and held messages' times.
func (b *Bucket) Cursor() *Cursor { return &Cursor{c: b.b.Cursor(), b: b} }

// Cursor is a bbolt cursor seen through the store's seal.
type Cursor struct {
	c *bolt.Cursor
	b *Bucket
}

func (c *Cursor) opened(sk, raw []byte) ([]byte, []byte) {
	if sk == nil || c.b.k == nil || c.b.own == layoutClear || raw == nil {
		return sk, raw // the end, a plain store, or a sub-bucket
	}
	return c.b.open(sk, raw)
}

func (c *Cursor) First() ([]byte, []byte) { return c.opened(c.c.First()) }
func (c *Cursor) Last() ([]byte, []byte)  { return c.opened(c.c.Last()) }
func (c *Cursor) Next() ([]byte, []byte)  { return c.opened(c.c.Next()) }
func (c *Cursor) Prev() ([]byte, []byte)  { return c.opened(c.c.Prev()) }

// Seek moves to the first key at or after k; on a sealed store only a
// whole key or a prefix that ends in \x00 (or \xff among held messages)
// finds what it would find on a plain one.
func (c *Cursor) Seek(k []byte) ([]byte, []byte) {
	sk := c.b.storedKey(k)
	rk, rv := c.c.Seek(sk)
	// A prefix "x\x00" is stored as x's hash, which is also the whole key
	// "x": a plain store sorts "x" before the prefix, so passes it.
	if c.b.k != nil && c.b.own == layoutNames && len(k) > 0 && k[len(k)-1] == 0 && bytes.Equal(rk, sk) {
		rk, rv = c.c.Next()
	}
	return c.opened(rk, rv)
}
