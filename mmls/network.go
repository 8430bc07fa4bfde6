package mmls

import "github.com/mmls-chat/mmls-chat/mmls/dmls"

// ID is a participant's id: the SHA-256 of its Ed25519 key. String gives
// its hex form (how ids are written everywhere), Short its first 8 digits.
type ID = dmls.Fingerprint

// ParseID reads the hex form of an id.
func ParseID(s string) (ID, bool) { return dmls.ParseFingerprint(s) }

// Network is what the engine needs of the transport, in its own terms:
// authenticated peers, reliable ordered delivery per peer, and
// acknowledgement by the engine once a frame's effects are durable.
// mmls/node adapts the TCP transport to it; mmls/memnet is an in-memory
// one for tests.
type Network interface {
	// Send queues payload for a peer that has been seen before.
	Send(to ID, payload []byte) error
	// Ack says every frame from peer up to seq is taken for good.
	Ack(from ID, seq uint64)
	// Connect dials an address the user gave (--peer, /connect): failures
	// are reported (DialFailed) and it is dialled again until it answers.
	Connect(addr string) error
	// Reach dials addr, where peer id was announced (mDNS): with backoff,
	// quietly, and only id may answer there. The peer sees our
	// announcement too; of the two, one dial may wait for the other's.
	Reach(addr string, id ID) error
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
	// Unreachable: an address the user gave (--peer, /connect) could not
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
