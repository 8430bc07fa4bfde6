package files

import (
	"bytes"
	"testing"
)

// FuzzParseOffer: any bytes parse or fail cleanly; what parses is within
// bounds, its name a plain name, and encodes back to what parses the same.
func FuzzParseOffer(f *testing.F) {
	good, _ := sampleOffer().Marshal()
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOffer(b)
		if err != nil {
			return
		}
		if o.Chunks() > MaxChunks || o.Size > MaxSize || SafeName(o.Name) != o.Name || CleanMime(o.Mime) != o.Mime {
			t.Fatalf("out of bounds: %+v", o)
		}
		again, err := o.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		o2, err := ParseOffer(again)
		if err != nil || *o2 != *o {
			t.Fatalf("round trip: %+v %v", o2, err)
		}
	})
}

// FuzzFrames: any bytes parse as a request or a data frame, or fail
// cleanly; what parses encodes back to the same bytes.
func FuzzFrames(f *testing.F) {
	r := Request{What: WhatChunk, Index: 3}
	f.Add(r.Frame()[1:])
	f.Add(Data{Request: r, Status: StatusData, Bytes: []byte("sealed")}.Frame()[1:])
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseRequest(b); err == nil && !bytes.Equal(r.Frame()[1:], b) {
			t.Fatalf("request does not round-trip")
		}
		if d, err := ParseData(b); err == nil && !bytes.Equal(d.Frame()[1:], b) {
			t.Fatalf("data does not round-trip")
		}
	})
}

// FuzzSafeName: a cleaned name is never a path, never empty, never
// hidden, and cleaning it again changes nothing.
func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"../../.bashrc", "CON", "a\x1b[2Jb", "x\u202ey"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := SafeName(s)
		if n == "" || n == "." || n == ".." || bytes.ContainsAny([]byte(n), "/\\\x00") || n[0] == '.' || len(n) > maxSavedName || SafeName(n) != n {
			t.Fatalf("SafeName(%q) = %q", s, n)
		}
	})
}
