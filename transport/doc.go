// Package transport carries opaque payloads between authenticated peers
// over plain TCP, reliably and in order per pair of peers. It knows
// nothing of MLS: the caller passes an identity that can sign and a
// function that verifies.
//
// # Frames
//
// Every frame on a connection is
//
//	version u8 = 1 | type u8 | length u32 (big-endian, <= Config.MaxFrame) | payload
//
// A frame with another version, an unknown type, a length over the bound or
// a payload that does not parse closes that connection (logged with the
// reason); other connections are untouched.
//
// Frame types and payloads (integers big-endian):
//
//	1 hello  key u16 len | nick u8 len | listen port u16 | nonce [32] | incarnation u64
//	2 auth   signature u16 len
//	3 data   seq u64 | payload
//	4 ack    seq u64   (cumulative: every data frame up to seq was taken)
//	5 ping   (empty)
//	6 pong   (empty)
//	7 peers  count u16 (<= 256) | count x { id [32] | address u8 len (host:port) }
//
// # Handshake
//
// Both sides send hello, then auth: an Ed25519 signature (through
// [Identity]) over
//
//	"mmls-chat transport v1" 0x00 | role (0 dialer, 1 acceptor) |
//	dialer nonce | acceptor nonce | dialer key | acceptor key
//
// so a signature is bound to both fresh nonces, both keys and the signer's
// role. A peer's [ID] is the SHA-256 of its key. A connection that does not
// finish the handshake within Config.HandshakeTimeout is closed. One
// connection is kept per pair of peers: when two exist, both sides keep the
// one dialed by the peer with the smaller ID. Connections to oneself are
// dropped.
//
// # Reliability
//
// Each data frame to a peer carries a sequence number. The receiver hands
// it to the caller once (duplicates, seq <= the last one handed over, are
// dropped) and acknowledges it only when the caller calls [Transport.Ack]
// (after a durable write, say). Frames not acknowledged are sent again on
// the next connection to that peer, in order. A transport instance draws a
// random incarnation: a peer seeing a new incarnation knows the sender's
// numbering restarted. Per-peer queues are bounded in frames and bytes
// ([ErrBackpressure]).
//
// # Liveness
//
// Each side pings every Config.Heartbeat; a connection silent for
// Config.DeadAfter is closed. Peers with a known address are re-dialled with
// exponential backoff and jitter. Authenticated peers exchange the addresses
// of the peers they know (peers frames), so connecting to one peer by hand
// finds the rest where multicast is blocked.
package transport
