// Package transport carries opaque payloads between authenticated peers
// over plain TCP, reliably and in order per pair of peers, inside a TLS 1.3
// channel. It knows nothing of MLS: the caller passes an identity (an
// Ed25519 key that can sign).
//
// # The channel: TLS 1.3, identities pinned by key
//
// Each TCP connection runs TLS 1.3 (crypto/tls, nothing else) with mutual
// authentication: both sides present a self-signed certificate of their
// Ed25519 identity key, and a peer's [ID] is the SHA-256 of that key. No
// certificate authority is involved: the certificate's key is checked by
// VerifyPeerCertificate, which refuses anything but one Ed25519 key, and
// when dialling an address learned with an id (peer exchange) refuses
// another key; the TLS handshake proves the peer holds the key
// (CertificateVerify). Session resumption is off and no SNI is sent.
//
// Why TLS and not Noise: it is in the standard library, its handshake binds
// both identities to the session keys with no code of ours, TLS 1.3
// encrypts the certificates (a passive observer does not learn the keys),
// and its CertificateVerify signs a context string of its own, so the same
// key can sign MLS credentials without one protocol's signature serving the
// other. Noise would need the Ed25519 identity bound by hand to an X25519
// static key.
//
// What an observer of the LAN sees: two addresses that talk, when and how
// much. Not the peers' keys or ids, nicks, room names or hashes, group
// ids, KeyPackages or text. An attacker on the path can drop or delay the
// connection, not read, alter, inject, replay or reorder a byte of it: any
// of those fails a record's authentication, and the connection closes; the
// re-dial re-sends what was not acknowledged, so nothing is lost or
// duplicated. (mDNS announcements, outside this package, are public by
// nature: they carry a peer's id, nick and port.)
//
// # Frames
//
// Inside the channel, every frame is
//
//	version u8 = 3 | type u8 | length u32 (big-endian, <= Config.MaxFrame) | payload
//
// (Version 2 carried the same frames; 3 marks the release whose payloads,
// above this package, a version-2 peer cannot read: the two refuse each
// other's hello, and a dial to such a peer is reported in those words.)
//
// A frame with another version, an unknown type, a length over the bound or
// a payload that does not parse closes that connection (logged with the
// reason); other connections are untouched.
//
// Frame types and payloads (integers big-endian):
//
//	1 hello  nick u8 len | listen port u16 | incarnation u64   (each side's first frame)
//	2        retired (the signed-transcript auth before the TLS channel)
//	3 data   seq u64 | payload
//	4 ack    seq u64   (cumulative: every data frame up to seq was taken)
//	5 ping   (empty)
//	6 pong   (empty)
//	7 peers  count u16 (<= 256) | count x { id [32] | address u8 len (host:port) }
//
// A connection that does not finish TLS and the hello within
// Config.HandshakeTimeout is closed. One connection is kept per pair of
// peers: when two exist, both sides keep the one dialed by the peer with
// the smaller ID. Connections to oneself are dropped.
//
// # What a stranger can hold
//
// Connections are bounded in all (Config.MaxConns, 128), with a few more
// (friendSlots) only to finish handshakes: when strangers hold every
// connection, a friend the layer above named (Befriend) who proves its
// key, or a friend we dial, takes the idlest stranger's; a stranger past
// the bound is refused once it has authenticated. Inbound ones still
// handshaking are bounded apart (MaxHandshakes, 16): past it, a newcomer
// closes the oldest handshake that has not sent a byte (else the oldest),
// so silent sockets hammering the port cannot keep a friend out; a friend's
// TLS hello comes at once, so its own handshake is not the one closed. One
// address holds at most MaxHandshakesPerIP (4) handshakes and
// MaxConnsPerIP (32) authenticated inbound connections; past them its new
// connections are refused. An attacker with many addresses that each send
// a byte and stall can still slow a friend's handshake (each of its new
// connections closes the oldest); tests: TestFriendConnectsDuringSilentFlood,
// TestHandshakesPerAddress, TestConnectionsPerAddress.
//
// # Reliability
//
// Each data frame to a peer carries a sequence number. The receiver hands
// it to the caller once (duplicates, seq <= the last one handed over, are
// dropped) and acknowledges it only when the caller calls [Transport.Ack]
// (after a durable write, say). Frames not acknowledged are sent again on
// the next connection to that peer, in order: TLS protects a connection,
// the sequence numbers protect delivery across connections. A transport
// instance draws a random incarnation: a peer seeing a new incarnation
// knows the sender's numbering restarted. Per-peer queues are bounded in
// frames and bytes ([ErrBackpressure]).
//
// # Liveness
//
// Each side pings every Config.Heartbeat; a connection silent for
// Config.DeadAfter is closed. Peers with a known address are re-dialled with
// exponential backoff and jitter. Authenticated peers exchange the addresses
// of the peers they know (peers frames), so connecting to one peer by hand
// finds the rest where multicast is blocked. Peer exchange (and mDNS) tells
// both sides of a pair about each other at once; both keep the connection
// the smaller id dialled, so that one dials at once and the larger waits
// Config.DialYield and dials only if nothing came: one handshake per pair,
// not two (a room of 20 forming on one machine connected about 50 of its
// 190 pairs twice, and the extra dials had some 120 handshakes refused by
// the per-address limit, all on 127.0.0.1; now none twice, some 25
// refused).
package transport
