package files

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleOffer() *Offer {
	o := &Offer{Size: 3*DefaultChunk + 7, Chunk: DefaultChunk, Name: "report.pdf", Mime: "application/pdf"}
	rand.Read(o.ID[:])
	rand.Read(o.Key[:])
	rand.Read(o.SHA256[:])
	rand.Read(o.Manifest[:])
	return o
}

func TestOfferRoundTrip(t *testing.T) {
	t.Parallel()
	o := sampleOffer()
	b, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOffer(b)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *o {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	if o.Chunks() != 4 || o.ChunkLen(3) != 7 || o.Pages() != 1 {
		t.Fatalf("chunks %d, last %d, pages %d", o.Chunks(), o.ChunkLen(3), o.Pages())
	}
}

// TestOfferBounds: every offer out of bounds is refused, with ErrMalformed.
func TestOfferBounds(t *testing.T) {
	t.Parallel()
	good, err := sampleOffer().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sizeAt := 1 + 16 + 32
	chunkAt := sizeAt + 8
	patch := func(at int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[at:], v)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 2", patch(0, 2)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"size over MaxSize", patch(sizeAt, 0, 0, 1, 0, 0, 0, 0, 1)},
		{"chunk too small", patch(chunkAt, 0, 0, 0, 1)},
		{"chunk too big", patch(chunkAt, 0, 0x10, 0, 0)},
		{"only a header", good[:chunkAt]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseOffer(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseOffer: %v, want ErrMalformed", err)
			}
		})
	}
}

// TestHostileNames: whatever a peer calls a file, it is saved as a plain
// name inside the folder chosen, never over another file.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300) + ".txt"
	for _, tc := range []struct{ in, want string }{
		{"../../.bashrc", "bashrc"},
		{"/etc/passwd", "passwd"},
		{`..\..\Windows\system32\evil.dll`, "evil.dll"},
		{"C:evil.txt", "C_evil.txt"},
		{"..", "file"},
		{"", "file"},
		{" . ", "file"},
		{"a\x1b[31mred\x07", "a[31mred"},
		{"invoice\u202efdp.exe", "invoicefdp.exe"},
		{"zero\u200bwidth", "zerowidth"},
		{"CON", "_CON"},
		{"nul.txt", "_nul.txt"},
		{"com1.log", "_com1.log"},
		{"console.txt", "console.txt"},
		{`a<b>c:d"e|f?g*h`, "a_b_c_d_e_f_g_h"},
		{"trailing. . ", "trailing"},
		{"bad\xffutf8", "bad_utf8"},
		{"photo.jpg", "photo.jpg"},
	} {
		if got := SafeName(tc.in); got != tc.want {
			t.Errorf("SafeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := SafeName(long); len(got) > maxSavedName || !strings.HasSuffix(got, ".txt") || !strings.HasPrefix(got, "é") {
		t.Errorf("a long name became %q (%d bytes)", got, len(got))
	}

	// The whole way: a raw hostile name in an offer, read, then placed.
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "part")
	if err := os.WriteFile(src, []byte("payload"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"../../.bashrc", "/etc/passwd", "../x", "sub/../../y"} {
		o := sampleOffer()
		o.Name = raw
		b, err := o.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseOffer(b)
		if err != nil {
			t.Fatal(err)
		}
		path, err := Place(src, dir, got.Name)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(path) != dir {
			t.Errorf("%q was saved at %s, outside %s", raw, path, dir)
		}
	}
}

// TestPlaceNeverOverwrites: a taken name gives "name (1).ext", then
// "(2)"; the saved file is 0600 and whole; the taken one untouched.
func TestPlaceNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "part")
	if err := os.WriteFile(src, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"a (1).txt", "a (2).txt"} {
		path, err := Place(src, dir, "a.txt")
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(path) != want {
			t.Fatalf("placed as %s, want %s", filepath.Base(path), want)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", path, st.Mode(), err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "old" {
		t.Fatalf("the taken name now holds %q", b)
	}
	if got := candidate(".hidden", 1); got != ".hidden (1)" {
		t.Fatalf("candidate: %q", got)
	}
}

