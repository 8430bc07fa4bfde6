package dmls

import (
	"fmt"
	"sort"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
	"golang.org/x/crypto/cryptobyte"
)

// Acknowledgements are cumulative: a member says, per author of a room,
// which of the messages the author addressed to it it holds (stored for
// good), as "everything up to Upto, but for these gaps". Each author
// numbers the messages it addresses to each recipient 1, 2, 3, ...
// (Envelope.Seq), so the gaps are exactly what the member misses. One
// record covers a room; it is signed by the member, so whoever carries it
// (another member, handing it on) cannot change it, and the newest
// (Version) replaces the older ones.
//
//	room     [32]
//	from     [32]   the member's Ed25519 public key
//	version  u64    grows with every record of this member for this room
//	count    u16    (<= MaxAckAuthors)
//	count x { author [32] | upto u64 | gaps u8 (<= MaxGaps) | gaps x { lo u64 | hi u64 } }
//	sig      [64]   over AcksContext and every byte above

// AcksContext separates an acknowledgement's signature from every other
// use of the identity key.
const AcksContext = "mmls-chat acks v1\x00"

// Bounds of an acknowledgement record.
const (
	// MaxAckAuthors: authors in one record (those acknowledged last are
	// kept).
	MaxAckAuthors = 256
	// MaxGaps: gaps per author; past it the two gaps closest to each
	// other become one: the record claims less than is held (the few
	// messages between them), never more, and always what came last.
	MaxGaps = 32
)

// SeqRange is the sequence numbers Lo to Hi, both included.
type SeqRange struct{ Lo, Hi uint64 }

// AckEntry is what a member holds of one author's messages to it.
type AckEntry struct {
	Author Fingerprint
	Upto   uint64
	Gaps   []SeqRange // ascending, disjoint, inside 1..Upto
}

// Has reports whether the entry says message seq is held.
func (a *AckEntry) Has(seq uint64) bool {
	if seq == 0 || seq > a.Upto {
		return false
	}
	for _, g := range a.Gaps {
		if seq >= g.Lo && seq <= g.Hi {
			return false
		}
	}
	return true
}

// Add records that message seq is held; it reports whether that is news.
func (a *AckEntry) Add(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > a.Upto:
		if seq > a.Upto+1 {
			a.Gaps = append(a.Gaps, SeqRange{a.Upto + 1, seq - 1})
		}
		a.Upto = seq
	default:
		i := sort.Search(len(a.Gaps), func(i int) bool { return a.Gaps[i].Hi >= seq })
		if i == len(a.Gaps) || a.Gaps[i].Lo > seq {
			return false // held already
		}
		g := a.Gaps[i]
		var split []SeqRange
		if g.Lo < seq {
			split = append(split, SeqRange{g.Lo, seq - 1})
		}
		if seq < g.Hi {
			split = append(split, SeqRange{seq + 1, g.Hi})
		}
		a.Gaps = append(a.Gaps[:i], append(split, a.Gaps[i+1:]...)...)
	}
	for len(a.Gaps) > MaxGaps {
		// Claim less than is held, never more, and never less than the
		// newest: gaps that stay for good (a message cancelled for us
		// when we were removed, say) must not stop us from saying what
		// comes after. What falls between the merged gaps may be handed
		// to us again (and is deduplicated).
		best := 0
		for i := 1; i+1 < len(a.Gaps); i++ {
			if a.Gaps[i+1].Lo-a.Gaps[i].Hi < a.Gaps[best+1].Lo-a.Gaps[best].Hi {
				best = i
			}
		}
		a.Gaps[best].Hi = a.Gaps[best+1].Hi
		a.Gaps = append(a.Gaps[:best+1], a.Gaps[best+2:]...)
	}
	return true
}

// valid: at most MaxGaps gaps, ascending, apart, each inside 1..Upto-1
// (Upto itself is held).
func (a *AckEntry) valid() bool {
	if len(a.Gaps) > MaxGaps {
		return false
	}
	for i, g := range a.Gaps {
		if g.Lo == 0 || g.Lo > g.Hi || g.Hi >= a.Upto || i > 0 && g.Lo <= a.Gaps[i-1].Hi+1 {
			return false
		}
	}
	return true
}

// Acks is one member's acknowledgement record for a room.
type Acks struct {
	Room    RoomID
	From    []byte // the member's public key
	Version uint64
	Entries []AckEntry
	Sig     []byte
}

// Member is the id of the member whose record this is.
func (a *Acks) Member() Fingerprint { return mlsguard.FingerprintOf(a.From) }

// Entry returns the entry of author (a zero one, holding nothing, when
// there is none).
func (a *Acks) Entry(author Fingerprint) AckEntry {
	for _, e := range a.Entries {
		if e.Author == author {
			return e
		}
	}
	return AckEntry{Author: author}
}

func (a *Acks) signed() ([]byte, error) {
	if len(a.From) != keySize {
		return nil, fmt.Errorf("%w: acknowledgement key of %d bytes", ErrMalformed, len(a.From))
	}
	if len(a.Entries) > MaxAckAuthors {
		return nil, fmt.Errorf("%w: %d authors acknowledged", ErrTooLarge, len(a.Entries))
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, len(AcksContext)+32+keySize+8+2+len(a.Entries)*41+sigSize))
	b.AddBytes([]byte(AcksContext))
	b.AddBytes(a.Room[:])
	b.AddBytes(a.From)
	b.AddUint64(a.Version)
	b.AddUint16(uint16(len(a.Entries)))
	for i := range a.Entries {
		e := &a.Entries[i]
		if !e.valid() {
			return nil, fmt.Errorf("%w: acknowledgement of %s", ErrMalformed, e.Author.Short())
		}
		addEntry(b, e)
	}
	return built(b)
}

