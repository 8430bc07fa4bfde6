package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseWrap: a wrapped key record from a damaged or hostile file is
// refused or read back exactly; it never panics and never asks for more
// than the bounds (parseWrap checks them before any work).
func FuzzParseWrap(f *testing.F) {
	f.Add(wrapKey([]byte("p"), make([]byte, 32), KDF{Time: 1, MemoryKiB: 64, Threads: 1}).marshal())
	f.Add([]byte{1, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, raw []byte) {
		w, err := parseWrap(raw)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("a refusal that is not ErrCorrupt: %v", err)
			}
			return
		}
		if !bytes.Equal(w.marshal(), raw) {
			t.Fatal("a record read back differently")
		}
		if w.kdf.MemoryKiB > maxMemoryKiB || w.kdf.Time > maxTime || w.kdf.Threads > maxThreads {
			t.Fatalf("taken out of bounds: %+v", w.kdf)
		}
	})
}

// FuzzReadLog: a damaged log file is read as far as it goes, without a
// panic or an allocation beyond a record's bound.
func FuzzReadLog(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.log")
	l, err := OpenLog(path, key, true)
	if err != nil {
		f.Fatal(err)
	}
	l.Write([]byte("a line\n"))
	l.Write([]byte("another line\n"))
	l.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte(logMagic + "\xff\xff\xff\xff"))
	f.Add([]byte("a plain log line\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := filepath.Join(t.TempDir(), "log")
		if err := os.WriteFile(p, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		ReadLog(p, key, io.Discard)
	})
}

// FuzzSealedValue: whatever bytes lie where a sealed value should, the
// store says the file is damaged; it never takes them.
func FuzzSealedValue(f *testing.F) {
	keys, err := deriveKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	b := &Bucket{k: keys, own: layoutNames, path: []byte("rooms")}
	sk := b.storedKey([]byte("lobby"))
	f.Add(b.seal([]byte("lobby"), sk, []byte(`{"name":"lobby"}`)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); !ok || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("a panic that is not ErrCorrupt: %v", r)
				}
			}
		}()
		k, _ := b.open(sk, raw)
		if string(k) != "lobby" {
			t.Fatalf("a value opened under key %q", k)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when MMLS_WRITE_CORPUS is
// set: the seeds above, as files.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	keys, _ := deriveKeys(bytes.Repeat([]byte{1}, 32))
	b := &Bucket{k: keys, own: layoutNames, path: []byte("rooms")}
	logPath := filepath.Join(t.TempDir(), "seed.log")
	l, _ := OpenLog(logPath, bytes.Repeat([]byte{7}, 32), true)
	l.Write([]byte("a line\n"))
	l.Close()
	logSeed, _ := os.ReadFile(logPath)
	for target, seeds := range map[string][][]byte{
		"FuzzParseWrap":   {wrapKey([]byte("p"), make([]byte, 32), KDF{Time: 1, MemoryKiB: 64, Threads: 1}).marshal()},
		"FuzzReadLog":     {logSeed, []byte("a plain log line\n")},
		"FuzzSealedValue": {b.seal([]byte("lobby"), b.storedKey([]byte("lobby")), []byte(`{"name":"lobby"}`))},
	} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
