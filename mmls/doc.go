// Package mmls is the chat engine: it joins the DMLS protocol layer
// (mmls/dmls), the durable store (mmls/store) and the network (behind the
// small Network and Discovery interfaces it declares, in its own terms)
// into rooms people talk in. One goroutine, the one running Engine.Run,
// owns all protocol state. Interfaces run typed commands with Engine.Do
// (every command that concerns a room names it: the engine has no current
// room), read typed events from Engine.Events, and show errors with
// Describe. Parse turns a typed line into a command, for every interface
// alike.
//
// # Engine frames
//
// Inside each transport payload, its first byte a kind from the one table
// in mmls/frame (integers big-endian):
//
//	1 dmls      a DMLS message (mmls/dmls wire format)
//	2 rooms     direct u8 (0, 1) | nonce [16] | tags u16 (<= 256) x tag [32]
//	3           retired (a receipt per message, before acknowledgements)
//	4, 5        a file chunk request, a chunk (mmls/files)
//	6 acks      a member's signed acknowledgement record for a room (dmls.Acks)
//	7 held      a message a member hands on: room id | the author's signed envelope (dmls.Held)
//	8 ack       what the sender holds of the receiver's own messages in a room: room id [32] |
//	            entry (author | upto | gaps), on the channel's word (to the author, after each batch)
//	9 nick      our nick from now on (UTF-8)
//	10 away     why we are away (UTF-8); empty when back
//
// A rooms frame goes to each peer on its own: whether the sender holds the
// direct room with this peer (never anything of its direct rooms with
// others), and, for each other room, dmls.RoomTag over a fresh nonce and
// both ids, keyed by the room's key: a private room's secret, an open
// room's id (dmls.RoomIDOf, from its name). A peer recognises the rooms
// it is in too, and learns nothing of the others: an open room still takes
// its name to join. Room names never travel outside MLS.
//
// # Open and private rooms
//
// /join NAME joins the open room NAME. /create NAME makes a private room:
// a random 32-byte secret whose hash is its id. Its members admit only
// peers someone in it vouched for (mmls/dmls, private.go). /invite sends
// the name and the secret through the direct room with the invitee, who
// accepts with /accept NAME (or /join ◆NAME); /join NAME always means the
// open room of that name, which shares nothing with the private one, and
// an invitation never replaces another's.
//
// # Delivery
//
// A message is stored (history and outbox) before it is reported sent; a
// received message is stored before the transport frame carrying it is
// acknowledged, and before its author hears that we hold it. The outbox
// keeps, for each message we sent, who has not yet acknowledged it; those
// messages are protected again (same id, so receivers deduplicate) when
// the recipient rejoins our group after losing its state, when we
// restart, and periodically while an acknowledgement is missing.
//
// Every message is signed by its author and numbered per recipient (1, 2,
// 3, ...), so acknowledgements are cumulative: one record per member and
// room (up to where it holds each author's messages, and which gaps
// remain), signed by the member, sent at most once per batch to each
// author it concerns (and, while an author is away, to the members
// online, who hand it on: acks.go). Members keep the others' signed messages and
// hand them on to the recipients who lack them when they meet (handon.go):
// a line reaches its room even when its author has gone, and its author
// learns who stored it while it was away. Direct rooms are held by nobody
// else.
package mmls
