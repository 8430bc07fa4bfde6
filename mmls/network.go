package mmls

import (
	"fmt"
	"net"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
)

// ID is a participant's id: the SHA-256 of its Ed25519 key. String gives
// its hex form (how ids are written everywhere), Short its first 8 digits.
type ID = dmls.Fingerprint

// ParseID reads the hex form of an id.
func ParseID(s string) (ID, bool) { return dmls.ParseFingerprint(s) }

// Contact is where a participant is reached, and, when its contact string
// gives it, who must answer there: FINGERPRINT@HOST:PORT (the 64 hex
// digits of its id), as /info and the status bar show it. A bare
// HOST:PORT is first contact on trust: whoever answers is who it is.
type Contact struct {
	Addr string
	ID   ID // zero for a bare address
}

// ParseContact reads FINGERPRINT@HOST:PORT or HOST:PORT.
func ParseContact(s string) (Contact, error) {
	s = strings.TrimSpace(s)
	fp, addr, pinned := strings.Cut(s, "@")
	if !pinned {
		addr = s
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Contact{}, fmt.Errorf("mmls: %q is not HOST:PORT or FINGERPRINT@HOST:PORT", s)
	}
	c := Contact{Addr: addr}
	if pinned {
		id, ok := ParseID(strings.ToLower(fp))
		if !ok {
			return Contact{}, fmt.Errorf("mmls: %q: a contact's fingerprint is its 64 hex digits", s)
		}
		c.ID = id
	}
	return c, nil
}

// String is the contact string.
func (c Contact) String() string {
	if c.ID == (ID{}) {
		return c.Addr
	}
	return c.ID.String() + "@" + c.Addr
}

// Network is what the engine needs of the transport, in its own terms:
// authenticated peers, reliable ordered delivery per peer, and
// acknowledgement by the engine once a frame's effects are durable.
// mmls/node adapts the TCP transport to it; mmls/memnet is an in-memory
// one for tests.
type Network interface {
	// Send queues payload for a peer that has been seen before; it keeps
	// payload (the engine never changes a payload it sent).
	Send(to ID, payload []byte) error
	// Ack says every frame from peer up to seq is taken for good.
	Ack(from ID, seq uint64)
	// Connect dials an address the user gave (--peer, /connect): failures
	// are reported (DialFailed) and it is dialled again until it answers.
	// With an id (a contact string), only that peer may answer there.
	Connect(addr string, id ID) error
	// Reach dials addr, where peer id was announced (mDNS): with backoff,
	// quietly, and only id may answer there. The peer sees our
	// announcement too; of the two, one dial may wait for the other's.
	Reach(addr string, id ID) error
	// Befriend says peer is someone we know (we share a room with it, or
	// verified it): strangers' connections never keep it out.
	Befriend(peer ID)
	// SetNick changes the nick our next connections announce.
	SetNick(nick string)
	// Events reports peers and frames; it closes when the network stops.
	Events() <-chan NetEvent
	// Peers lists the peers known to the network.
	Peers() []NetPeer
}

// NetEventKind says what a NetEvent reports.
type NetEventKind int

// Network events.
const (
	PeerUp NetEventKind = iota + 1
	PeerDown
	Frame
	// DialFailed: an address the user gave (--peer, /connect) could not
	// be reached (Addr, Reason); said once until it connects.
	DialFailed
)

// NetEvent is one thing the network reports: a peer up (Nick and Addr
// from its authenticated hello) or down, or a frame (Seq, Payload) to Ack
// once handled.
type NetEvent struct {
	Kind    NetEventKind
	Peer    ID
	Nick    string
	Addr    string
	Seq     uint64
	Payload []byte
	Reason  string
}

// NetPeer is one peer the network knows.
type NetPeer struct {
	ID     ID
	Nick   string
	Addr   string
	Online bool
	Queued int
	// QueuedBytes: the bytes of the frames queued (sent and not yet
	// acknowledged, or waiting).
	QueuedBytes int
}

// Discovery is what the engine needs of peer discovery: sightings of
// peers on the LAN (the engine dials one of their addresses). Nil without
// mDNS.
type Discovery interface {
	Sightings() <-chan Sighting
}

// Sighting is a peer seen on the LAN.
type Sighting struct {
	ID    ID
	Addrs []string // best first
}
