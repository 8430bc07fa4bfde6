package mmls

import "time"

// Event is something the engine reports: on [Engine.Events] as it happens,
// in order, or as the answer of [Engine.Do]. Each kind is its own type; a
// type switch tells them apart. The headless mode maps them onto its JSON
// contract (see docs/headless.md).
type Event interface {
	// When is the engine's clock when the event happened.
	When() time.Time
	stamp(time.Time)
}

// At stamps an event; every event type embeds it.
type At struct{ Time time.Time }

// When returns the stamp.
func (a *At) When() time.Time   { return a.Time }
func (a *At) stamp(t time.Time) { a.Time = t.UTC() }

// Events on the stream.
type (
	// Ready: the node accepts connections. Room is the room interfaces
	// start in.
	Ready struct {
		At
		ID     ID
		Nick   string
		Listen string
		// Addrs are where others on the LAN can reach us (one per usable
		// interface), Contacts the same as contact strings (our id @ each
		// address: a friend who dials one knows it reached us), Notes what
		// the user should know about the start (a port taken, mDNS
		// unavailable).
		Addrs    []string
		Contacts []string
		Notes    []string
		Room     string
		// Notify: desktop notifications are on (the user's /notify).
		Notify bool
	}
	// Unreachable: an address the user gave (--peer, /connect) could not
	// be reached; said once, while the dials go on quietly.
	Unreachable struct {
		At
		Addr   string
		Reason string
	}
	// Joined: we are in Room; a private room admits only invited people.
	Joined struct {
		At
		Room    string
		Private bool
		// With and Nick name the other person of a direct room (Nick as
		// last known, for a partner offline since before the start).
		With ID
		Nick string
		// Request: a direct room a stranger opened, not accepted yet
		// (/accept NICK, /ignore NICK).
		Request bool
	}
	// Refused: what ID sends in Room is not kept (Reason says why: past
	// its quota, say); said once.
	Refused struct {
		At
		Room   string
		ID     ID
		Nick   string
		Reason string
	}
	// RoomFull: our send group in Room is full: ID waits for a place, or
	// (MadeRoom) left its place to someone we know.
	RoomFull struct {
		At
		Room     string
		ID       ID
		Nick     string
		MadeRoom bool
	}
	// Ignored answers Ignore: ID's direct messages are refused from now
	// on.
	Ignored struct {
		At
		ID   ID
		Nick string
	}
	// Undelivered: To was removed from Room before it stored our message
	// MsgID: it no longer counts among the message's recipients.
	Undelivered struct {
		At
		Room  string
		MsgID string
		To    ID
	}
	// History: Room's last stored messages, oldest first, when it opens.
	History struct {
		At
		Room  string
		Lines []Line
		// Past are the kept lines about the room (joins, departures,
		// removals; invitations with the start room), stamped when they
		// happened: interfaces show them as they showed them then.
		Past []Event
		// Older, when not 0, says more lines are stored before these:
		// LoadOlder{Room, Before: Older} brings them. Earlier marks the
		// answer to LoadOlder (lines to put above those shown).
		Older   uint64
		Earlier bool
		// LastRead is the id of the last message read in the room when
		// we stopped (MarkRead), "" when unknown.
		LastRead string
	}
	// Left: we left Room.
	Left struct {
		At
		Room string
	}
	// PeerChanged: a peer connected or went away.
	PeerChanged struct {
		At
		ID     ID
		Nick   string
		Addr   string
		Online bool
	}
	// MemberChanged: By's send group in Room gained or lost ID (By is us
	// for our own group, and ID is us when we joined By's group). A
	// removal is a Departure when it only reflects ID leaving (or
	// removing By); Following names the owner whose removal of ID we
	// followed in our own group.
	MemberChanged struct {
		At
		Room      string
		ID        ID
		Nick      string
		Change    Change
		By        ID
		Departure bool
		Following ID
		// Restored: back in our group after our restart (it was a
		// member before): nothing to tell a person.
		Restored bool
	}
	// RemovalIgnored: By removed ID from its group in an open room, and we
	// did not follow (By is not verified): /kick follows it by hand.
	RemovalIgnored struct {
		At
		Room   string
		ID     ID
		Nick   string
		By     ID
		ByNick string
	}
	// KickLifted: By re-admitted ID, whose removal by By we had followed;
	// our kick of ID is lifted too.
	KickLifted struct {
		At
		Room string
		ID   ID
		Nick string
		By   ID
	}
	// Message: someone else's message, reported once per id for the life
	// of the data directory.
	Message struct {
		At
		Room   string
		MsgID  string
		From   string
		FromID ID
		Text   string
		SentAt time.Time
		// Via is the member that handed the message on (its author was
		// away), zero when the author sent it.
		Via ID
	}
	// Sent: our message is stored and protected, addressed to Recipients
	// members. Waiting of them are not in our send group yet (the room
	// is still forming with them, they were away since our restart, or
	// the other person of a direct room closed it): it goes to each once
	// it is.
	Sent struct {
		At
		Room       string
		MsgID      string
		Text       string
		Recipients int
		Waiting    int
	}
	// Delivered: To has stored our message MsgID.
	Delivered struct {
		At
		Room  string
		MsgID string
		To    ID
	}
	// Removed: By removed us from its send group in Room.
	Removed struct {
		At
		Room   string
		By     ID
		ByNick string
	}
	// InviteReceived: From invites us to Room (join it to accept);
	// Private when the room is private.
	InviteReceived struct {
		At
		Room    string
		From    string
		FromID  ID
		Private bool
	}
	// InviteSent: our invitation to Room is on its way to ID.
	InviteSent struct {
		At
		Room string
		ID   ID
		Nick string
	}
	// Alert: a security alert. Equivocation names the owner By and Room,
	// and Digests the two commits it signed for one epoch (kept as
	// evidence: /alerts); a changed key names Nick and the new ID.
	Alert struct {
		At
		Kind    AlertKind
		Room    string
		Nick    string
		ID      ID
		By      ID
		Detail  string
		Digests []string
	}
	// Alerts answers ListAlerts, oldest first.
	Alerts struct {
		At
		Alerts []AlertView
	}
	// FileOffered: a file offered in Room, by From (Mine: by us, to
	// Recipients members). /save fetches it.
	FileOffered struct {
		At
		Room       string
		MsgID      string
		From       string
		FromID     ID
		Mine       bool
		File       FileView
		Recipients int
	}
	// FileProgress: Done of Total bytes of file ID are fetched and
	// durable (a few times a second at most).
	FileProgress struct {
		At
		ID          string
		Room        string
		Name        string
		Done, Total int64
	}
	// FileSaved: file ID is whole, its hash checked, at Path.
	FileSaved struct {
		At
		ID     string
		Room   string
		Name   string
		Path   string
		SHA256 string
	}
	// FileWaiting: nobody online holds what file ID still lacks (its
	// sender is away or no longer has it, and nobody else saved it): the
	// fetch goes on when someone who has it comes online.
	FileWaiting struct {
		At
		ID   string
		Room string
		Name string
	}
	// FileCancelled: fetching file ID stopped at our word (CancelFile).
	FileCancelled struct {
		At
		ID   string
		Room string
		Name string
	}
	// FileFailed: sending or fetching a file stopped (ID "" when it
	// failed before it was offered); [Describe] says why.
	FileFailed struct {
		At
		ID   string
		Room string
		Name string
		Err  error
	}
	// Failure: something failed outside any command (a write to the
	// data directory, say). [Describe] says it in plain words.
	Failure struct {
		At
		Err error
	}
)

