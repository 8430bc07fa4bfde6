package dmls

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Wire format of a DMLS message (all integers big-endian):
//
//	version   u8      = 1
//	kind      u8      Kind*
//	flags     u8      FlagDeparture on a commit whose removals are departures
//	room      [32]    SHA-256 of the room name (names never travel in clear)
//	group     u8 len, bytes (<= 64)   the send group this concerns
//	epoch     u64     the group epoch the message belongs to (Hello* flags for KindKeyPackage)
//	count     u16     number of proposals (KindCommit only, else 0)
//	proposals count x (u32 len, bytes)
//	data      u32 len, bytes   KeyPackage, Welcome, commit, ciphertext or proposal
//
// Every length is bounded by MaxMessageSize; trailing bytes are refused.

// WireVersion is the version byte of every DMLS message.
const WireVersion = 1

// MaxMessageSize bounds one encoded DMLS message.
const MaxMessageSize = 1 << 20

// Kind says what a DMLS message carries.
type Kind uint8

// Message kinds.
const (
	// KindKeyPackage: data is a KeyPackage of the sender; the epoch field
	// holds HelloAddMe and HelloSendYours flags.
	KindKeyPackage Kind = iota + 1
	// KindWelcome: data is a Welcome into the sender's send group.
	KindWelcome
	// KindCommit: proposals and a commit in the sender's send group.
	KindCommit
	// KindApp: data is an application message in the sender's send group.
	KindApp
	// KindProposal: data is an Update proposal for the receiver's group.
	KindProposal
	// KindRejoin: "my state in your group is lost"; data is a fresh
	// KeyPackage; the owner removes the stale leaf and re-adds the sender.
	KindRejoin
	// KindLeave: "remove me from your send group and forget mine" (sent on
	// /leave and to a peer we kick). No data.
	KindLeave
	kindEnd
)

func (k Kind) String() string {
	names := [...]string{"", "keypackage", "welcome", "commit", "app", "proposal", "rejoin", "leave"}
	if k > 0 && k < kindEnd {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// FlagDeparture marks a commit whose removals are departures (the removed
// peer left us, or kicked us), not kicks: receivers do not propagate them.
const FlagDeparture = 1

// Message is one DMLS message between two participants.
type Message struct {
	Kind      Kind
	Flags     uint8
	Room      RoomID
	Group     []byte
	Epoch     uint64
	Proposals [][]byte
	Data      []byte
}

// Flags of a KindKeyPackage message.
const (
	// HelloAddMe: add me to your send group; I hold no state for yours.
	// From a peer already in our group it means the peer lost its state
	// there (a REJOIN).
	HelloAddMe = 1 << 0
	// HelloSendYours: send me your KeyPackage; you are not in my group.
	HelloSendYours = 1 << 1
	// HelloReply: this answers the receiver's HelloSendYours (so a
	// HelloAddMe in it may just mean the receiver's Welcome is in flight,
	// not that we lost our state).
	HelloReply = 1 << 2
)

const maxGroupID = 64

// Marshal encodes m.
func (m *Message) Marshal() ([]byte, error) {
	if m.Kind == 0 || m.Kind >= kindEnd {
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if len(m.Group) > maxGroupID {
		return nil, fmt.Errorf("%w: group id of %d bytes", ErrMalformed, len(m.Group))
	}
	if len(m.Proposals) > 0 && m.Kind != KindCommit || len(m.Proposals) > 0xffff {
		return nil, fmt.Errorf("%w: %d proposals in %v", ErrMalformed, len(m.Proposals), m.Kind)
	}
	if m.Flags&^FlagDeparture != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	}
	size := 1 + 1 + 1 + 32 + 1 + len(m.Group) + 8 + 2 + 4 + len(m.Data)
	for _, p := range m.Proposals {
		size += 4 + len(p)
	}
	if size > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, size)
	}
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, size))
	b.AddUint8(WireVersion)
	b.AddUint8(uint8(m.Kind))
	b.AddUint8(m.Flags)
	b.AddBytes(m.Room[:])
	addBytes8(b, m.Group)
	b.AddUint64(m.Epoch)
	b.AddUint16(uint16(len(m.Proposals)))
	for _, p := range m.Proposals {
		addBytes32(b, p)
	}
	addBytes32(b, m.Data)
	return built(b)
}

// UnmarshalMessage decodes a DMLS message, refusing anything malformed.
func UnmarshalMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(b))
	}
	s := cryptobyte.String(b)
	var version, kind uint8
	var n uint16
	m := &Message{}
	if !s.ReadUint8(&version) {
		return nil, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	if version != WireVersion {
		return nil, fmt.Errorf("%w: wire version %d", ErrVersion, version)
	}
	if !s.ReadUint8(&kind) || !s.ReadUint8(&m.Flags) || !s.CopyBytes(m.Room[:]) ||
		!readBytes8(&s, &m.Group, maxGroupID) || !s.ReadUint64(&m.Epoch) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: message header", ErrMalformed)
	}
	m.Kind = Kind(kind)
	switch {
	case m.Flags&^FlagDeparture != 0:
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	case m.Kind == 0 || m.Kind >= kindEnd:
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	case n > 0 && m.Kind != KindCommit:
		return nil, fmt.Errorf("%w: proposals in a %v", ErrMalformed, m.Kind)
	}
	for i := 0; i < int(n); i++ {
		var p []byte
		if !readBytes32(&s, &p, MaxMessageSize) {
			return nil, fmt.Errorf("%w: proposal %d", ErrMalformed, i)
		}
		m.Proposals = append(m.Proposals, p)
	}
	if !readBytes32(&s, &m.Data, MaxMessageSize) {
		return nil, fmt.Errorf("%w: message data", ErrMalformed)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	return m, nil
}

// The helpers below keep every length explicit and bounded: a length over
// its maximum, or beyond the input, fails the read before anything is
// copied. Decoded fields are copies, never views of the input.

// built returns what b wrote, or why it could not (a field too long for
// its length prefix).
func built(b *cryptobyte.Builder) ([]byte, error) {
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return out, nil
}

func addBytes8(b *cryptobyte.Builder, v []byte) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func addBytes32(b *cryptobyte.Builder, v []byte) {
	b.AddUint32LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func readBytes8(s *cryptobyte.String, out *[]byte, max int) bool {
	var n uint8
	return s.ReadUint8(&n) && int(n) <= max && readCopy(s, out, int(n))
}

func readBytes32(s *cryptobyte.String, out *[]byte, max int) bool {
	var n uint32
	return s.ReadUint32(&n) && uint64(n) <= uint64(max) && readCopy(s, out, int(n))
}

func readCopy(s *cryptobyte.String, out *[]byte, n int) bool {
	var v []byte
	if !s.ReadBytes(&v, n) {
		return false
	}
	*out = append([]byte(nil), v...)
	return true
}
