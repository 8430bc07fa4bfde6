// Package wire is the bounded big-endian codec every mmls-chat decoder
// uses: a Reader whose first error sticks, which checks each length against
// a maximum before allocating, and reports trailing bytes; and a Writer.
// It knows nothing of what the bytes mean.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors a Reader reports; callers wrap them with their own sentinels.
var (
	ErrTruncated = errors.New("wire: truncated")
	ErrTooLarge  = errors.New("wire: field too large")
	ErrTrailing  = errors.New("wire: trailing bytes")
)

// Writer appends big-endian fields to B.
type Writer struct{ B []byte }

func (w *Writer) U8(v uint8)   { w.B = append(w.B, v) }
func (w *Writer) U16(v uint16) { w.B = binary.BigEndian.AppendUint16(w.B, v) }
func (w *Writer) U32(v uint32) { w.B = binary.BigEndian.AppendUint32(w.B, v) }
func (w *Writer) U64(v uint64) { w.B = binary.BigEndian.AppendUint64(w.B, v) }
func (w *Writer) Raw(b []byte) { w.B = append(w.B, b...) }

// Bytes8, Bytes16 and Bytes32 write a length prefix of that many bits and
// the bytes; the caller keeps len(b) within the prefix.
func (w *Writer) Bytes8(b []byte)  { w.U8(uint8(len(b))); w.Raw(b) }
func (w *Writer) Bytes16(b []byte) { w.U16(uint16(len(b))); w.Raw(b) }
func (w *Writer) Bytes32(b []byte) { w.U32(uint32(len(b))); w.Raw(b) }

// Reader consumes big-endian fields from a byte slice. After the first
// error every read returns a zero value; Done reports it.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error so far.
func (r *Reader) Err() error { return r.err }

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: want %d bytes, have %d", ErrTruncated, n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *Reader) U8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *Reader) U16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *Reader) U32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *Reader) U64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Bytes returns a copy of the next n bytes, refusing n > max.
func (r *Reader) Bytes(n, max int) []byte {
	if r.err == nil && n > max {
		r.err = fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, n, max)
		return nil
	}
	return append([]byte(nil), r.take(n)...)
}

// Bytes8, Bytes16 and Bytes32 read a length prefix of that many bits and
// a copy of that many bytes, at most max.
func (r *Reader) Bytes8(max int) []byte  { return r.Bytes(int(r.U8()), max) }
func (r *Reader) Bytes16(max int) []byte { return r.Bytes(int(r.U16()), max) }
func (r *Reader) Bytes32(max int) []byte { return r.Bytes(int(r.U32()), max) }

// Done returns the first error, or ErrTrailing if input is left.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) > 0 {
		r.err = fmt.Errorf("%w: %d", ErrTrailing, len(r.b))
	}
	return r.err
}