// Answers of [Engine.Do].
type (
	// Members answers Who.
	Members struct {
		At
		Room    string
		Private bool
		Members []MemberView
	}
	// Peers answers ListPeers.
	Peers struct {
		At
		Peers []PeerView
	}
	// Rooms answers ListRooms, sorted by name.
	Rooms struct {
		At
		Rooms []RoomView
	}
	// Info answers ShowInfo.
	Info struct {
		At
		ID      ID
		Nick    string
		Listen  string
		MDNS    string
		Data    string
		Rooms   int
		Online  int
		Version string
		// Contacts: our contact strings (id @ each address).
		Contacts []string
		// Keys: per room, when our keys last rotated.
		Keys []RoomKeys
	}
	// SafetyNumber answers Verify.
	SafetyNumber struct {
		At
		Nick     string
		ID       ID
		Number   string
		Verified bool
	}
	// HelpText answers Help: one line per command.
	HelpText struct {
		At
		Commands []string
	}
	// KeyRotated: By committed our Update in its send group: our key
	// there is fresh (post-compromise security heals on a schedule; see
	// Info.Keys).
	KeyRotated struct {
		At
		Room   string
		By     ID
		ByNick string
	}
	// KeysUpdated answers Update.
	KeysUpdated struct {
		At
		Room string
	}
	// PeerRenamed: a peer we knew by Old now calls itself Nick (as shown:
	// a look-alike carries its short id); Rooms are the rooms we share
	// with it, where interfaces say so.
	PeerRenamed struct {
		At
		ID        ID
		Old, Nick string
		Rooms     []string
	}
	// PeerAway: a peer says it is away (Text, why), or back (Text
	// empty); Rooms are the rooms we share with it.
	PeerAway struct {
		At
		ID    ID
		Nick  string
		Text  string
		Rooms []string
	}
	// AwayChanged answers SetAway.
	AwayChanged struct {
		At
		Text   string
		Detail string
	}
	// NickChanged answers SetNick.
	NickChanged struct {
		At
		Nick   string
		Detail string
	}
	// Found answers Search: the matching messages of Room, oldest first
	// (Lines), and how many matched in all.
	Found struct {
		At
		Room, Text string
		Lines      []Line
		Total      int
	}
	// NotifyChanged answers SetNotify.
	NotifyChanged struct {
		At
		On bool
	}
	// FilePreparing answers SendFile: the file is being read and sealed.
	FilePreparing struct {
		At
		Room string
		Name string
		Size int64
	}
	// FileSaving answers SaveFile: the file is being fetched into Dir.
	FileSaving struct {
		At
		Room string
		ID   string
		Name string
		Size int64
		Dir  string
	}
	// AutoSaveChanged answers SetAutoSave (Limit 0: off).
	AutoSaveChanged struct {
		At
		Limit int64
	}
	// AdminsChanged answers SetAdmin: who may remove people from Room
	// for everyone, its creator first.
	// (also an event: the room's creator changed who they are).
	AdminsChanged struct {
		At
		Room   string
		Admins []string
	}
	// PassphraseChanged answers ChangePassphrase: Sealed, the data key
	// is wrapped under the new passphrase; else the data is not
	// encrypted, and the next start asks for a passphrase.
	PassphraseChanged struct {
		At
		Sealed bool
	}
	// HoldChanged answers SetHold.
	HoldChanged struct {
		At
		On bool
	}
	// Files answers ListFiles: Room's files, oldest first.
	Files struct {
		At
		Room  string
		Files []FileView
	}
	// Switched answers Switch: we are in Room.
	Switched struct {
		At
		Room string
	}
	// DirectRoom answers Direct: the text went to Room, the direct room
	// with With.
	DirectRoom struct {
		At
		Room string
		With ID
	}
)

