package dmls

import (
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
)

// Invitation control body: ctl u8 = ctlInvite | name u8 len (<= 64) | name.
// It travels inside an application message in a direct room, so the room
// name stays encrypted.

// InviteBody encodes an invitation to room.
func InviteBody(room string) ([]byte, error) {
	if room == "" || len(room) > maxInviteName {
		return nil, fmt.Errorf("%w: room name of %d bytes", ErrMalformed, len(room))
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddUint8(ctlInvite)
	addBytes8(b, []byte(room))
	return built(b)
}

// UnmarshalInvite decodes an invitation body.
func UnmarshalInvite(b []byte) (string, error) {
	s := cryptobyte.String(b)
	var ctl uint8
	var name []byte
	if !s.ReadUint8(&ctl) {
		return "", fmt.Errorf("%w: empty invitation", ErrMalformed)
	}
	if ctl != ctlInvite {
		return "", fmt.Errorf("%w: control type %d", ErrMalformed, ctl)
	}
	if !readBytes8(&s, &name, maxInviteName) || !s.Empty() {
		return "", fmt.Errorf("%w: invitation", ErrMalformed)
	}
	if len(name) == 0 || !utf8.Valid(name) {
		return "", fmt.Errorf("%w: invitation room name", ErrMalformed)
	}
	return string(name), nil
}
