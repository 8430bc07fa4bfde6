package files

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrAuth: a sealed chunk failed authentication, or its hash is not the
// manifest's.
var ErrAuth = errors.New("files: chunk failed authentication")

// Sealer seals and opens the chunks of one file.
type Sealer struct {
	aead cipher.AEAD
	ad   []byte
	o    *Offer
}

// NewSealer returns the sealer of o's chunks.
func NewSealer(o *Offer) (*Sealer, error) {
	block, err := aes.NewCipher(o.Key[:])
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("files: %w", err)
	}
	ad := append([]byte("mmls-chat file v1"), o.ID[:]...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(o.Size))
	return &Sealer{aead: aead, ad: ad, o: o}, nil
}

func nonce(i int) []byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[4:], uint64(i))
	return n[:]
}

// Seal seals chunk i's plaintext, appending to dst.
func (s *Sealer) Seal(dst []byte, i int, plain []byte) []byte {
	return s.aead.Seal(dst, nonce(i), plain, s.ad)
}

// Overhead is what sealing adds to a chunk.
const Overhead = 16

// Open checks and opens sealed chunk i, appending to dst.
func (s *Sealer) Open(dst []byte, i int, sealed []byte) ([]byte, error) {
	if i < 0 || i >= s.o.Chunks() || len(sealed) != s.o.ChunkLen(i)+Overhead {
		return nil, fmt.Errorf("%w: chunk %d of %d bytes", ErrAuth, i, len(sealed))
	}
	out, err := s.aead.Open(dst, nonce(i), sealed, s.ad)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %d", ErrAuth, i)
	}
	return out, nil
}

// Manifest is the SHA-256 of each sealed chunk, in order.
type Manifest []byte

// Hash is chunk i's hash.
func (m Manifest) Hash(i int) []byte { return m[32*i : 32*i+32] }

// Matches reports whether sealed is chunk i as the manifest pins it.
func (m Manifest) Matches(i int, sealed []byte) bool {
	if i < 0 || 32*i+32 > len(m) {
		return false
	}
	h := sha256.Sum256(sealed)
	return string(h[:]) == string(m.Hash(i))
}

// Page returns manifest page p.
func (m Manifest) Page(p int) []byte {
	lo := p * PageHashes * 32
	if p < 0 || lo >= len(m) {
		return nil
	}
	return m[lo:min(len(m), lo+PageHashes*32)]
}

// PageLen is the length manifest page p of o must have.
func PageLen(o *Offer, p int) int {
	n := o.Chunks() - p*PageHashes
	return 32 * max(0, min(n, PageHashes))
}