// TestSealing: a sealed chunk opens only as the chunk it is, of the file
// it is, under its key; the manifest pins each one.
func TestSealing(t *testing.T) {
	t.Parallel()
	o := sampleOffer()
	s, err := NewSealer(o)
	if err != nil {
		t.Fatal(err)
	}
	plain := make([]byte, o.ChunkLen(1))
	rand.Read(plain)
	sealed := s.Seal(nil, 1, plain)
	if got, err := s.Open(nil, 1, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %v", err)
	}
	other := *o
	rand.Read(other.Key[:])
	so, _ := NewSealer(&other)
	moved := *o
	moved.ID[0] ^= 1
	sm, _ := NewSealer(&moved)
	flipped := bytes.Clone(sealed)
	flipped[10] ^= 1
	for _, tc := range []struct {
		name   string
		s      *Sealer
		i      int
		sealed []byte
	}{
		{"another index", s, 2, sealed},
		{"the last index (its length)", s, 3, sealed},
		{"out of range", s, 4, sealed},
		{"another key", so, 1, sealed},
		{"another file id", sm, 1, sealed},
		{"a flipped bit", s, 1, flipped},
		{"truncated", s, 1, sealed[:len(sealed)-1]},
	} {
		if _, err := tc.s.Open(nil, tc.i, tc.sealed); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: %v, want ErrAuth", tc.name, err)
		}
	}
	if !bytes.Equal(s.Seal(nil, 1, plain), sealed) {
		t.Fatal("sealing is not deterministic: holders would disagree")
	}
}

// TestPrepare: the manifest pins the chunks a holder seals, the hash is
// the plaintext's, and the limits hold.
func TestPrepare(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := make([]byte, 2*DefaultChunk+100)
	rand.Read(data)
	path := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	o, man, err := Prepare(path, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	if o.Size != int64(len(data)) || o.Chunks() != 3 || len(man) != 3*32 || ManifestHash(man) != o.Manifest {
		t.Fatalf("offer %+v, manifest of %d bytes", o, len(man))
	}
	h := &holding{o: o, man: man, path: path}
	h.s, _ = NewSealer(o)
	for i := range 3 {
		if _, err := h.read(i); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	// The file changes on disk: nothing is served from it.
	data[DefaultChunk+5] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := h.read(1); err == nil {
		t.Fatal("a changed chunk was served")
	}
	if _, _, err := Prepare(path, 100); !errors.Is(err, ErrTooBig) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, _, err := Prepare(dir, DefaultMaxSize); err == nil {
		t.Fatal("a folder was prepared")
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	if o, man, err := Prepare(empty, DefaultMaxSize); err != nil || o.Chunks() != 0 || len(man) != 0 {
		t.Fatalf("an empty file: %v", err)
	}
}

func TestFrames(t *testing.T) {
	t.Parallel()
	r := Request{What: WhatPage, Index: 7}
	rand.Read(r.ID[:])
	got, err := ParseRequest(r.Frame()[1:])
	if err != nil || got != r {
		t.Fatalf("request: %+v %v", got, err)
	}
	d := Data{Request: r, Status: StatusData, Bytes: []byte("page")}
	gd, err := ParseData(d.Frame()[1:])
	if err != nil || gd.Request != r || gd.Status != StatusData || string(gd.Bytes) != "page" {
		t.Fatalf("data: %+v %v", gd, err)
	}
	// The largest answer parses (one byte more is refused, below), and so
	// does each status the table has.
	if gd, err := ParseData(Data{Request: r, Bytes: make([]byte, maxData)}.Frame()[1:]); err != nil || len(gd.Bytes) != maxData {
		t.Fatalf("an answer of exactly %d bytes: %d, %v", maxData, len(gd.Bytes), err)
	}
	for _, status := range []uint8{StatusData, StatusMissing, StatusRefused, StatusBusy} {
		if gd, err := ParseData(Data{Request: r, Status: status}.Frame()[1:]); err != nil || gd.Status != status {
			t.Fatalf("status %d: %+v, %v", status, gd, err)
		}
	}
	for _, bad := range [][]byte{
		nil,
		r.Frame()[1:20],
		append(r.Frame()[1:], 9),
		Data{Request: r, Status: StatusMissing, Bytes: []byte("x")}.Frame()[1:],
		Data{Request: r, Status: 9}.Frame()[1:],
		Data{Request: r, Bytes: make([]byte, maxData+1)}.Frame()[1:],
	} {
		_, err1 := ParseRequest(bad)
		_, err2 := ParseData(bad)
		if !errors.Is(err1, ErrMalformed) || !errors.Is(err2, ErrMalformed) {
			t.Errorf("% x...: %v / %v", bad[:min(len(bad), 8)], err1, err2)
		}
	}
}

func TestCleanMime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"image/png":                 "image/png",
		"text/plain; charset=utf-8": "text/plain",
		"text/html\x1b[2J":          "application/octet-stream",
		"nothing":                   "application/octet-stream",
		"a/b c":                     "application/octet-stream",
	} {
		if got := CleanMime(in); got != want {
			t.Errorf("CleanMime(%q) = %q, want %q", in, got, want)
		}
	}
}
