package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/mmls-chat/mmls-chat/transport/wire"
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

func (h *hello) marshal() []byte {
	b := append([]byte{byte(len(h.nick))}, h.nick...)
	b = binary.BigEndian.AppendUint16(b, h.listenPort)
	return binary.BigEndian.AppendUint64(b, h.incarnation)
}

func parseHello(p []byte) (*hello, error) {
	r := wire.NewReader(p)
	h := &hello{}
	h.nick = string(r.Bytes8(maxNick))
	h.listenPort = r.U16()
	h.incarnation = r.U64()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("hello: %w", wireErr(err))
	}
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

func marshalPeers(list []peerAddr) []byte {
	if len(list) > maxPeerEntries {
		list = list[:maxPeerEntries]
	}
	b := binary.BigEndian.AppendUint16(nil, uint16(len(list)))
	for _, p := range list {
		addr := p.addr
		if len(addr) > maxAddrLen {
			addr = addr[:maxAddrLen]
		}
		b = append(b, p.id[:]...)
		b = append(b, byte(len(addr)))
		b = append(b, addr...)
	}
	return b
}

func parsePeers(p []byte) ([]peerAddr, error) {
	r := wire.NewReader(p)
	n := int(r.U16())
	if n > maxPeerEntries {
		return nil, fmt.Errorf("%w: %d peer entries", ErrTooLarge, n)
	}
	var out []peerAddr
	for i := 0; i < n && r.Err() == nil; i++ {
		var e peerAddr
		copy(e.id[:], r.Bytes(32, 32))
		e.addr = string(r.Bytes8(maxAddrLen))
		out = append(out, e)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("peers: %w", wireErr(err))
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

// wireErr maps a wire.Reader error onto this package's sentinels.
func wireErr(err error) error {
	if errors.Is(err, wire.ErrTooLarge) {
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}
