package dmls

import (
	"errors"
	"fmt"

	"github.com/mmls-chat/mmls-chat/transport/wire"
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
	w := &wire.Writer{}
	if m.Flags&^FlagDeparture != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	}
	w.U8(WireVersion)
	w.U8(uint8(m.Kind))
	w.U8(m.Flags)
	w.Raw(m.Room[:])
	w.Bytes8(m.Group)
	w.U64(m.Epoch)
	w.U16(uint16(len(m.Proposals)))
	for _, p := range m.Proposals {
		w.Bytes32(p)
	}
	w.Bytes32(m.Data)
	if len(w.B) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(w.B))
	}
	return w.B, nil
}

// UnmarshalMessage decodes a DMLS message, refusing anything malformed.
func UnmarshalMessage(b []byte) (*Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrTooLarge, len(b))
	}
	r := wire.NewReader(b)
	if v := r.U8(); r.Err() == nil && v != WireVersion {
		return nil, fmt.Errorf("%w: wire version %d", ErrVersion, v)
	}
	m := &Message{Kind: Kind(r.U8()), Flags: r.U8()}
	if r.Err() == nil && m.Flags&^FlagDeparture != 0 {
		return nil, fmt.Errorf("%w: flags %#x", ErrMalformed, m.Flags)
	}
	copy(m.Room[:], r.Raw(32))
	m.Group = r.Bytes8(maxGroupID)
	m.Epoch = r.U64()
	n := int(r.U16())
	if r.Err() == nil && (m.Kind == 0 || m.Kind >= kindEnd) {
		return nil, fmt.Errorf("%w: kind %d", ErrMalformed, m.Kind)
	}
	if r.Err() == nil && n > 0 && m.Kind != KindCommit {
		return nil, fmt.Errorf("%w: proposals in a %v", ErrMalformed, m.Kind)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		m.Proposals = append(m.Proposals, r.Bytes32(MaxMessageSize))
	}
	m.Data = r.Bytes32(MaxMessageSize)
	if err := r.Done(); err != nil {
		return nil, wireErr(err)
	}
	return m, nil
}

// wireErr maps a wire.Reader error onto this package's sentinels.
func wireErr(err error) error {
	if errors.Is(err, wire.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}
