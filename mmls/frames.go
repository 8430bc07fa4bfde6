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

func roomsFrame(ids []dmls.RoomID) []byte {
	if len(ids) > maxAnnouncedRooms {
		ids = ids[:maxAnnouncedRooms]
	}
	b := binary.BigEndian.AppendUint16([]byte{frameRooms}, uint16(len(ids)))
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	return b
}

func receiptFrame(room dmls.RoomID, id dmls.MessageID) []byte {
	b := append([]byte{frameReceipt}, room[:]...)
	return append(b, id[:]...)
}

func dmlsFrame(msg []byte) []byte { return append([]byte{frameDMLS}, msg...) }

// parseRooms decodes the body of a rooms frame.
func parseRooms(b []byte) ([]dmls.RoomID, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: rooms", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b))
	if n > maxAnnouncedRooms || len(b) != 2+32*n {
		return nil, fmt.Errorf("%w: rooms frame of %d bytes for %d rooms", ErrMalformed, len(b), n)
	}
	out := make([]dmls.RoomID, n)
	for i := range out {
		copy(out[i][:], b[2+32*i:])
	}
	return out, nil
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
