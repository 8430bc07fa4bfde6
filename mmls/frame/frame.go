// Package frame is the one table of what the engine's transport payloads
// carry. A payload's first byte is its Kind; the rest is its body, which
// the part of mmls-chat the table names decodes (once, in the engine's
// dispatch: mmls.Engine.onFrame). Numbers are never reused: 3 was a
// receipt per message, replaced by Ack and Acks.
//
// The transport's own frames (data, acknowledgement, ping, peers) are a
// layer below: a payload here is the body of one transport data frame.
package frame

import (
	"errors"
	"fmt"
)

// Kind is what a payload carries.
type Kind uint8

// The kinds, with where each body is encoded and decoded.
const (
	DMLS        Kind = 1  // a DMLS message (dmls.Message)
	Rooms       Kind = 2  // which rooms we are in, as tags only members recognise (mmls announcement)
	FileRequest Kind = 4  // a file's chunk or manifest page asked for (files.Request)
	FileData    Kind = 5  // its answer (files.Data)
	Acks        Kind = 6  // what a member holds of a room's messages, signed (dmls.Acks)
	Held        Kind = 7  // a member's message another member hands on (dmls.Held)
	Ack         Kind = 8  // what we hold of the receiver's own messages in a room: room id [32] | entry (dmls.MarshalEntry)
	Nick        Kind = 9  // our nick from now on: its UTF-8 bytes
	Away        Kind = 10 // we are away, and why (UTF-8); empty when back
)

// info is what the table says of a kind.
type info struct {
	name string
	// stored: handling it may write the store, so it is taken inside a
	// store batch (file traffic is not: its state is the file manager's).
	stored bool
}

var table = [...]info{
	DMLS:        {"dmls", true},
	Rooms:       {"rooms", true},
	FileRequest: {"file request", false},
	FileData:    {"file data", false},
	Acks:        {"acknowledgements", true},
	Held:        {"held message", true},
	Ack:         {"acknowledgement", true},
	Nick:        {"nick", true},
	Away:        {"away", true},
}

// Known reports whether k is in the table.
func (k Kind) Known() bool { return int(k) < len(table) && table[k].name != "" }

// Stored reports whether handling a frame of kind k may write the store.
func (k Kind) Stored() bool { return k.Known() && table[k].stored }

func (k Kind) String() string {
	if !k.Known() {
		return fmt.Sprintf("frame %d", uint8(k))
	}
	return table[k].name
}

// Errors Split returns.
var (
	ErrEmpty   = errors.New("frame: empty payload")
	ErrUnknown = errors.New("frame: unknown kind")
)

// Split returns a payload's kind and body (which aliases payload).
func Split(payload []byte) (Kind, []byte, error) {
	if len(payload) == 0 {
		return 0, nil, ErrEmpty
	}
	k := Kind(payload[0])
	if !k.Known() {
		return k, nil, fmt.Errorf("%w: %d", ErrUnknown, payload[0])
	}
	return k, payload[1:], nil
}

// New returns a payload of kind k whose body is body's parts, in one
// allocation.
func New(k Kind, body ...[]byte) []byte {
	n := 1
	for _, b := range body {
		n += len(b)
	}
	p := make([]byte, 1, n)
	p[0] = byte(k)
	for _, b := range body {
		p = append(p, b...)
	}
	return p
}