// Sign signs the record as id's (From becomes id's key).
func (a *Acks) Sign(id *Identity) error {
	a.From = id.PublicKey()
	in, err := a.signed()
	if err != nil {
		return err
	}
	if a.Sig, err = id.Sign(in); err != nil {
		return fmt.Errorf("dmls: sign acknowledgements: %w", classify(err))
	}
	return nil
}

// Verify checks the member's signature.
func (a *Acks) Verify() error {
	in, err := a.signed()
	if err != nil {
		return err
	}
	if !mlsguard.Verify(a.From, in, a.Sig) {
		return fmt.Errorf("%w: an acknowledgement whose signature does not verify", ErrAuth)
	}
	return nil
}

// Marshal encodes a signed record.
func (a *Acks) Marshal() ([]byte, error) {
	if len(a.Sig) != sigSize {
		return nil, fmt.Errorf("%w: acknowledgements not signed", ErrMalformed)
	}
	in, err := a.signed()
	if err != nil {
		return nil, err
	}
	return append(in[len(AcksContext):], a.Sig...), nil
}

// UnmarshalAcks decodes a record (not its signature: see [Acks.Verify]).
func UnmarshalAcks(b []byte) (*Acks, error) {
	s := cryptobyte.String(b)
	a := &Acks{}
	var n uint16
	if !s.CopyBytes(a.Room[:]) || !readCopy(&s, &a.From, keySize) || !s.ReadUint64(&a.Version) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: acknowledgement header", ErrMalformed)
	}
	if n > MaxAckAuthors {
		return nil, fmt.Errorf("%w: %d authors acknowledged", ErrTooLarge, n)
	}
	a.Entries = make([]AckEntry, n)
	for i := range a.Entries {
		if !readEntry(&s, &a.Entries[i]) {
			return nil, fmt.Errorf("%w: acknowledgement entry %d", ErrMalformed, i)
		}
	}
	if !readCopy(&s, &a.Sig, sigSize) || !s.Empty() {
		return nil, fmt.Errorf("%w: acknowledgement signature", ErrMalformed)
	}
	return a, nil
}

// MarshalEntry encodes one entry alone (as a member keeps its own).
func MarshalEntry(e AckEntry) ([]byte, error) {
	if !e.valid() {
		return nil, fmt.Errorf("%w: acknowledgement of %s", ErrMalformed, e.Author.Short())
	}
	b := cryptobyte.NewBuilder(nil)
	addEntry(b, &e)
	return built(b)
}

// addEntry writes a valid entry: author | upto | gaps (lo | hi)*.
func addEntry(b *cryptobyte.Builder, e *AckEntry) {
	b.AddBytes(e.Author[:])
	b.AddUint64(e.Upto)
	b.AddUint8(uint8(len(e.Gaps)))
	for _, g := range e.Gaps {
		b.AddUint64(g.Lo)
		b.AddUint64(g.Hi)
	}
}

// UnmarshalEntry decodes what MarshalEntry encoded.
func UnmarshalEntry(b []byte) (AckEntry, error) {
	s := cryptobyte.String(b)
	var e AckEntry
	if !readEntry(&s, &e) || !s.Empty() {
		return e, fmt.Errorf("%w: acknowledgement entry", ErrMalformed)
	}
	return e, nil
}

// readEntry reads what addEntry wrote, and reports whether it is a valid
// entry (at most MaxGaps gaps, in order: see valid).
func readEntry(s *cryptobyte.String, e *AckEntry) bool {
	var gaps uint8
	if !s.CopyBytes(e.Author[:]) || !s.ReadUint64(&e.Upto) || !s.ReadUint8(&gaps) || gaps > MaxGaps {
		return false
	}
	if gaps > 0 {
		e.Gaps = make([]SeqRange, gaps)
	}
	for j := range e.Gaps {
		if !s.ReadUint64(&e.Gaps[j].Lo) || !s.ReadUint64(&e.Gaps[j].Hi) {
			return false
		}
	}
	return e.valid()
}

// Held is a message one member hands on to another: the room and the
// author's signed envelope, as it was sent. The receiver checks the
// signature as if the author had sent it itself.
//
//	room      [32]
//	envelope  u32 len, bytes (<= MaxMessageSize)
type Held struct {
	Room     RoomID
	Envelope []byte
}

// Marshal encodes h.
func (h *Held) Marshal() ([]byte, error) {
	if len(h.Envelope) > MaxMessageSize {
		return nil, fmt.Errorf("%w: held message of %d bytes", ErrTooLarge, len(h.Envelope))
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 32+4+len(h.Envelope)))
	b.AddBytes(h.Room[:])
	addBytes32(b, h.Envelope)
	return built(b)
}

// UnmarshalHeld decodes a held message (its envelope is decoded and
// checked by the receiver).
func UnmarshalHeld(b []byte) (*Held, error) {
	s := cryptobyte.String(b)
	h := &Held{}
	if !s.CopyBytes(h.Room[:]) || !readBytes32(&s, &h.Envelope, MaxMessageSize) || !s.Empty() {
		return nil, fmt.Errorf("%w: held message", ErrMalformed)
	}
	return h, nil
}
