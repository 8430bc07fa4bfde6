// Package dmls is the Distributed MLS protocol (draft-xue-distributed-mls)
// as mmls-chat runs it, pure: bytes, time and randomness in; messages to
// send, events and errors out. No I/O, no goroutines, no clock or random
// source of its own (Env), so tests run many participants in one process
// under a fake clock and seeded randomness, and every interleaving is one
// a test can write.
//
// # Sessions
//
// A [Session] is one room: our own send group, in which we alone (leaf 0)
// commit and send, and one receive group per member whose send group we
// joined. Membership is each participant's own view (a member may be in
// our group while we are not in its). Links form by KeyPackages (Hello),
// Welcomes and commits; a peer that lost its state asks to be re-added
// (REJOIN). Messages for a future epoch wait, bounded, for their commit;
// the previous epoch is kept for a grace period; members gossip commit
// digests and raise an equivocation only on two commits the owner signed
// for one epoch. Private rooms admit only vouched peers; direct rooms are
// restricted to their two people. One goroutine owns a Session.
//
// # What travels
//
// The wire format of a DMLS message is in wire.go; inside every
// application message, the author's signed [Envelope], numbered per
// recipient, so that members acknowledge cumulatively ([Acks]) and hand
// on what the author could not deliver ([Held]); a private room's roles
// and secret updates are in powers.go; invitations, re-sends, digests and
// evidence are control bodies (invite.go, fork.go, evidence.go).
//
// # The MLS boundary
//
// Everything MLS goes through mmls/mlsguard, the one importer of go-mls:
// strict decoding, bounds, recovered panics, leaf-0 checks, and the
// rebuilt paths (UNPROTECT, applying commits, joins).
package dmls
