package dmls

import (
	"fmt"
)

// Outgoing is one DMLS message for one peer.
type Outgoing struct {
	To   Fingerprint
	Kind Kind
	Data []byte
}

// EventType says what happened.
type EventType int

// Events a session reports.
const (
	// EventMessage: Peer sent Envelope (a text message) in its send group.
	EventMessage EventType = iota + 1
	// EventJoined: we joined the send group of Peer.
	EventJoined
	// EventMemberAdded / EventMemberRemoved: By's send group gained or lost
	// Peer (By is us for our own group).
	EventMemberAdded
	EventMemberRemoved
	// EventRemoved: By removed us from its send group.
	EventRemoved
	// EventRejoined: Peer lost its state and was re-added to By's group.
	EventRejoined
	// EventNeedRejoin: our state in By's group is unrecoverable; a REJOIN
	// request went to By.
	EventNeedRejoin
	// EventEquivocation: two different commits were seen for one epoch of
	// By's send group: By sent different members different histories.
	EventEquivocation
	// EventUpdated: By's group moved to a new epoch (an UPDATE or commit).
	EventUpdated
	// EventInvite: Peer invites us to the room named in Detail.
	EventInvite
	// EventRemovalIgnored: By removed Peer from its group and we did not
	// follow (FollowRemovals said no).
	EventRemovalIgnored
	// EventKickLifted: By re-added Peer, whose removal by By we had
	// followed: our kick of Peer is lifted too.
	EventKickLifted
	// EventResent: Peer re-sent us, in this (direct) room, its message
	// Envelope of room Room, which we missed.
	EventResent
	// EventRotated: By committed our Update: our leaf in its group has a
	// fresh key.
	EventRotated
	// EventPowers: Peer gave us a private room's Roles or SecretUpdate
	// (their bytes; the engine checks whose signature they carry).
	EventPowers
	// EventRoomFull: our send group is full: Peer waits for a place
	// (Detail "waits"), or left one to someone we prefer ("made room").
	EventRoomFull
)

func (t EventType) String() string {
	names := [...]string{"", "message", "joined", "member-added", "member-removed", "removed",
		"rejoined", "need-rejoin", "equivocation", "updated", "invite", "removal-ignored", "kick-lifted", "resent", "rotated", "powers", "room-full"}
	if int(t) > 0 && int(t) < len(names) {
		return names[t]
	}
	return fmt.Sprintf("event(%d)", int(t))
}

// Event is something the engine should know about.
type Event struct {
	Type     EventType
	Peer     Fingerprint
	Nick     string
	By       Fingerprint
	Envelope *Envelope
	Epoch    uint64
	Detail   string
	// Departure marks an EventMemberRemoved that only reflects the member
	// leaving (or removing the owner), not a kick.
	Departure bool
	// Secret is a private room's secret, in an EventInvite; Roles and
	// Update its signed roles and latest secret update (EventInvite,
	// EventPowers), as they travelled.
	Secret []byte
	Roles  []byte
	Update []byte
	// Room is the room an EventResent message belongs to.
	Room RoomID
	// Evidence backs an EventEquivocation: two commits By signed for one
	// epoch.
	Evidence *Equivocation
}

// Output is what a session call produced: messages to send, in order, and
// events to report.
type Output struct {
	Sends  []Outgoing
	Events []Event
}

func (o *Output) add(other Output) {
	o.Sends = append(o.Sends, other.Sends...)
	o.Events = append(o.Events, other.Events...)
}

func (o *Output) event(e Event) { o.Events = append(o.Events, e) }