// Change says how a send group changed.
type Change string

// Membership changes.
const (
	ChangeAdded    Change = "added"
	ChangeRemoved  Change = "removed"
	ChangeRejoined Change = "rejoined"
)

// AlertKind names a security alert.
type AlertKind string

// Security alerts.
const (
	Equivocation AlertKind = "equivocation"
	KeyChanged   AlertKind = "key-changed"
	LookAlike    AlertKind = "look-alike"
)

// AlertView is one kept alert.
type AlertView struct {
	Kind    AlertKind
	Room    string
	Nick    string
	By      ID
	Time    time.Time
	Detail  string
	Epoch   uint64
	Digests []string
}

// FileView describes an offered file. ID is its full hex id (people type
// its first digits); Path where our copy is (sent from, or saved to).
type FileView struct {
	ID     string
	Name   string
	Size   int64
	Mime   string
	SHA256 string
	From   string
	FromID ID
	State  FileState
	Path   string
}

// FileState is where an offered file stands for us.
type FileState string

// File states (the words the headless records carry).
const (
	FileStateOffered  FileState = "offered"  // offered to us, not fetched
	FileStateFetching FileState = "fetching" // on its way here
	FileStateSaved    FileState = "saved"    // here, at Path
	FileStateSent     FileState = "sent"     // ours, offered from Path
	FileStateFailed   FileState = "failed"   // a fetch that failed
)

// Line is one stored message, in a History event.
type Line struct {
	MsgID  string
	From   string
	FromID ID
	Text   string
	SentAt time.Time
	Mine   bool
	// Of our own messages: how many recipients count (those removed
	// before they stored it do not), and who has stored it.
	Recipients int
	StoredBy   []ID
	// File: the message is a file offer (Text is its name).
	File *FileView
}

// PeerView is one peer in a Peers answer.
type PeerView struct {
	ID     ID
	Nick   string
	Addr   string
	Online bool
	Queued int
}

// RoomView is one room in a Rooms answer.
type RoomView struct {
	Name    string
	Members int
	Direct  bool
	Private bool
}

// MemberView is one member in a Members answer. Membership is each
// participant's own view: we reach them (they are in our send group), they
// reach us (we are in theirs), or both.
type MemberView struct {
	ID        ID
	Nick      string
	WeReach   bool
	TheyReach bool
	Online    bool
	Verified  bool
	// Away: why they say they are away ("" when they are not).
	Away string
	// Stale: their leaf in our send group has not been refreshed for
	// Config.StaleAfter (default 7 days): a client that never updates, or
	// one away that long.
	Stale bool
	// Refreshed: when their leaf in our group last rotated (WeReach);
	// Rotated: when ours in their group did (TheyReach).
	Refreshed, Rotated time.Time
	// LookAlike: their nick looks like another's, so Nick carries their
	// short id ("bob (1a2b3c4d)").
	LookAlike bool
}

// RoomKeys says when our keys in one room last rotated: our send group
// (Rekeyed) and our leaf in each member's group.
type RoomKeys struct {
	Room    string
	Rekeyed time.Time
	Leaves  []LeafRotation
}

// LeafRotation: our leaf in Owner's send group last rotated At.
type LeafRotation struct {
	Owner ID
	Nick  string
	At    time.Time
}
