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
//	2 rooms     count u16 (<= 256) x room id [32]: the rooms the sender is in
//	3 receipt   room id [32] | message id [16]: "I have stored this message"
//
// Room names never travel: only their hashes (dmls.RoomIDOf).
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
