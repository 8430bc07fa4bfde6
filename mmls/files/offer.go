// Package files shares files in a room: the file is sealed once, under a
// fresh key that travels only in the offer (an application message in the
// sender's MLS send group, so exactly the members the sender chose get it),
// and its sealed chunks travel over the transport on request, from any
// member that holds them.
//
// # Offer (inside an EnvelopeFile, integers big-endian)
//
//	version  u8  = 1
//	id       [16]   random file id
//	key      [32]   AES-256-GCM key of the chunks
//	size     u64    plaintext bytes (<= MaxSize)
//	chunk    u32    plaintext bytes per chunk (MinChunk..MaxChunk)
//	sha256   [32]   SHA-256 of the plaintext
//	manifest [32]   ManifestHash of the sealed chunks' SHA-256s
//	name     u8 len, UTF-8 (cleaned with SafeName when read)
//	mime     u8 len, ASCII type/subtype (else application/octet-stream)
//
// # Chunks
//
// Chunk i is AES-256-GCM(key, nonce = 4 zero bytes | i as u64, additional
// data = "mmls-chat file v1" | id | size) of the plaintext's bytes
// [i*chunk, min((i+1)*chunk, size)). Sealing is deterministic, so every
// holder that has the plaintext produces the same sealed chunk, and the
// manifest (the SHA-256 of each sealed chunk, in order; fetched in pages
// of PageHashes and checked against the offer's manifest hash) pins each
// one: a holder, even a member who has the key, cannot serve a chunk the
// sender did not seal. A holder checks a chunk against the manifest
// before it serves it, so a key and nonce never seal two plaintexts.
//
// # Frames (inside transport payloads, beside the engine's)
//
//	4 request  id [16] | what u8 (0 chunk, 1 manifest page) | index u32
//	5 data     id [16] | what u8 | index u32 | status u8 | bytes
//
// Status 0 carries the sealed chunk or the manifest page; 1 says the
// holder lacks it, 2 that it refuses (not a recipient of the offer), 3
// that it is busy. A holder serves only the offer's recipients and its
// sender.
package files

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
)

// ID identifies one offered file.
type ID [16]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Key is how a file is named everywhere but in its sealing (requests,
// the store, events, what people type): its offer's id bound to its
// sender, so a member who copies another's id in an offer of its own
// names another file, and suppresses nothing.
func Key(sender PeerID, id ID) ID {
	h := sha256.New()
	h.Write([]byte("mmls-chat file key v1"))
	h.Write(sender[:])
	h.Write(id[:])
	var k ID
	copy(k[:], h.Sum(nil))
	return k
}

// Short is the id's first 8 hex digits, how people name a file.
func (id ID) Short() string { return id.String()[:8] }

// ParseID reads the hex form of an id.
func ParseID(s string) (ID, bool) {
	var id ID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// Bounds.
const (
	Version = 1
	// MaxSize bounds any offer's size (a receiver's own limit is usually
	// lower: DefaultMaxSize).
	MaxSize        = 1 << 40
	DefaultMaxSize = 4 << 30
	// Chunk sizes an offer may use; DefaultChunk is what we send.
	MinChunk     = 16 << 10
	MaxChunk     = 512 << 10
	DefaultChunk = 256 << 10
	// MaxChunks bounds the chunks of a file (so its manifest).
	MaxChunks = 1 << 22
	// PageHashes is how many chunk hashes a manifest page holds.
	PageHashes = 8192
	MaxName    = 255
	MaxMime    = 127
	// MaxOfferSize bounds an encoded offer.
	MaxOfferSize = 1 + 16 + 32 + 8 + 4 + 32 + 32 + 1 + MaxName + 1 + MaxMime
)

// ErrMalformed wraps every offer or frame that does not parse.
var ErrMalformed = errors.New("files: malformed")

// Offer is what the sender's message says of a file.
type Offer struct {
	ID       ID
	Key      [32]byte
	Size     int64
	Chunk    int
	SHA256   [32]byte
	Manifest [32]byte
	Name     string
	Mime     string
}

// Chunks is how many chunks the file has.
func (o *Offer) Chunks() int {
	if o.Chunk <= 0 {
		return 0
	}
	return int((o.Size + int64(o.Chunk) - 1) / int64(o.Chunk))
}

// ChunkLen is the plaintext length of chunk i.
func (o *Offer) ChunkLen(i int) int {
	off := int64(i) * int64(o.Chunk)
	return int(min(int64(o.Chunk), o.Size-off))
}

// Pages is how many manifest pages the file has.
func (o *Offer) Pages() int { return (o.Chunks() + PageHashes - 1) / PageHashes }

func (o *Offer) check() error {
	switch {
	case o.Size < 0 || o.Size > MaxSize:
		return fmt.Errorf("%w: offer of %d bytes", ErrMalformed, o.Size)
	case o.Chunk < MinChunk || o.Chunk > MaxChunk:
		return fmt.Errorf("%w: chunks of %d bytes", ErrMalformed, o.Chunk)
	case o.Chunks() > MaxChunks:
		return fmt.Errorf("%w: %d chunks", ErrMalformed, o.Chunks())
	case len(o.Name) > MaxName || len(o.Mime) > MaxMime:
		return fmt.Errorf("%w: name or media type too long", ErrMalformed)
	}
	return nil
}

// Marshal encodes o after checking its bounds.
func (o *Offer) Marshal() ([]byte, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, MaxOfferSize))
	b.AddUint8(Version)
	b.AddBytes(o.ID[:])
	b.AddBytes(o.Key[:])
	b.AddUint64(uint64(o.Size))
	b.AddUint32(uint32(o.Chunk))
	b.AddBytes(o.SHA256[:])
	b.AddBytes(o.Manifest[:])
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(o.Name)) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(o.Mime)) })
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("files: encode offer: %w", err)
	}
	return out, nil
}

