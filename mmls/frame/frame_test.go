package frame

import (
	"bytes"
	"errors"
	"testing"
)

func TestTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k      Kind
		known  bool
		stored bool
		name   string
	}{
		{0, false, false, "frame 0"},
		{DMLS, true, true, "dmls"},
		{Rooms, true, true, "rooms"},
		{3, false, false, "frame 3"}, // retired: never reused
		{FileRequest, true, false, "file request"},
		{FileData, true, false, "file data"},
		{Acks, true, true, "acknowledgements"},
		{Held, true, true, "held message"},
		{Ack, true, true, "acknowledgement"},
		{Nick, true, true, "nick"},
		{Away, true, true, "away"},
		{11, false, false, "frame 11"},
		{255, false, false, "frame 255"},
	}
	for _, tc := range tests {
		if tc.k.Known() != tc.known || tc.k.Stored() != tc.stored || tc.k.String() != tc.name {
			t.Errorf("kind %d: known %v stored %v %q", uint8(tc.k), tc.k.Known(), tc.k.Stored(), tc.k.String())
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload []byte
		kind    Kind
		body    []byte
		err     error
	}{
		{nil, 0, nil, ErrEmpty},
		{[]byte{}, 0, nil, ErrEmpty},
		{[]byte{byte(DMLS)}, DMLS, []byte{}, nil},
		{[]byte{byte(Nick), 'b', 'o', 'b'}, Nick, []byte("bob"), nil},
		{[]byte{3, 1, 2}, 3, nil, ErrUnknown},
		{[]byte{200}, 200, nil, ErrUnknown},
	}
	for _, tc := range tests {
		k, body, err := Split(tc.payload)
		if k != tc.kind || !bytes.Equal(body, tc.body) || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Split(%v) = %d %q %v", tc.payload, k, body, err)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	p := New(Held, []byte("ab"), nil, []byte("c"))
	if !bytes.Equal(p, []byte{byte(Held), 'a', 'b', 'c'}) || cap(p) != len(p) {
		t.Fatalf("New: %v (cap %d)", p, cap(p))
	}
	if k, body, err := Split(p); k != Held || string(body) != "abc" || err != nil {
		t.Fatalf("round trip: %d %q %v", k, body, err)
	}
	if p := New(Away); !bytes.Equal(p, []byte{byte(Away)}) {
		t.Fatalf("an empty body: %v", p)
	}
}

// FuzzSplit: any payload splits without panicking into a known kind and
// the rest of it, or an error; what splits is rebuilt by New.
func FuzzSplit(f *testing.F) {
	f.Add([]byte{byte(DMLS), 1, 2, 3})
	f.Add([]byte{3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		k, body, err := Split(payload)
		if err != nil {
			return
		}
		if !k.Known() || !bytes.Equal(New(k, body), payload) {
			t.Fatalf("kind %d body %v from %v", k, body, payload)
		}
	})
}
