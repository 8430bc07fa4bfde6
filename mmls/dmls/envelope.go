package dmls

import (
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
	"golang.org/x/crypto/cryptobyte"
)

// Envelope is the plaintext inside every application message:
//
//	version  u8      = 2
//	from     [32]    the author's Ed25519 public key (its id is the key's SHA-256)
//	id       [16]    random message id (dedupe key, with the author, for the life of a room)
//	sent_at  i64     author's clock, Unix nanoseconds
//	kind     u8      EnvelopeText, EnvelopeControl or EnvelopeFile
//	to       u16 count (<= MaxMembers), count x { fingerprint [32] | seq u64 }
//	body     u32 len, bytes (text: UTF-8 <= MaxTextSize; control: <= MaxControlSize;
//	                         file: a file offer, mmls/files, <= MaxFileOfferSize)
//	sig      [64]    the author's Ed25519 signature over EnvelopeContext,
//	                 the room id [32] and every byte above
//
// To lists the members of the sender's group when the message was first
// sent, and the recipients it waits for. A message re-protected later
// (after a member lost its state) goes to the group as it is then; members
// not in To drop it unread, so a message is shown exactly to the members
// it was sent to.
//
// Seq numbers, per recipient, the messages its author addressed to it in
// the room: 1, 2, 3, ... with no gaps, so a recipient can say what it
// holds up to and which gaps remain ([Acks]); 0 is a message not counted
// (protocol control). The signature binds the message to its author and
// room whoever carries it: a member that holds it can hand it on
// ([Held]), and the recipient checks it as if it came from its author.
type Envelope struct {
	From   []byte // the author's public key
	ID     MessageID
	SentAt time.Time
	Kind   EnvelopeKind
	To     []Fingerprint
	Seq    []uint64 // per recipient, parallel to To (nil: none counted)
	Body   []byte
	Sig    []byte
}

// EnvelopeContext separates an envelope's signature from every other use
// of the identity key (MLS credentials and messages, the TLS handshake).
const EnvelopeContext = "mmls-chat envelope v2\x00"

// EnvelopeVersion is the version byte of an envelope.
const EnvelopeVersion = 2

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

// Marshal encodes e, signature included, after checking its bounds.
func (e *Envelope) Marshal() ([]byte, error) {
	if len(e.Sig) != sigSize {
		return nil, fmt.Errorf("%w: envelope not signed", ErrMalformed)
	}
	b, err := e.signed()
	if err != nil {
		return nil, err
	}
	return append(b, e.Sig...), nil
}

const (
	keySize = 32
	sigSize = 64
)

// signed encodes everything the signature covers but the context and the
// room: every field but the signature.
func (e *Envelope) signed() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 1+keySize+16+8+1+2+40*len(e.To)+4+len(e.Body)+sigSize))
	b.AddUint8(EnvelopeVersion)
	b.AddBytes(e.From)
	b.AddBytes(e.ID[:])
	b.AddUint64(uint64(e.SentAt.UnixNano()))
	b.AddUint8(uint8(e.Kind))
	b.AddUint16(uint16(len(e.To)))
	for i, fp := range e.To {
		b.AddBytes(fp[:])
		b.AddUint64(e.SeqOf(i))
	}
	addBytes32(b, e.Body)
	return built(b)
}

// signedInput is what the author signs: the context, the room, the
// envelope without its signature.
func signedInput(room RoomID, unsigned []byte) []byte {
	in := make([]byte, 0, len(EnvelopeContext)+len(room)+len(unsigned))
	in = append(append(append(in, EnvelopeContext...), room[:]...), unsigned...)
	return in
}

// Sign signs e as id's, for room (From becomes id's key).
func (e *Envelope) Sign(id *Identity, room RoomID) error {
	e.From = id.PublicKey()
	unsigned, err := e.signed()
	if err != nil {
		return err
	}
	sig, err := id.Sign(signedInput(room, unsigned))
	if err != nil {
		return fmt.Errorf("dmls: sign envelope: %w", classify(err))
	}
	e.Sig = sig
	return nil
}

// Author is the id of the envelope's author: the SHA-256 of From.
func (e *Envelope) Author() Fingerprint { return mlsguard.FingerprintOf(e.From) }

// Verify checks the author's signature over e as a message of room.
func (e *Envelope) Verify(room RoomID) error {
	unsigned, err := e.signed()
	if err != nil {
		return err
	}
	if !mlsguard.Verify(e.From, signedInput(room, unsigned), e.Sig) {
		return fmt.Errorf("%w: the author's signature does not verify", ErrAuth)
	}
	return nil
}

// SeqOf is the sequence number of the i-th recipient (0: none).
func (e *Envelope) SeqOf(i int) uint64 {
	if i < len(e.Seq) {
		return e.Seq[i]
	}
	return 0
}

// SeqFor is the sequence number of the message for fp, if it is a
// recipient.
func (e *Envelope) SeqFor(fp Fingerprint) (uint64, bool) {
	for i, to := range e.To {
		if to == fp {
			return e.SeqOf(i), true
		}
	}
	return 0, false
}

func (e *Envelope) check() error {
	if len(e.From) != keySize {
		return fmt.Errorf("%w: author key of %d bytes", ErrMalformed, len(e.From))
	}
	if e.Seq != nil && len(e.Seq) != len(e.To) {
		return fmt.Errorf("%w: %d sequence numbers for %d recipients", ErrMalformed, len(e.Seq), len(e.To))
	}
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

// UnmarshalEnvelope decodes and checks an envelope (not its signature:
// see [Envelope.Verify]).
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
	if !readCopy(&s, &e.From, keySize) || !s.CopyBytes(e.ID[:]) || !s.ReadUint64(&sentAt) || !s.ReadUint8(&kind) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: envelope header", ErrMalformed)
	}
	e.SentAt, e.Kind = time.Unix(0, int64(sentAt)).UTC(), EnvelopeKind(kind)
	if n > MaxMembers {
		return nil, fmt.Errorf("%w: %d recipients", ErrTooLarge, n)
	}
	e.To, e.Seq = make([]Fingerprint, n), make([]uint64, n)
	for i := range e.To {
		if !s.CopyBytes(e.To[i][:]) || !s.ReadUint64(&e.Seq[i]) {
			return nil, fmt.Errorf("%w: recipients", ErrMalformed)
		}
	}
	if !readBytes32(&s, &e.Body, MaxControlSize) || !readCopy(&s, &e.Sig, sigSize) {
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
