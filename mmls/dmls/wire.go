package dmls

import (
	"encoding/binary"
	"fmt"
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
	w := &writer{}
	if m.Flags&^FlagDeparture != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	}
	w.u8(WireVersion)
	w.u8(uint8(m.Kind))
	w.u8(m.Flags)
	w.raw(m.Room[:])
	w.bytes8(m.Group)
	w.u64(m.Epoch)
	w.u16(uint16(len(m.Proposals)))
	for _, p := range m.Proposals {
		w.bytes32(p)
	}
	w.bytes32(m.Data)
	if len(w.b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(w.b))
	}
	return w.b, nil
}

// UnmarshalMessage decodes a DMLS message, refusing anything malformed.
func UnmarshalMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(b))
	}
	r := &reader{b: b}
	if v := r.u8(); r.err == nil && v != WireVersion {
		return nil, fmt.Errorf("%w: wire version %d", ErrVersion, v)
	}
	m := &Message{Kind: Kind(r.u8()), Flags: r.u8()}
	if r.err == nil && m.Flags&^FlagDeparture != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	}
	copy(m.Room[:], r.raw(32))
	m.Group = r.bytes8(maxGroupID)
	m.Epoch = r.u64()
	n := int(r.u16())
	if r.err == nil && (m.Kind == 0 || m.Kind >= kindEnd) {
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if r.err == nil && n > 0 && m.Kind != KindCommit {
		return nil, fmt.Errorf("%w: proposals in a %v", ErrMalformed, m.Kind)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m.Proposals = append(m.Proposals, r.bytes32(MaxMessageSize))
	}
	m.Data = r.bytes32(MaxMessageSize)
	if err := r.done(); err != nil {
		return nil, err
	}
	return m, nil
}

// writer appends big-endian fields.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) raw(b []byte) { w.b = append(w.b, b...) }
func (w *writer) bytes8(b []byte) {
	w.u8(uint8(len(b)))
	w.raw(b)
}
func (w *writer) bytes16(b []byte) {
	w.u16(uint16(len(b)))
	w.raw(b)
}
func (w *writer) bytes32(b []byte) {
	w.u32(uint32(len(b)))
	w.raw(b)
}

// reader consumes big-endian fields; the first error sticks and later
// reads return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated (want %d bytes, have %d)", ErrMalformed, n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) raw(n int) []byte { return r.take(n) }

func (r *reader) limited(n, max int) []byte {
	if r.err == nil && n > max {
		r.err = fmt.Errorf("%w: field of %d bytes exceeds %d", ErrTooLarge, n, max)
		return nil
	}
	return append([]byte(nil), r.take(n)...)
}

func (r *reader) bytes8(max int) []byte  { return r.limited(int(r.u8()), max) }
func (r *reader) bytes16(max int) []byte { return r.limited(int(r.u16()), max) }
func (r *reader) bytes32(max int) []byte { return r.limited(int(r.u32()), max) }

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(r.b))
	}
	return r.err
}
