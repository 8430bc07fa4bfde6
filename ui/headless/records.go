package headless

import "time"

// The records the headless mode writes, one struct per type: each has the
// Header every record has, and only the fields its type carries, so that
// no field changes meaning from one type to another in the code (on the
// wire the names stay as docs/headless.md gives them: "by" is a nick
// everywhere but in member records, where it has always been the owner's
// id). Record, the union of them all, is what readers decode into.

// Header is what every record has: its type and when it happened.
type Header struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`
}

func (h Header) header() Header { return h }

// record is one typed record.
type record interface{ header() Header }

// ReadyRec: the engine is up.
type ReadyRec struct {
	Header
	ID       string   `json:"id,omitempty"`
	Nick     string   `json:"nick,omitempty"`
	Listen   string   `json:"listen,omitempty"`
	Addrs    []string `json:"addrs,omitempty"`
	Contacts []string `json:"contacts,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	Room     string   `json:"room,omitempty"`
}

// UnreachableRec: an address given to us did not answer.
type UnreachableRec struct {
	Header
	Addr   string `json:"addr,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// JoinedRec: we are in a room (ID and Nick: a direct room's other person).
type JoinedRec struct {
	Header
	ID      string `json:"id,omitempty"`
	Nick    string `json:"nick,omitempty"`
	Room    string `json:"room,omitempty"`
	Private bool   `json:"private,omitempty"`
	Request bool   `json:"request,omitempty"`
}

// PersonRec: a record about one person in a room (room-full, refused,
// ignored, invited).
type PersonRec struct {
	Header
	ID     string `json:"id,omitempty"`
	Nick   string `json:"nick,omitempty"`
	Status string `json:"status,omitempty"`
	Room   string `json:"room,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// ReceiptRec: one of our messages stored, or given up, by one member
// (delivered, undelivered).
type ReceiptRec struct {
	Header
	ID   string `json:"id,omitempty"`
	Room string `json:"room,omitempty"`
	ToID string `json:"to_id,omitempty"`
}

// HistoryRec: a room's stored lines.
type HistoryRec struct {
	Header
	Room     string `json:"room,omitempty"`
	More     bool   `json:"more,omitempty"`
	LastRead string `json:"last_read,omitempty"`
	History  []Line `json:"history,omitempty"`
}

// RoomRec: a record of a room alone (left, switched, update); ID: the
// other person of a direct room switched to.
type RoomRec struct {
	Header
	ID   string `json:"id,omitempty"`
	Room string `json:"room,omitempty"`
}

// PeerRec: a peer came online or went.
type PeerRec struct {
	Header
	ID     string `json:"id,omitempty"`
	Nick   string `json:"nick,omitempty"`
	Addr   string `json:"addr,omitempty"`
	Status string `json:"status,omitempty"`
}

// PeerAwayRec: a peer says it is away (Text), or back (no Text).
type PeerAwayRec struct {
	Header
	ID     string   `json:"id,omitempty"`
	Nick   string   `json:"nick,omitempty"`
	Text   string   `json:"text,omitempty"`
	Shared []string `json:"shared,omitempty"`
}

// AwayRec answers /away.
type AwayRec struct {
	Header
	Text   string `json:"text,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// RenamedRec: a peer changed its nick from Old.
type RenamedRec struct {
	Header
	ID     string   `json:"id,omitempty"`
	Nick   string   `json:"nick,omitempty"`
	Old    string   `json:"old,omitempty"`
	Shared []string `json:"shared,omitempty"`
}

// MemberRec: someone joined or left a send group. ByID is the owner of
// the group (written "by": the one record whose "by" is an id).
type MemberRec struct {
	Header
	ID        string `json:"id,omitempty"`
	Nick      string `json:"nick,omitempty"`
	Room      string `json:"room,omitempty"`
	Change    string `json:"change,omitempty"`
	ByID      string `json:"by,omitempty"`
	Departure bool   `json:"departure,omitempty"`
	Restored  bool   `json:"restored,omitempty"`
	Following string `json:"following,omitempty"`
}

// ActedRec: someone's act on a room or member, by a nick and an id
// (removal-ignored, kick-lifted, rotated, removed).
type ActedRec struct {
	Header
	ID   string `json:"id,omitempty"`
	Nick string `json:"nick,omitempty"`
	Room string `json:"room,omitempty"`
	By   string `json:"by,omitempty"`
	ByID string `json:"by_id,omitempty"`
}

// MessageRec: a message shown (Via: handed on by that member, not by
// its author).
type MessageRec struct {
	Header
	ID     string     `json:"id,omitempty"`
	Room   string     `json:"room,omitempty"`
	From   string     `json:"from,omitempty"`
	FromID string     `json:"from_id,omitempty"`
	Text   string     `json:"text,omitempty"`
	SentAt *time.Time `json:"sent_at,omitempty"`
	Via    string     `json:"via,omitempty"`
}

// SentRec: one of our messages stored and on its way.
type SentRec struct {
	Header
	ID         string `json:"id,omitempty"`
	Room       string `json:"room,omitempty"`
	Text       string `json:"text,omitempty"`
	Recipients int    `json:"recipients,omitempty"`
	Waiting    int    `json:"waiting,omitempty"`
}

// InviteRec: an invitation to a room.
type InviteRec struct {
	Header
	Room    string `json:"room,omitempty"`
	From    string `json:"from,omitempty"`
	FromID  string `json:"from_id,omitempty"`
	Private bool   `json:"private,omitempty"`
}

// AlertRec: a security alert.
type AlertRec struct {
	Header
	ID      string   `json:"id,omitempty"`
	Nick    string   `json:"nick,omitempty"`
	Room    string   `json:"room,omitempty"`
	ByID    string   `json:"by_id,omitempty"`
	Kind    string   `json:"kind,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Digests []string `json:"digests,omitempty"`
}

// AlertsRec: the alerts kept.
type AlertsRec struct {
	Header
	Alerts []Alert `json:"alerts,omitempty"`
}

// ErrorRec: a failed command or a failure of the engine, in plain words.
type ErrorRec struct {
	Header
	Error string `json:"error,omitempty"`
}

// WhoRec: a room's members.
type WhoRec struct {
	Header
	Room    string   `json:"room,omitempty"`
	Private bool     `json:"private,omitempty"`
	Members []Member `json:"members,omitempty"`
}

// PeersRec: the peers we know.
type PeersRec struct {
	Header
	Peers []Peer `json:"peers,omitempty"`
}

// RoomsRec: our rooms.
type RoomsRec struct {
	Header
	Rooms []Room `json:"rooms,omitempty"`
}

// InfoRec: who and where we are.
type InfoRec struct {
	Header
	Info *Info `json:"info,omitempty"`
}

// VerifyRec: a safety number.
type VerifyRec struct {
	Header
	ID           string `json:"id,omitempty"`
	Nick         string `json:"nick,omitempty"`
	SafetyNumber string `json:"safety_number,omitempty"`
	Verified     bool   `json:"verified,omitempty"`
}

// SearchRec: what a search found (Matches: how many, 0 too).
type SearchRec struct {
	Header
	Room    string `json:"room,omitempty"`
	Text    string `json:"text,omitempty"`
	History []Line `json:"history,omitempty"`
	Matches *int   `json:"matches,omitempty"`
}

// StatusRec: a setting's new state (notify, autosave, hold, passphrase);
// Size: autosave's limit.
type StatusRec struct {
	Header
	Status string `json:"status,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// HelpRec: the commands.
type HelpRec struct {
	Header
	Commands []string `json:"commands,omitempty"`
}

// NickRec answers /nick.
type NickRec struct {
	Header
	Nick   string `json:"nick,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// FileRec: a file offered in a room.
type FileRec struct {
	Header
	ID         string `json:"id,omitempty"`
	Room       string `json:"room,omitempty"`
	From       string `json:"from,omitempty"`
	FromID     string `json:"from_id,omitempty"`
	Recipients int    `json:"recipients,omitempty"`
	Name       string `json:"name,omitempty"`
	Size       int64  `json:"size,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Mime       string `json:"mime,omitempty"`
	Mine       bool   `json:"mine,omitempty"`
}

// TransferRec: a file on its way (sending, saving, progress, saved,
// file-waiting, cancelled, file-failed).
type TransferRec struct {
	Header
	ID     string `json:"id,omitempty"`
	Room   string `json:"room,omitempty"`
	Error  string `json:"error,omitempty"`
	Name   string `json:"name,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Path   string `json:"path,omitempty"`
	Dir    string `json:"dir,omitempty"`
	Done   *int64 `json:"done,omitempty"`
	Total  int64  `json:"total,omitempty"`
}

// AdminsRec: who may remove people from a private room.
type AdminsRec struct {
	Header
	Room   string   `json:"room,omitempty"`
	Admins []string `json:"admins,omitempty"`
}

// FilesRec: the files offered in a room ([] when there are none).
type FilesRec struct {
	Header
	Room  string `json:"room,omitempty"`
	Files []File `json:"files,omitzero"`
}