// ParseOffer decodes and checks an offer; its name comes out cleaned
// (SafeName) and its media type checked (CleanMime).
func ParseOffer(b []byte) (*Offer, error) {
	s := cryptobyte.String(b)
	var version uint8
	var size uint64
	var chunk uint32
	var name, mime cryptobyte.String
	o := &Offer{}
	if !s.ReadUint8(&version) {
		return nil, fmt.Errorf("%w: empty offer", ErrMalformed)
	}
	if version != Version {
		return nil, fmt.Errorf("%w: offer version %d", ErrMalformed, version)
	}
	if !s.CopyBytes(o.ID[:]) || !s.CopyBytes(o.Key[:]) || !s.ReadUint64(&size) || !s.ReadUint32(&chunk) ||
		!s.CopyBytes(o.SHA256[:]) || !s.CopyBytes(o.Manifest[:]) ||
		!s.ReadUint8LengthPrefixed(&name) || !s.ReadUint8LengthPrefixed(&mime) || !s.Empty() {
		return nil, fmt.Errorf("%w: offer of %d bytes", ErrMalformed, len(b))
	}
	if size > MaxSize {
		return nil, fmt.Errorf("%w: offer of %d bytes", ErrMalformed, size)
	}
	o.Size, o.Chunk = int64(size), int(chunk)
	o.Name, o.Mime = SafeName(string(name)), CleanMime(string(mime))
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// CleanMime returns m, without parameters, when it looks like a media
// type (type/subtype, printable ASCII, no spaces or quotes), else
// application/octet-stream.
func CleanMime(m string) string {
	const fallback = "application/octet-stream"
	m, _, _ = strings.Cut(m, ";") // parameters (charset) are dropped
	m = strings.TrimSpace(m)
	typ, sub, ok := strings.Cut(m, "/")
	if !ok || typ == "" || sub == "" || len(m) > MaxMime {
		return fallback
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"\<>`, c) >= 0 {
			return fallback
		}
	}
	return m
}

// ManifestHash is what an offer says of its manifest: the SHA-256 of the
// sealed chunks' hashes, in order.
func ManifestHash(manifest []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("mmls-chat manifest v1"))
	h.Write(manifest)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
