package mmls

import (
	"encoding/binary"
	"fmt"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
)

const (
	frameDMLS    = 1
	frameRooms   = 2
	frameReceipt = 3

	maxAnnouncedRooms = 256
)

// ErrMalformed wraps every engine frame that does not parse.
var ErrMalformed = fmt.Errorf("mmls: malformed frame")

func receiptFrame(room dmls.RoomID, id dmls.MessageID) []byte {
	b := append([]byte{frameReceipt}, room[:]...)
	return append(b, id[:]...)
}

func dmlsFrame(msg []byte) []byte { return append([]byte{frameDMLS}, msg...) }

// announcement is what a rooms frame says to one peer: the open rooms we
// are in (anyone may learn those), whether we hold the direct room with
// this peer, and a tag per private room we are in, which only a member of
// that room can recognise.
type announcement struct {
	open   []dmls.RoomID
	direct bool
	nonce  [16]byte
	tags   [][32]byte
}

const nonceSize = 16

func (a *announcement) frame() []byte {
	open, tags := a.open, a.tags
	if len(open) > maxAnnouncedRooms {
		open = open[:maxAnnouncedRooms]
	}
	if len(tags) > maxAnnouncedRooms {
		tags = tags[:maxAnnouncedRooms]
	}
	b := binary.BigEndian.AppendUint16([]byte{frameRooms}, uint16(len(open)))
	for _, id := range open {
		b = append(b, id[:]...)
	}
	direct := byte(0)
	if a.direct {
		direct = 1
	}
	b = append(b, direct)
	b = append(b, a.nonce[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(tags)))
	for _, t := range tags {
		b = append(b, t[:]...)
	}
	return b
}

// parseRooms decodes the body of a rooms frame.
func parseRooms(b []byte) (*announcement, error) {
	a := &announcement{}
	count := func(what string) (int, error) {
		if len(b) < 2 {
			return 0, fmt.Errorf("%w: rooms frame: %s count", ErrMalformed, what)
		}
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > maxAnnouncedRooms || len(b) < 32*n {
			return 0, fmt.Errorf("%w: rooms frame: %d %s", ErrMalformed, n, what)
		}
		return n, nil
	}
	n, err := count("open rooms")
	if err != nil {
		return nil, err
	}
	a.open = make([]dmls.RoomID, n)
	for i := range a.open {
		copy(a.open[i][:], b[32*i:])
	}
	b = b[32*n:]
	if len(b) < 1+nonceSize || b[0] > 1 {
		return nil, fmt.Errorf("%w: rooms frame: direct flag and nonce", ErrMalformed)
	}
	a.direct = b[0] == 1
	copy(a.nonce[:], b[1:])
	b = b[1+nonceSize:]
	if n, err = count("tags"); err != nil {
		return nil, err
	}
	a.tags = make([][32]byte, n)
	for i := range a.tags {
		copy(a.tags[i][:], b[32*i:])
	}
	if len(b) != 32*n {
		return nil, fmt.Errorf("%w: rooms frame: %d trailing bytes", ErrMalformed, len(b)-32*n)
	}
	return a, nil
}

// parseReceipt decodes the body of a receipt frame.
func parseReceipt(b []byte) (dmls.RoomID, dmls.MessageID, error) {
	var room dmls.RoomID
	var id dmls.MessageID
	if len(b) != 32+16 {
		return room, id, fmt.Errorf("%w: receipt of %d bytes", ErrMalformed, len(b))
	}
	copy(room[:], b)
	copy(id[:], b[32:])
	return room, id, nil
}
