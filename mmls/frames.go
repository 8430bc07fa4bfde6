package mmls

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"

	"github.com/mmls-chat/mmls-chat/mmls/frame"
)

// What the engine's frames carry is in one table, mmls/frame; the engine
// decodes each once, in onFrame (peers.go).

// maxAnnouncedRooms bounds the tags of a rooms frame.
const maxAnnouncedRooms = 256

// ErrMalformed wraps every engine frame that does not parse.
var ErrMalformed = fmt.Errorf("mmls: malformed frame")

func dmlsFrame(msg []byte) []byte { return frame.New(frame.DMLS, msg) }

// announcement is what a rooms frame says to one peer: whether we hold the
// direct room with this peer, and a tag per other room we are in, which
// only a peer in the same room can recognise (dmls.RoomTag keyed by the
// room's key: a private room's secret, an open room's id, which comes
// from its name). A peer learns the rooms it shares with us, and nothing
// of the others: not even an open room's id, without its name.
type announcement struct {
	direct bool
	nonce  [16]byte
	tags   [][32]byte
}

const nonceSize = 16

func (a *announcement) frame() []byte {
	tags := a.tags
	if len(tags) > maxAnnouncedRooms {
		tags = tags[:maxAnnouncedRooms]
	}
	direct := uint8(0)
	if a.direct {
		direct = 1
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 2+nonceSize+2+32*len(tags)))
	b.AddUint8(uint8(frame.Rooms))
	b.AddUint8(direct)
	b.AddBytes(a.nonce[:])
	b.AddUint16(uint16(len(tags)))
	for _, t := range tags {
		b.AddBytes(t[:])
	}
	return b.BytesOrPanic() // no length prefixes: it cannot fail
}

// parseRooms decodes the body of a rooms frame.
func parseRooms(body []byte) (*announcement, error) {
	s := cryptobyte.String(body)
	var direct uint8
	var n uint16
	a := &announcement{}
	if !s.ReadUint8(&direct) || direct > 1 || !s.CopyBytes(a.nonce[:]) || !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: rooms frame of %d bytes", ErrMalformed, len(body))
	}
	if n > maxAnnouncedRooms || len(s) != 32*int(n) {
		return nil, fmt.Errorf("%w: rooms frame: %d tags in %d bytes", ErrMalformed, n, len(s))
	}
	a.direct = direct == 1
	a.tags = make([][32]byte, n)
	for i := range a.tags {
		s.CopyBytes(a.tags[i][:])
	}
	return a, nil
}
