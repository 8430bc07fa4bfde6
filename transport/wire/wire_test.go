package wire

import (
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	t.Parallel()
	w := &Writer{}
	w.U8(1)
	w.U16(2)
	w.U32(3)
	w.U64(4)
	w.Bytes8([]byte("ab"))
	w.Bytes16([]byte("cde"))
	w.Bytes32([]byte("f"))
	good := w.B
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"round trip", good, 8, nil},
		{"truncated", good[:len(good)-1], 8, ErrTruncated},
		{"trailing", append(append([]byte{}, good...), 0), 8, ErrTrailing},
		{"over the bound", good, 2, ErrTooLarge},
		{"empty", nil, 8, ErrTruncated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewReader(tc.in)
			a, b, c, d := r.U8(), r.U16(), r.U32(), r.U64()
			e, f, g := r.Bytes8(tc.max), r.Bytes16(tc.max), r.Bytes32(tc.max)
			err := r.Done()
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if tc.want == nil && (a != 1 || b != 2 || c != 3 || d != 4 || string(e) != "ab" || string(f) != "cde" || string(g) != "f") {
				t.Fatalf("values %v %v %v %v %q %q %q", a, b, c, d, e, f, g)
			}
		})
	}
}
