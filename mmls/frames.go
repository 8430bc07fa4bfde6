package mmls

import (
	"encoding/binary"
	"fmt"
)

// Engine frames: the first byte of a transport payload says what it
// carries (4 and 5 are mmls/files' chunk requests and data; 3, a receipt
// per message, was replaced by cumulative acknowledgements).
const (
	frameDMLS  = 1  // a DMLS message (dmls.Message)
	frameRooms = 2  // which rooms we are in (announcement)
	frameAcks  = 6  // what a member holds of a room's messages (dmls.Acks)
	frameHeld  = 7  // a member's message another member hands on (dmls.Held)
	frameAck   = 8  // what we hold of the receiver's own messages in a room: room id [32] | entry (dmls.MarshalEntry)
	frameNick  = 9  // our nick from now on: its UTF-8 bytes (nick.go)
	frameAway  = 10 // we are away, and why: its UTF-8 bytes; none when back (nick.go)

	maxAnnouncedRooms = 256
)

// ErrMalformed wraps every engine frame that does not parse.
var ErrMalformed = fmt.Errorf("mmls: malformed frame")

func dmlsFrame(msg []byte) []byte { return append([]byte{frameDMLS}, msg...) }

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
	direct := byte(0)
	if a.direct {
		direct = 1
	}
	b := append([]byte{frameRooms, direct}, a.nonce[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(tags)))
	for _, t := range tags {
		b = append(b, t[:]...)
	}
	return b
}

// parseRooms decodes the body of a rooms frame.
func parseRooms(b []byte) (*announcement, error) {
	if len(b) < 1+nonceSize+2 || b[0] > 1 {
		return nil, fmt.Errorf("%w: rooms frame of %d bytes", ErrMalformed, len(b))
	}
	a := &announcement{direct: b[0] == 1}
	copy(a.nonce[:], b[1:])
	b = b[1+nonceSize:]
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n > maxAnnouncedRooms || len(b) != 32*n {
		return nil, fmt.Errorf("%w: rooms frame: %d tags in %d bytes", ErrMalformed, n, len(b))
	}
	a.tags = make([][32]byte, n)
	for i := range a.tags {
		copy(a.tags[i][:], b[32*i:])
	}
	return a, nil
}
