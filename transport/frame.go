package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
)

// Version is the frame version byte (2: frames travel inside TLS 1.3; 3:
// the same frames, raised with the payloads' format above (signed,
// numbered envelopes and cumulative acknowledgements replaced receipts),
// so that releases that cannot read each other's messages do not connect
// and each says why).
const Version = 3

// DefaultMaxFrame bounds a frame's payload unless Config says otherwise.
const DefaultMaxFrame = 1 << 20

// DefaultQueueBytes bounds the bytes queued for one peer unless Config says
// otherwise.
const DefaultQueueBytes = 64 << 20

const headerSize = 6

type frameType uint8

const (
	frameHello   frameType = iota + 1
	frameRetired           // 2 was the signed-transcript auth, before the TLS channel
	frameData
	frameAck
	framePing
	framePong
	framePeers
	frameEnd
)

func (t frameType) String() string {
	names := [...]string{"", "hello", "retired", "data", "ack", "ping", "pong", "peers"}
	if t > 0 && t < frameEnd {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Errors of the frame layer; each closes the connection it happened on.
var (
	ErrVersion   = errors.New("transport: unsupported frame version")
	ErrFrameType = errors.New("transport: unknown frame type")
	ErrTooLarge  = errors.New("transport: frame too large")
	ErrMalformed = errors.New("transport: malformed frame")
)

type frame struct {
	typ     frameType
	payload []byte
}

// appendFrame encodes a frame whose payload is the parts, in order.
func appendFrame(dst []byte, typ frameType, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	dst = append(dst, Version, byte(typ))
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// readFrame reads one frame, refusing a bad version, an unknown type or a
// length over max before allocating anything for the payload.
func readFrame(r io.Reader, max int) (frame, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	if h[0] != Version {
		return frame{}, fmt.Errorf("%w: %d", ErrVersion, h[0])
	}
	typ := frameType(h[1])
	if typ == 0 || typ == frameRetired || typ >= frameEnd {
		return frame{}, fmt.Errorf("%w: %d", ErrFrameType, h[1])
	}
	n := binary.BigEndian.Uint32(h[2:])
	if int64(n) > int64(max) {
		return frame{}, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, n, max)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return frame{}, fmt.Errorf("transport: short frame: %w", err)
	}
	return frame{typ: typ, payload: payload}, nil
}

// hello is the first frame each side sends, inside the TLS channel.
type hello struct {
	nick        string
	listenPort  uint16
	incarnation uint64
}

const maxNick = 128 // bytes: 32 characters of UTF-8

// marshal encodes h: nick u8 len, bytes (at most maxNick: a longer one is
// cut, and its receiver shows the peer by its id) | listen port u16 |
// incarnation u64.
func (h *hello) marshal() []byte {
	nick := h.nick
	if len(nick) > maxNick {
		nick = nick[:maxNick]
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, 1+len(nick)+2+8))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(nick)) })
	b.AddUint16(h.listenPort)
	b.AddUint64(h.incarnation)
	return b.BytesOrPanic() // every length is bounded above
}

func parseHello(p []byte) (*hello, error) {
	s := cryptobyte.String(p)
	var nick cryptobyte.String
	h := &hello{}
	if !s.ReadUint8LengthPrefixed(&nick) || !s.ReadUint16(&h.listenPort) || !s.ReadUint64(&h.incarnation) || !s.Empty() {
		return nil, fmt.Errorf("%w: hello of %d bytes", ErrMalformed, len(p))
	}
	if len(nick) > maxNick {
		return nil, fmt.Errorf("%w: hello: a nick of %d bytes", ErrTooLarge, len(nick))
	}
	h.nick = string(nick)
	return h, nil
}

// peerAddr is one entry of a peers frame.
type peerAddr struct {
	id   ID
	addr string
}

const (
	maxPeerEntries = 256
	maxAddrLen     = 255
)

// marshalPeers encodes up to maxPeerEntries entries:
//
//	count u16, count x { id [32] | addr u8 len, bytes }
func marshalPeers(list []peerAddr) []byte {
	if len(list) > maxPeerEntries {
		list = list[:maxPeerEntries]
	}
	b := cryptobyte.NewBuilder(nil)
	b.AddUint16(uint16(len(list)))
	for _, p := range list {
		addr := p.addr
		if len(addr) > maxAddrLen {
			addr = addr[:maxAddrLen]
		}
		b.AddBytes(p.id[:])
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(addr)) })
	}
	return b.BytesOrPanic() // every length is bounded above
}

func parsePeers(p []byte) ([]peerAddr, error) {
	s := cryptobyte.String(p)
	var n uint16
	if !s.ReadUint16(&n) {
		return nil, fmt.Errorf("%w: peers frame of %d bytes", ErrMalformed, len(p))
	}
	if n > maxPeerEntries {
		return nil, fmt.Errorf("%w: %d peer entries", ErrTooLarge, n)
	}
	var out []peerAddr
	for range n {
		var e peerAddr
		var addr cryptobyte.String
		if !s.CopyBytes(e.id[:]) || !s.ReadUint8LengthPrefixed(&addr) {
			return nil, fmt.Errorf("%w: peers frame cut short", ErrMalformed)
		}
		e.addr = string(addr)
		out = append(out, e)
	}
	if !s.Empty() {
		return nil, fmt.Errorf("%w: peers frame: %d bytes after its entries", ErrMalformed, len(s))
	}
	return out, nil
}

func seqPayload(seq uint64, rest []byte) []byte {
	return append(binary.BigEndian.AppendUint64(nil, seq), rest...)
}

func parseSeq(p []byte) (uint64, []byte, error) {
	if len(p) < 8 {
		return 0, nil, fmt.Errorf("%w: %d-byte sequence", ErrMalformed, len(p))
	}
	return binary.BigEndian.Uint64(p), p[8:], nil
}
