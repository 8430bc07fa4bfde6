package dmls

import (
	"fmt"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Envelope is the plaintext inside every application message:
//
//	version  u8      = 1
//	id       [16]    random message id (dedupe key for the life of a room)
//	sent_at  i64     sender's clock, Unix nanoseconds
//	kind     u8      EnvelopeText, EnvelopeControl or EnvelopeFile
//	to       u16 count (<= MaxMembers), count x [32] fingerprints
//	body     u32 len, bytes (text: UTF-8 <= MaxTextSize; control: <= MaxControlSize;
//	                         file: a file offer, mmls/files, <= MaxFileOfferSize)
//
// To lists the members of the sender's group when the message was first
// sent. A message re-protected later (after a member lost its state) goes
// to the group as it is then; members not in To drop it unread, so a
// message is shown exactly to the members it was sent to.
type Envelope struct {
	ID     MessageID
	SentAt time.Time
	Kind   EnvelopeKind
	To     []Fingerprint
	Body   []byte
}

// EnvelopeVersion is the version byte of an envelope.
const EnvelopeVersion = 1

// Bounds on envelope bodies.
const (
	MaxTextSize    = 64 << 10
	MaxControlSize = 256 << 10
	// MaxFileOfferSize bounds a file offer (mmls/files.MaxOfferSize fits).
	MaxFileOfferSize = 1 << 10
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
	// EnvelopeFile: a file offer (mmls/files), shown like a message.
	EnvelopeFile EnvelopeKind = 3
)

// Marshal encodes e after checking its bounds.
func (e *Envelope) Marshal() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 1+16+8+1+2+32*len(e.To)+4+len(e.Body)))
	b.AddUint8(EnvelopeVersion)
	b.AddBytes(e.ID[:])
	b.AddUint64(uint64(e.SentAt.UnixNano()))
	b.AddUint8(uint8(e.Kind))
	b.AddUint16(uint16(len(e.To)))
	for _, fp := range e.To {
		b.AddBytes(fp[:])
	}
	addBytes32(b, e.Body)
	return built(b)
}

func (e *Envelope) check() error {
	if len(e.To) > MaxMembers {
		return fmt.Errorf("%w: %d recipients", ErrTooLarge, len(e.To))
	}
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
	case EnvelopeFile:
		if len(e.Body) > MaxFileOfferSize {
			return fmt.Errorf("%w: file offer of %d bytes", ErrTooLarge, len(e.Body))
		}
	default:
		return fmt.Errorf("%w: envelope kind %d", ErrMalformed, e.Kind)
	}
	return nil
}

// AddressedTo reports whether fp is among the recipients.
func (e *Envelope) AddressedTo(fp Fingerprint) bool {
	for _, to := range e.To {
		if to == fp {
			return true
		}
	}
	return false
}

// UnmarshalEnvelope decodes and checks an envelope.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	s := cryptobyte.String(b)
	var version, kind uint8
	var sentAt uint64
	var n uint16
	if !s.ReadUint8(&version) {
		return nil, fmt.Errorf("%w: empty envelope", ErrMalformed)
	}
	if version != EnvelopeVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrVersion, version)
	}
	e := &Envelope{}
	if !s.CopyBytes(e.ID[:]) || !s.ReadUint64(&sentAt) || !s.ReadUint8(&kind) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: envelope header", ErrMalformed)
	}
	e.SentAt, e.Kind = time.Unix(0, int64(sentAt)).UTC(), EnvelopeKind(kind)
	if n > MaxMembers {
		return nil, fmt.Errorf("%w: %d recipients", ErrTooLarge, n)
	}
	e.To = make([]Fingerprint, n)
	for i := range e.To {
		if !s.CopyBytes(e.To[i][:]) {
			return nil, fmt.Errorf("%w: recipients", ErrMalformed)
		}
	}
	if !readBytes32(&s, &e.Body, MaxControlSize) {
		return nil, fmt.Errorf("%w: envelope body", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}
