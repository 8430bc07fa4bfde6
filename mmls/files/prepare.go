package files

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
)

// ErrTooBig: a file over the size limit.
var ErrTooBig = errors.New("files: file too big")

// Prepare reads the file at path once: its hash, a fresh id and key, and
// the manifest of its sealed chunks (DefaultChunk each). Nothing is
// written anywhere.
func Prepare(path string, limit int64) (*Offer, Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("files: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("files: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("files: %s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooBig, st.Size(), limit)
	}
	o := &Offer{Size: st.Size(), Chunk: DefaultChunk, Name: SafeName(filepath.Base(path))}
	if _, err := rand.Read(o.ID[:]); err != nil {
		return nil, nil, fmt.Errorf("files: %w", err)
	}
	if _, err := rand.Read(o.Key[:]); err != nil {
		return nil, nil, fmt.Errorf("files: %w", err)
	}
	if err := o.check(); err != nil {
		return nil, nil, err
	}
	s, err := NewSealer(o)
	if err != nil {
		return nil, nil, err
	}
	whole := sha256.New()
	man := make(Manifest, 0, 32*o.Chunks())
	buf := make([]byte, o.Chunk)
	var sealed []byte
	for i := range o.Chunks() {
		n := o.ChunkLen(i)
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return nil, nil, fmt.Errorf("files: read %s: %w (did it change?)", path, err)
		}
		if i == 0 {
			o.Mime = mediaType(path, buf[:n])
		}
		whole.Write(buf[:n])
		sealed = s.Seal(sealed[:0], i, buf[:n])
		h := sha256.Sum256(sealed)
		man = append(man, h[:]...)
	}
	if o.Mime == "" {
		o.Mime = mediaType(path, nil)
	}
	whole.Sum(o.SHA256[:0])
	o.Manifest = ManifestHash(man)
	return o, man, nil
}

func mediaType(path string, head []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(path)); t != "" {
		return CleanMime(t)
	}
	if len(head) == 0 {
		return "application/octet-stream"
	}
	return CleanMime(http.DetectContentType(head))
}
