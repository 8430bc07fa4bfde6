package dmls

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Envelope is the plaintext inside every application message:
//
//	version  u8      = 1
//	id       [16]    random message id (dedupe key for the life of a room)
//	sent_at  i64     sender's clock, Unix nanoseconds
//	kind     u8      EnvelopeText or EnvelopeControl
//	body     u32 len, bytes (text: UTF-8 <= MaxTextSize; control: <= MaxControlSize)
type Envelope struct {
	ID     MessageID
	SentAt time.Time
	Kind   EnvelopeKind
	Body   []byte
}

// EnvelopeVersion is the version byte of an envelope.
const EnvelopeVersion = 1

// Bounds on envelope bodies.
const (
	MaxTextSize    = 64 << 10
	MaxControlSize = 256 << 10
)

// MessageID identifies one application message.
type MessageID [16]byte

func (id MessageID) String() string { return fmt.Sprintf("%x", id[:]) }

// EnvelopeKind distinguishes user text from protocol control messages.
type EnvelopeKind uint8

// Envelope kinds.
const (
	EnvelopeText    EnvelopeKind = 1
	EnvelopeControl EnvelopeKind = 2
)

// Marshal encodes e after checking its bounds.
func (e *Envelope) Marshal() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	w := &writer{}
	w.u8(EnvelopeVersion)
	w.raw(e.ID[:])
	w.u64(uint64(e.SentAt.UnixNano()))
	w.u8(uint8(e.Kind))
	w.bytes32(e.Body)
	return w.b, nil
}

func (e *Envelope) check() error {
	switch e.Kind {
	case EnvelopeText:
		if len(e.Body) > MaxTextSize {
			return fmt.Errorf("%w: text of %d bytes (max %d)", ErrTooLarge, len(e.Body), MaxTextSize)
		}
		if !utf8.Valid(e.Body) {
			return fmt.Errorf("%w: text is not UTF-8", ErrMalformed)
		}
	case EnvelopeControl:
		if len(e.Body) > MaxControlSize {
			return fmt.Errorf("%w: control body of %d bytes", ErrTooLarge, len(e.Body))
		}
	default:
		return fmt.Errorf("%w: envelope kind %d", ErrMalformed, e.Kind)
	}
	return nil
}

// UnmarshalEnvelope decodes and checks an envelope.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	r := &reader{b: b}
	if v := r.u8(); r.err == nil && v != EnvelopeVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrVersion, v)
	}
	e := &Envelope{}
	copy(e.ID[:], r.raw(16))
	e.SentAt = time.Unix(0, int64(r.u64())).UTC()
	e.Kind = EnvelopeKind(r.u8())
	e.Body = r.bytes32(MaxControlSize)
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}
