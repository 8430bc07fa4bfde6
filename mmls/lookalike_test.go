package mmls

import "testing"

func TestSkeleton(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"bob", "bob", true},
		{"bob", "BOB", true},
		{"bob", "bоb", true},     // Cyrillic о
		{"alice", "аlice", true}, // Cyrillic а
		{"bob", "ｂｏｂ", true},     // fullwidth
		{"bob", "b0b", true},
		{"emma", "ernma", true},
		{"will", "wi11", true},
		{"josé", "jose", true}, // a combining or precomposed accent
		{"bob", "rob", false},
		{"alice", "alicia", false},
		{"carol", "carl", false},
	} {
		if got := skeleton(tc.a) == skeleton(tc.b); got != tc.same {
			t.Errorf("%q and %q: look alike %v, want %v (%q, %q)", tc.a, tc.b, got, tc.same, skeleton(tc.a), skeleton(tc.b))
		}
	}
}
