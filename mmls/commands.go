package mmls

import "github.com/mmls-chat/mmls-chat/mmls/dmls"

// Command is something a person asks the engine to do, from the terminal
// interface, the headless mode or a bot; run it with [Engine.Do], or make
// it from a typed line with [Parse]. Every command that concerns a room
// names the room: the engine keeps no "current room". Which room is on
// screen is the interface's state alone, so the room a line is written in
// is always the one the interface showed when it was typed.
type Command interface{ command() }

type (
	// Join joins the private room Room if we were invited to one of that
	// name, else the open room Room (anyone on the LAN may join it).
	Join struct{ Room string }
	// Accept accepts an invitation to the private room called Room (From:
	// whose, when several people invited us to rooms of that name), or,
	// when Room names a peer whose direct room is a request, that request.
	Accept struct{ Room, From string }
	// Ignore refuses Who's direct messages from now on (and its request,
	// if it made one).
	Ignore struct{ Who string }
	// Create makes the private room Room: only people its members invite
	// get in.
	Create struct{ Room string }
	// Leave leaves Room.
	Leave struct{ Room string }
	// Switch asks whether we are in Room; the interface then shows it.
	Switch struct{ Room string }
	// Say writes Text in Room.
	Say struct{ Room, Text string }
	// Direct writes Text to one person (a nick, or an id prefix of at
	// least 8 hex digits) in the two-person room with them.
	Direct struct{ To, Text string }
	// Invite tells Who, through the direct room with them (so it travels
	// encrypted), the name of Room.
	Invite struct{ Room, Who string }
	// Kick removes Who from Room.
	Kick struct{ Room, Who string }
	// Unkick lifts our removal of Who from Room (and says hello to it).
	Unkick struct{ Room, Who string }
	// Verify answers the safety number shared with Who; with Confirm it
	// first records that the user compared it and it matched.
	Verify struct {
		Who     string
		Confirm bool
	}
	// Who lists Room's members and which way each link holds.
	Who struct{ Room string }
	// ListPeers lists the peers on the network.
	ListPeers struct{}
	// ListRooms lists our rooms.
	ListRooms struct{}
	// ShowInfo answers our id, address and status.
	ShowInfo struct{}
	// ListAlerts answers the security alerts kept, with their evidence.
	ListAlerts struct{}
	// SetNick changes our nick, at once (nick.go).
	SetNick struct{ Nick string }
	// MarkRead records that MsgID is the last message of Room read (the
	// next start counts what came after it as unread: History.LastRead).
	MarkRead struct{ Room, MsgID string }
	// SetAway says we are away, and why (Text; "" when we are back).
	SetAway struct{ Text string }
	// Connect dials a peer by address (where multicast is blocked).
	Connect struct{ Addr string }
	// Update refreshes our keys in Room now.
	Update struct{ Room string }
	// Search answers Room's stored messages that contain Text (in any
	// case), the last MaxSearchResults of them.
	Search struct{ Room, Text string }
	// SetNotify turns desktop notifications (mentions, direct messages)
	// on or off, from now on and at the next starts.
	SetNotify struct{ On bool }
	// SendFile offers the file at Path to Room: it is read and sealed in
	// the background (FilePreparing answers), then offered (FileOffered).
	SendFile struct{ Room, Path string }
	// SaveFile fetches the file offered in Room whose id starts with ID
	// ("": the latest not saved) into Path (a folder, or a file name;
	// "": the download folder). FileSaving answers; FileProgress and
	// FileSaved follow.
	SaveFile struct{ Room, ID, Path string }
	// CancelFile stops fetching the file of Room whose id starts with ID
	// ("": the latest being fetched); FileCancelled follows.
	CancelFile struct{ Room, ID string }
	// SetAutoSave saves, as they are offered, files up to Limit bytes
	// (0: off) from people we trust with it: in direct and private rooms,
	// and verified people anywhere.
	SetAutoSave struct{ Limit int64 }
	// LoadOlder asks for the lines of Room stored before the place a
	// History gave (its Older); answered by a History with Earlier set.
	LoadOlder struct {
		Room   string
		Before uint64
	}
	// ListFiles answers the files offered in Room.
	ListFiles struct{ Room string }
	// SetAdmin names Who an admin of private room Room: its removals and
	// re-admissions are followed by everyone (only the room's creator
	// can).
	SetAdmin struct{ Room, Who string }
	// SetHold turns holding others' messages, to hand them on to members
	// their authors never met, on or off (off forgets what is held).
	SetHold struct{ On bool }
	// ChangePassphrase re-wraps the key that encrypts the data directory
	// under New, once Old is shown to be the passphrase. On unencrypted
	// data (Old and New empty) it asks for a passphrase at the next
	// start, which encrypts the data then. /passphrase parses to an
	// empty one: the interface asks for both without echo.
	ChangePassphrase struct{ Old, New []byte }
	// RunTimers does the timers' work now (re-sends, hand-on, key
	// rotation): for a simulation that drives the engine's clock itself
	// and sets Config.Tick beyond its run.
	RunTimers struct{}
	// Help answers the list of commands.
	Help struct{}
	// Quit stops the engine.
	Quit struct{}
)

func (Join) command()             {}
func (Accept) command()           {}
func (Ignore) command()           {}
func (Create) command()           {}
func (Leave) command()            {}
func (Switch) command()           {}
func (Say) command()              {}
func (Direct) command()           {}
func (Invite) command()           {}
func (Kick) command()             {}
func (Unkick) command()           {}
func (Verify) command()           {}
func (Who) command()              {}
func (ListPeers) command()        {}
func (ListRooms) command()        {}
func (ShowInfo) command()         {}
func (ListAlerts) command()       {}
func (SetNick) command()          {}
func (SetAway) command()          {}
func (MarkRead) command()         {}
func (Connect) command()          {}
func (Search) command()           {}
func (SetNotify) command()        {}
func (Update) command()           {}
func (SendFile) command()         {}
func (SaveFile) command()         {}
func (LoadOlder) command()        {}
func (ListFiles) command()        {}
func (CancelFile) command()       {}
func (SetAutoSave) command()      {}
func (SetHold) command()          {}
func (ChangePassphrase) command() {}
func (SetAdmin) command()         {}
func (RunTimers) command()        {}
func (Help) command()             {}
func (Quit) command()             {}

// MaxTextSize bounds one message's text in bytes; interfaces split longer
// texts (a paste) into several messages.
const MaxTextSize = dmls.MaxTextSize
