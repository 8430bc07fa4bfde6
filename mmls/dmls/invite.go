package dmls

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Invitation control bodies travel inside an application message in a
// direct room, so the room's name (and a private room's secret) stays
// encrypted end to end:
//
//	open room:     ctl u8 = ctlInvite         | name u8 len (<= 64)
//	private room:  ctl u8 = ctlInvitePrivate  | name u8 len (<= 64) | secret [32]
//	               ctl u8 = ctlInvitePrivate2 | name u8 len (<= 64) | secret [32] |
//	                        roles u16 len | secret update u16 len (0: none)
//
// (ctlInvitePrivate is a room made before its creator signed its roles:
// any member's removals are followed in it.)

// SecretSize is the size of a private room's secret.
const SecretSize = 32

// Invitation is what an invitation says: the room's name, and for a
// private room its secret (from which its id comes), its signed roles and
// its latest secret update, as they travel (nil when there are none).
type Invitation struct {
	Room   string
	Secret []byte
	Roles  []byte
	Update []byte
}

// InviteBody encodes an invitation to room; a private room's secret goes
// with it (nil for an open room).
func InviteBody(room string, secret []byte) ([]byte, error) {
	return (&Invitation{Room: room, Secret: secret}).Body()
}

// Body encodes the invitation.
func (inv *Invitation) Body() ([]byte, error) {
	room, secret := inv.Room, inv.Secret
	if room == "" || len(room) > maxInviteName {
		return nil, fmt.Errorf("%w: room name of %d bytes", ErrMalformed, len(room))
	}
	if secret != nil && len(secret) != SecretSize || secret == nil && inv.Roles != nil {
		return nil, fmt.Errorf("%w: room secret of %d bytes", ErrMalformed, len(secret))
	}
	b := cryptobyte.NewBuilder(nil)
	switch {
	case secret == nil:
		b.AddUint8(ctlInvite)
	case inv.Roles == nil:
		b.AddUint8(ctlInvitePrivate)
	default:
		b.AddUint8(ctlInvitePrivate2)
	}
	addBytes8(b, []byte(room))
	b.AddBytes(secret)
	if inv.Roles != nil {
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(inv.Roles) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(inv.Update) })
	}
	return built(b)
}

// UnmarshalInvite decodes an invitation body.
func UnmarshalInvite(b []byte) (*Invitation, error) {
	s := cryptobyte.String(b)
	var ctl uint8
	var name []byte
	inv := &Invitation{}
	if !s.ReadUint8(&ctl) {
		return nil, fmt.Errorf("%w: empty invitation", ErrMalformed)
	}
	if ctl != ctlInvite && ctl != ctlInvitePrivate && ctl != ctlInvitePrivate2 {
		return nil, fmt.Errorf("%w: control type %d", ErrMalformed, ctl)
	}
	if !readBytes8(&s, &name, maxInviteName) {
		return nil, fmt.Errorf("%w: invitation", ErrMalformed)
	}
	if ctl != ctlInvite && !readCopy(&s, &inv.Secret, SecretSize) {
		return nil, fmt.Errorf("%w: invitation secret", ErrMalformed)
	}
	if ctl == ctlInvitePrivate2 {
		var roles, update cryptobyte.String
		if !s.ReadUint16LengthPrefixed(&roles) || len(roles) == 0 || !s.ReadUint16LengthPrefixed(&update) {
			return nil, fmt.Errorf("%w: invitation powers", ErrMalformed)
		}
		inv.Roles = bytes.Clone(roles)
		if len(update) > 0 {
			inv.Update = bytes.Clone(update)
		}
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(s))
	}
	if len(name) == 0 || !utf8.Valid(name) {
		return nil, fmt.Errorf("%w: invitation room name", ErrMalformed)
	}
	inv.Room = string(name)
	return inv, nil
}

// NewInvitation makes the control envelope of inv (see NewInvite).
func (s *Session) NewInvitation(inv *Invitation, to Fingerprint) (*Envelope, error) {
	body, err := inv.Body()
	if err != nil {
		return nil, err
	}
	return s.envelope(EnvelopeControl, body, []Fingerprint{to})
}

// Re-send control body: a message of another room, re-sent to one of its
// recipients through the direct room with them (so that a member who
// joined that room since cannot read it):
//
//	ctl u8 = ctlResend | room id [32] | the original envelope (u32 len)

// NewResend makes the control envelope that re-sends e, a message of room,
// to one of its recipients alone. It belongs in the direct room with to.
func (s *Session) NewResend(room RoomID, e *Envelope, to Fingerprint) (*Envelope, error) {
	inner, err := e.Marshal()
	if err != nil {
		return nil, err
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(ctlResend)
	b.AddBytes(room[:])
	addBytes32(b, inner)
	body, err := built(b)
	if err != nil {
		return nil, err
	}
	return s.envelope(EnvelopeControl, body, []Fingerprint{to})
}

// UnmarshalResend decodes a re-send body: the room and the original
// envelope.
func UnmarshalResend(b []byte) (RoomID, *Envelope, error) {
	s := cryptobyte.String(b)
	var ctl uint8
	var room RoomID
	var inner []byte
	if !s.ReadUint8(&ctl) || ctl != ctlResend || !s.CopyBytes(room[:]) || !readBytes32(&s, &inner, MaxControlSize) || !s.Empty() {
		return RoomID{}, nil, fmt.Errorf("%w: re-send", ErrMalformed)
	}
	e, err := UnmarshalEnvelope(inner)
	if err != nil {
		return RoomID{}, nil, err
	}
	if e.Kind != EnvelopeText && e.Kind != EnvelopeFile {
		return RoomID{}, nil, fmt.Errorf("%w: re-send of a control message", ErrMalformed)
	}
	return room, e, nil
}
