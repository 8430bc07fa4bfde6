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
	n  uint64 // the next record's number: each is bound to its place
}

// recordAD binds record n to its place in the log: one deleted, moved or
// repeated does not open, nor any after it.
func recordAD(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte(logMagic), n) }

// OpenLog opens the log file at path for appending: plain when key is nil,
// sealed under key otherwise. own says the file is the data directory's
// own log: made 0600, and a plain log found there where a sealed one is
// wanted (the store was plain until now) is emptied first, what it said
// in clear going with it. A file given by the user (--log) is never
// emptied: one that is neither empty nor a sealed log is refused; and one
// that is no regular file (/dev/null, a pipe) is only written to.
func OpenLog(path string, key []byte, own bool) (io.WriteCloser, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		if key == nil {
			return f, nil
		}
		return &sealedLog{f: f, k: key}, nil
	}
	f.Close()
	if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		return nil, err
	}
	if own {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, err
		}
	}
	if key == nil {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	end, count, err := wholeRecords(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if end < int64(len(logMagic)) {
		if size, _ := f.Seek(0, io.SeekEnd); size > 0 && !own {
			f.Close()
			return nil, fmt.Errorf("%s holds something other than a sealed log: give a new file", path)
		}
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
	return &sealedLog{f: f, k: key, n: count}, nil
}

// wholeRecords is where the sealed log in f ends after its last whole
// record (0: f is no sealed log), and how many records it holds.
func wholeRecords(f *os.File) (end int64, count uint64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, err
	}
	r := bufio.NewReader(f)
	head := make([]byte, len(logMagic))
	if _, err := io.ReadFull(r, head); err != nil || string(head) != logMagic {
		return 0, 0, nil
	}
	end = int64(len(logMagic))
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return end, count, nil
		}
		size := int64(binary.BigEndian.Uint32(n[:]))
		if size > maxLogRecord {
			return end, count, nil
		}
		if d, _ := r.Discard(int(size)); int64(d) < size {
			return end, count, nil
		}
		end += 4 + size
		count++
	}
}

func (l *sealedLog) Write(p []byte) (int, error) {
	aead, err := chacha20poly1305.NewX(l.k)
	if err != nil {
		return 0, err
	}
	line := p
	if max := maxLogRecord - chacha20poly1305.NonceSizeX - aead.Overhead(); len(line) > max {
		line = line[:max] // a line a reader would refuse: cut
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rec := make([]byte, 4+chacha20poly1305.NonceSizeX, 4+chacha20poly1305.NonceSizeX+len(line)+aead.Overhead())
	rand.Read(rec[4:])
	rec = aead.Seal(rec, rec[4:4+chacha20poly1305.NonceSizeX], line, recordAD(l.n))
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4))
	if _, err := l.f.Write(rec); err != nil {
		return 0, err
	}
	l.n++
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
	for i := uint64(0); ; i++ {
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
		line, err := aead.Open(nil, rec[:chacha20poly1305.NonceSizeX], rec[chacha20poly1305.NonceSizeX:], recordAD(i))
		if err != nil {
			line = []byte("(a log record that does not open: altered, moved or missing before it)\n")
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			line = append(line, '\n')
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
}
