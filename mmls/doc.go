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
// Inside each transport payload (integers big-endian):
//
//	1 dmls      a DMLS message (mmls/dmls wire format)
//	2 rooms     direct u8 (0, 1) | nonce [16] | tags u16 (<= 256) x tag [32]
//	3 receipt   room id [32] | message id [16]: "I have stored this message"
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
// accepts with /join NAME; a person who was not invited and types /join
// NAME gets an open room of that name that shares nothing with it.
//
// # Delivery
//
// A message is stored (history and outbox) before it is reported sent; a
// received message is stored before the transport frame carrying it is
// acknowledged, and before a receipt goes back. The outbox keeps, for each
// message we sent, who has not yet sent a receipt; those messages are
// protected again (same id, so receivers deduplicate) when the recipient
// rejoins our group after losing its state, when we restart, and
// periodically while a receipt is missing.
package mmls
