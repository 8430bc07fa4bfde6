package peerid

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	id := Of([]byte("a public key"))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"its own form", id.String(), true},
		{"upper case", strings.ToUpper(id.String()), true},
		{"one digit short", id.String()[1:], false},
		{"one digit more", id.String() + "0", false},
		{"two digits more", id.String() + "00", false},
		{"two digits short", id.String()[2:], false},
		{"not hex", "zz" + id.String()[2:], false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Parse(tc.in)
			if ok != tc.ok || ok && got != id {
				t.Fatalf("Parse(%q) = %v, %v", tc.in, got, ok)
			}
		})
	}
	if s := id.Short(); len(s) != 8 || !strings.HasPrefix(id.String(), s) {
		t.Fatalf("Short %q of %s", s, id)
	}
	if Of([]byte("another key")) == id {
		t.Fatal("two keys, one id")
	}
}

// FuzzParse: whatever parses prints back as itself (in lower case).
func FuzzParse(f *testing.F) {
	f.Add(Of([]byte("seed")).String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := Parse(s)
		if ok && id.String() != strings.ToLower(s) {
			t.Fatalf("%q parsed, prints as %q", s, id)
		}
	})
}
