package store

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// The log of a sealed store is sealed too: each Write (one log line) is a
// record, its length then XChaCha20-Poly1305 of the line under the store's
// log key, after a first line that says what the file is. A thief learns
// how many lines were logged and how long each was. ReadLog gives the
// lines back to whoever has the passphrase.

const logMagic = "mmls-chat sealed log 1\n"

// maxLogRecord bounds one record a reader accepts.
const maxLogRecord = 1 << 20

type sealedLog struct {
	mu sync.Mutex
	f  *os.File
	k  []byte
}

// OpenLog opens the log file at path for appending: plain when key is nil,
// sealed under key otherwise. A plain log found where a sealed one is
// wanted (the store was plain until now) is emptied first: what it said
// in clear goes with it.
func OpenLog(path string, key []byte) (io.WriteCloser, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	if key == nil {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	end, err := wholeRecords(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if end < int64(len(logMagic)) {
		// A plain log (the store was plain until now), or nothing: what
		// it said in clear goes.
		if _, err := f.WriteAt([]byte(logMagic), 0); err != nil {
			f.Close()
			return nil, err
		}
		end = int64(len(logMagic))
	}
	// A record cut short by a crash is cut off: the next ones must start
	// where a reader looks for them.
	if err := f.Truncate(end); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &sealedLog{f: f, k: key}, nil
}

// wholeRecords is where the sealed log in f ends after its last whole
// record (0: f is no sealed log).
func wholeRecords(f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	r := bufio.NewReader(f)
	head := make([]byte, len(logMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != logMagic {
		return 0, nil
	}
	end := int64(len(logMagic))
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return end, nil
		}
		size := int64(binary.BigEndian.Uint32(n[:]))
		if size > maxLogRecord {
			return end, nil
		}
		if d, _ := r.Discard(int(size)); int64(d) < size {
			return end, nil
		}
		end += 4 + size
	}
}

func (l *sealedLog) Write(p []byte) (int, error) {
	aead, err := chacha20poly1305.NewX(l.k)
	if err != nil {
		return 0, err
	}
	rec := make([]byte, 4+chacha20poly1305.NonceSizeX, 4+chacha20poly1305.NonceSizeX+len(p)+aead.Overhead())
	rand.Read(rec[4:])
	rec = aead.Seal(rec, rec[4:], p, []byte(logMagic))
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4))
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.f.Write(rec); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *sealedLog) Close() error { return l.f.Close() }

// ReadLog writes the lines of the log at path to w: a plain log as it is,
// a sealed one opened with key. A record cut short (the process died
// while writing it) ends the log; one that does not open is said and
// skipped.
func ReadLog(path string, key []byte, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	head, _ := r.Peek(len(logMagic))
	if string(head) != logMagic {
		_, err := io.Copy(w, r)
		return err
	}
	if key == nil {
		return errors.New("store: the log is sealed: it needs the passphrase")
	}
	r.Discard(len(logMagic))
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return err
	}
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil
		}
		size := binary.BigEndian.Uint32(n[:])
		if size < chacha20poly1305.NonceSizeX+uint32(aead.Overhead()) || size > maxLogRecord {
			return fmt.Errorf("%w: a log record of %d bytes", ErrCorrupt, size)
		}
		rec := make([]byte, size)
		if _, err := io.ReadFull(r, rec); err != nil {
			return nil
		}
		line, err := aead.Open(nil, rec[:chacha20poly1305.NonceSizeX], rec[chacha20poly1305.NonceSizeX:], []byte(logMagic))
		if err != nil {
			line = []byte("(a log record that does not open)\n")
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(line, '\n')
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
}
