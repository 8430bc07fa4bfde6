package headless

import (
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Record is any line of the headless output, for readers: the union of
// the typed records (records.go) that the JSON contract scripts, bots and
// the end-to-end tests read (documented in docs/headless.md). Type and
// Time are always set; the other fields when they apply. Fields are only
// ever added, never changed.
type Record struct {
	Type   string    `json:"type"`
	Time   time.Time `json:"time"`
	ID     string    `json:"id,omitempty"`
	Nick   string    `json:"nick,omitempty"`
	Listen string    `json:"listen,omitempty"`
	// ready: where others reach us, and what to know about the start.
	Addrs []string `json:"addrs,omitempty"`
	// Contacts: ready's contact strings (FINGERPRINT@HOST:PORT).
	Contacts []string   `json:"contacts,omitempty"`
	Notes    []string   `json:"notes,omitempty"`
	Addr     string     `json:"addr,omitempty"`
	Status   string     `json:"status,omitempty"`
	Room     string     `json:"room,omitempty"`
	Change   string     `json:"change,omitempty"`
	By       string     `json:"by,omitempty"`
	ByID     string     `json:"by_id,omitempty"`
	From     string     `json:"from,omitempty"`
	FromID   string     `json:"from_id,omitempty"`
	Text     string     `json:"text,omitempty"`
	SentAt   *time.Time `json:"sent_at,omitempty"`
	ToID     string     `json:"to_id,omitempty"`
	// Recipients is how many members a sent message is addressed to.
	Recipients int `json:"recipients,omitempty"`
	// Waiting: of those, how many are not linked with us yet (the room
	// is forming, or they are away): it goes to each once they are.
	Waiting int `json:"waiting,omitempty"`
	// Via: a message handed on by another member (its id), not received
	// from its author.
	Via  string `json:"via,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Private marks a private room (joined, invite, who); Request a
	// direct room a stranger opened (joined).
	Private bool `json:"private,omitempty"`
	Request bool `json:"request,omitempty"`
	// Departure marks a member removal that only reflects the member
	// leaving; Following names the owner whose removal we followed.
	Departure bool   `json:"departure,omitempty"`
	Restored  bool   `json:"restored,omitempty"`
	Following string `json:"following,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Error     string `json:"error,omitempty"`

	// More: older messages of the room are stored than the history
	// carries (/search finds them; the terminal loads them on PgUp).
	More bool `json:"more,omitempty"`
	// LastRead: the id of the last message the terminal interface read
	// in the room before it stopped (history).
	LastRead string `json:"last_read,omitempty"`
	// Old: a peer's nick before it changed it (renamed); Shared: the
	// rooms we share with it (renamed, peer-away).
	Old    string   `json:"old,omitempty"`
	Shared []string `json:"shared,omitempty"`
	// Admins: who may remove people from a private room (admins).
	Admins       []string `json:"admins,omitempty"`
	Peers        []Peer   `json:"peers,omitempty"`
	Rooms        []Room   `json:"rooms,omitempty"`
	Members      []Member `json:"members,omitempty"`
	Info         *Info    `json:"info,omitempty"`
	SafetyNumber string   `json:"safety_number,omitempty"`
	Verified     bool     `json:"verified,omitempty"`
	Commands     []string `json:"commands,omitempty"`
	History      []Line   `json:"history,omitempty"`
	// Matches: how many messages a search found, 0 too.
	Matches *int `json:"matches,omitempty"`
	// Digests: an equivocation's two commits (alert); Alerts: the kept
	// alerts (alerts).
	Digests []string `json:"digests,omitempty"`
	Alerts  []Alert  `json:"alerts,omitempty"`
	// Files: file, sending, saving, progress, saved, file-failed, files.
	Name   string `json:"name,omitempty"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Mime   string `json:"mime,omitempty"`
	Mine   bool   `json:"mine,omitempty"`
	Path   string `json:"path,omitempty"`
	Dir    string `json:"dir,omitempty"`
	Done   *int64 `json:"done,omitempty"`
	Total  int64  `json:"total,omitempty"`
	// Files: a files record's, [] when there are none.
	Files []File `json:"files,omitzero"`
}

// File is one offered file, in a files record and in history lines.
type File struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	Mime   string `json:"mime"`
	SHA256 string `json:"sha256"`
	From   string `json:"from,omitempty"`
	FromID string `json:"from_id,omitempty"`
	State  string `json:"state,omitempty"`
	Path   string `json:"path,omitempty"`
}

func fileOf(v mmls.FileView) File {
	return File{ID: v.ID, Name: v.Name, Size: v.Size, Mime: v.Mime, SHA256: v.SHA256, From: v.From, FromID: hexOr(v.FromID), State: string(v.State), Path: v.Path}
}

// Alert is one kept security alert, in an alerts record.
type Alert struct {
	Kind    string    `json:"kind"`
	Room    string    `json:"room,omitempty"`
	Nick    string    `json:"nick,omitempty"`
	ByID    string    `json:"by_id,omitempty"`
	Time    time.Time `json:"time"`
	Detail  string    `json:"detail"`
	Epoch   uint64    `json:"epoch,omitempty"`
	Digests []string  `json:"digests,omitempty"`
}

// Line is one stored message, in a history record.
type Line struct {
	ID     string    `json:"id"`
	From   string    `json:"from"`
	FromID string    `json:"from_id"`
	Text   string    `json:"text"`
	SentAt time.Time `json:"sent_at"`
	Mine   bool      `json:"mine,omitempty"`
	// Of our own messages: the recipients that count, and who stored it.
	Recipients int      `json:"recipients,omitempty"`
	StoredBy   []string `json:"stored_by,omitempty"`
	// File: the line is a file offer (text is its name).
	File *File `json:"file,omitempty"`
}

// Peer is one peer in a peers record.
type Peer struct {
	ID     string `json:"id"`
	Nick   string `json:"nick"`
	Addr   string `json:"addr,omitempty"`
	Online bool   `json:"online"`
	Queued int    `json:"queued,omitempty"`
}

// Room is one room in a rooms record.
type Room struct {
	Name    string `json:"name"`
	Current bool   `json:"current,omitempty"`
	Members int    `json:"members"`
	Private bool   `json:"private,omitempty"`
}

// Member is one member in a who record.
type Member struct {
	ID        string `json:"id"`
	Nick      string `json:"nick"`
	WeReach   bool   `json:"we_reach"`
	TheyReach bool   `json:"they_reach"`
	Online    bool   `json:"online"`
	Verified  bool   `json:"verified,omitempty"`
	// Stale: their keys in our group unchanged for 7 days (a client that
	// never updates, or one away that long).
	Stale bool `json:"stale,omitempty"`
	// Away: why they say they are away.
	Away string `json:"away,omitempty"`
}

// Info is the body of an info record.
type Info struct {
	ID      string `json:"id"`
	Nick    string `json:"nick"`
	Listen  string `json:"listen"`
	MDNS    string `json:"mdns"`
	Data    string `json:"data"`
	Room    string `json:"room"`
	Rooms   int    `json:"rooms"`
	Online  int    `json:"online"`
	Version string `json:"version,omitempty"`
	// Contacts: where a friend reaches us, fingerprint included.
	Contacts []string `json:"contacts,omitempty"`
	Keys     []Keys   `json:"keys,omitempty"`
}

// Keys says when our keys in one room last rotated: our send group, and
// our leaf in each member's group (by the member's id).
type Keys struct {
	Room    string               `json:"room"`
	Rekeyed time.Time            `json:"rekeyed"`
	Leaves  map[string]time.Time `json:"leaves,omitempty"`
}

func hexOr(id mmls.ID) string {
	if id == (mmls.ID{}) {
		return ""
	}
	return id.String()
}

func status(online bool) string {
	if online {
		return "online"
	}
	return "offline"
}

// recordOf maps an engine event onto the contract; current is the room
// text lines go to (the rooms and info answers show it). It reports false
// for events the contract does not carry.
func recordOf(ev mmls.Event, current string) (record, bool) {
	h := func(typ string) Header { return Header{Type: typ, Time: ev.When()} }
	switch e := ev.(type) {
	case *mmls.Ready:
		return ReadyRec{Header: h("ready"), ID: e.ID.String(), Nick: e.Nick, Listen: e.Listen, Room: e.Room,
			Addrs: e.Addrs, Contacts: e.Contacts, Notes: e.Notes}, true
	case *mmls.Unreachable:
		return UnreachableRec{Header: h("unreachable"), Addr: e.Addr, Detail: e.Reason}, true
	case *mmls.Joined:
		return JoinedRec{Header: h("joined"), Room: e.Room, Private: e.Private, Request: e.Request, ID: hexOr(e.With), Nick: e.Nick}, true
	case *mmls.RoomFull:
		r := PersonRec{Header: h("room-full"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick, Status: "waits"}
		if e.MadeRoom {
			r.Status = "made-room"
		}
		return r, true
	case *mmls.Refused:
		return PersonRec{Header: h("refused"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick, Detail: e.Reason}, true
	case *mmls.Ignored:
		return PersonRec{Header: h("ignored"), ID: e.ID.String(), Nick: e.Nick}, true
	case *mmls.Undelivered:
		return ReceiptRec{Header: h("undelivered"), Room: e.Room, ID: e.MsgID, ToID: e.To.String()}, true
	case *mmls.History:
		r := HistoryRec{Header: h("history"), Room: e.Room, More: e.Older != 0, LastRead: e.LastRead}
		for _, l := range e.Lines {
			hl := Line{ID: l.MsgID, From: l.From, FromID: hexOr(l.FromID), Text: l.Text, SentAt: l.SentAt, Mine: l.Mine, Recipients: l.Recipients}
			for _, id := range l.StoredBy {
				hl.StoredBy = append(hl.StoredBy, id.String())
			}
			if l.File != nil {
				f := fileOf(*l.File)
				hl.File = &f
			}
			r.History = append(r.History, hl)
		}
		return r, true
	case *mmls.Left:
		return RoomRec{Header: h("left"), Room: e.Room}, true
	case *mmls.PeerChanged:
		return PeerRec{Header: h("peer"), ID: e.ID.String(), Nick: e.Nick, Addr: e.Addr, Status: status(e.Online)}, true
	case *mmls.PeerAway:
		return PeerAwayRec{Header: h("peer-away"), ID: e.ID.String(), Nick: e.Nick, Text: e.Text, Shared: e.Rooms}, true
	case *mmls.AwayChanged:
		return AwayRec{Header: h("away"), Text: e.Text, Detail: e.Detail}, true
	case *mmls.PeerRenamed:
		return RenamedRec{Header: h("renamed"), ID: e.ID.String(), Old: e.Old, Nick: e.Nick, Shared: e.Rooms}, true
	case *mmls.MemberChanged:
		return MemberRec{Header: h("member"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick, Change: string(e.Change), ByID: e.By.String(),
			Departure: e.Departure, Following: hexOr(e.Following), Restored: e.Restored}, true
	case *mmls.RemovalIgnored:
		return ActedRec{Header: h("removal-ignored"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick, ByID: e.By.String(), By: e.ByNick}, true
	case *mmls.KickLifted:
		return ActedRec{Header: h("kick-lifted"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick, ByID: e.By.String()}, true
	case *mmls.KeyRotated:
		return ActedRec{Header: h("rotated"), Room: e.Room, ByID: e.By.String(), By: e.ByNick}, true
	case *mmls.Message:
		sent := e.SentAt
		r := MessageRec{Header: h("message"), Room: e.Room, ID: e.MsgID, From: e.From, FromID: e.FromID.String(), Text: e.Text, SentAt: &sent}
		if e.Via != (mmls.ID{}) {
			r.Via = e.Via.String()
		}
		return r, true
	case *mmls.Sent:
		return SentRec{Header: h("sent"), Room: e.Room, ID: e.MsgID, Text: e.Text, Recipients: e.Recipients, Waiting: e.Waiting}, true
	case *mmls.Delivered:
		return ReceiptRec{Header: h("delivered"), Room: e.Room, ID: e.MsgID, ToID: e.To.String()}, true
	case *mmls.Removed:
		return ActedRec{Header: h("removed"), Room: e.Room, ByID: e.By.String(), By: e.ByNick}, true
	case *mmls.InviteReceived:
		return InviteRec{Header: h("invite"), Room: e.Room, From: e.From, FromID: e.FromID.String(), Private: e.Private}, true
	case *mmls.InviteSent:
		return PersonRec{Header: h("invited"), Room: e.Room, ID: e.ID.String(), Nick: e.Nick}, true
	case *mmls.Alert:
		return AlertRec{Header: h("alert"), Kind: string(e.Kind), Room: e.Room, Nick: e.Nick, ID: hexOr(e.ID), ByID: hexOr(e.By), Detail: e.Detail,
			Digests: e.Digests}, true
	case *mmls.Alerts:
		r := AlertsRec{Header: h("alerts")}
		for _, a := range e.Alerts {
			r.Alerts = append(r.Alerts, Alert{Kind: string(a.Kind), Room: a.Room, Nick: a.Nick, ByID: hexOr(a.By), Time: a.Time,
				Detail: a.Detail, Epoch: a.Epoch, Digests: a.Digests})
		}
		return r, true
	case *mmls.Failure:
		return ErrorRec{Header: h("error"), Error: mmls.Describe(e.Err)}, true
	case *mmls.Members:
		r := WhoRec{Header: h("who"), Room: e.Room, Private: e.Private}
		for _, m := range e.Members {
			r.Members = append(r.Members, Member{ID: m.ID.String(), Nick: m.Nick, WeReach: m.WeReach, TheyReach: m.TheyReach, Online: m.Online, Verified: m.Verified, Stale: m.Stale, Away: m.Away})
		}
		return r, true
	case *mmls.Peers:
		r := PeersRec{Header: h("peers")}
		for _, p := range e.Peers {
			r.Peers = append(r.Peers, Peer{ID: p.ID.String(), Nick: p.Nick, Addr: p.Addr, Online: p.Online, Queued: p.Queued})
		}
		return r, true
	case *mmls.Rooms:
		r := RoomsRec{Header: h("rooms")}
		for _, x := range e.Rooms {
			r.Rooms = append(r.Rooms, Room{Name: x.Name, Current: x.Name == current, Members: x.Members, Private: x.Private})
		}
		return r, true
	case *mmls.Info:
		info := &Info{ID: e.ID.String(), Nick: e.Nick, Listen: e.Listen, MDNS: e.MDNS, Data: e.Data, Room: current,
			Rooms: e.Rooms, Online: e.Online, Version: e.Version, Contacts: e.Contacts}
		for _, k := range e.Keys {
			rk := Keys{Room: k.Room, Rekeyed: k.Rekeyed}
			for _, l := range k.Leaves {
				if rk.Leaves == nil {
					rk.Leaves = map[string]time.Time{}
				}
				rk.Leaves[l.Owner.String()] = l.At
			}
			info.Keys = append(info.Keys, rk)
		}
		return InfoRec{Header: h("info"), Info: info}, true
	case *mmls.Switched:
		return RoomRec{Header: h("switched"), Room: e.Room}, true
	case *mmls.SafetyNumber:
		return VerifyRec{Header: h("verify"), Nick: e.Nick, ID: e.ID.String(), SafetyNumber: e.Number, Verified: e.Verified}, true
	case *mmls.Found:
		total := e.Total
		r := SearchRec{Header: h("search"), Room: e.Room, Text: e.Text, Matches: &total}
		for _, l := range e.Lines {
			r.History = append(r.History, Line{ID: l.MsgID, From: l.From, FromID: hexOr(l.FromID), Text: l.Text, SentAt: l.SentAt, Mine: l.Mine})
		}
		return r, true
	case *mmls.NotifyChanged:
		return StatusRec{Header: h("notify"), Status: onOff(e.On)}, true
	case *mmls.HelpText:
		return HelpRec{Header: h("help"), Commands: e.Commands}, true
	case *mmls.KeysUpdated:
		return RoomRec{Header: h("update"), Room: e.Room}, true
	case *mmls.NickChanged:
		return NickRec{Header: h("nick"), Nick: e.Nick, Detail: e.Detail}, true
	case *mmls.FileOffered:
		f := e.File
		return FileRec{Header: h("file"), Room: e.Room, ID: f.ID, From: e.From, FromID: e.FromID.String(), Mine: e.Mine,
			Name: f.Name, Size: f.Size, SHA256: f.SHA256, Mime: f.Mime, Recipients: e.Recipients}, true
	case *mmls.FilePreparing:
		return TransferRec{Header: h("sending"), Room: e.Room, Name: e.Name, Size: e.Size}, true
	case *mmls.FileSaving:
		return TransferRec{Header: h("saving"), Room: e.Room, ID: e.ID, Name: e.Name, Size: e.Size, Dir: e.Dir}, true
	case *mmls.FileProgress:
		done := e.Done
		return TransferRec{Header: h("progress"), Room: e.Room, ID: e.ID, Name: e.Name, Done: &done, Total: e.Total}, true
	case *mmls.FileSaved:
		return TransferRec{Header: h("saved"), Room: e.Room, ID: e.ID, Name: e.Name, Path: e.Path, SHA256: e.SHA256}, true
	case *mmls.AutoSaveChanged:
		return StatusRec{Header: h("autosave"), Size: e.Limit, Status: onOff(e.Limit != 0)}, true
	case *mmls.AdminsChanged:
		return AdminsRec{Header: h("admins"), Room: e.Room, Admins: e.Admins}, true
	case *mmls.HoldChanged:
		return StatusRec{Header: h("hold"), Status: onOff(e.On)}, true
	case *mmls.PassphraseChanged:
		r := StatusRec{Header: h("passphrase"), Status: "changed"}
		if !e.Sealed {
			r.Status = "next-start"
		}
		return r, true
	case *mmls.FileWaiting:
		return TransferRec{Header: h("file-waiting"), Room: e.Room, ID: e.ID, Name: e.Name}, true
	case *mmls.FileCancelled:
		return TransferRec{Header: h("cancelled"), Room: e.Room, ID: e.ID, Name: e.Name}, true
	case *mmls.FileFailed:
		return TransferRec{Header: h("file-failed"), Room: e.Room, ID: e.ID, Name: e.Name, Error: mmls.Describe(e.Err)}, true
	case *mmls.Files:
		r := FilesRec{Header: h("files"), Room: e.Room, Files: []File{}}
		for _, f := range e.Files {
			r.Files = append(r.Files, fileOf(f))
		}
		return r, true
	}
	return nil, false
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// errorRecord is the record of a failed command: its plain words.
func errorRecord(err error, at time.Time) record {
	return ErrorRec{Header: Header{Type: "error", Time: at.UTC()}, Error: mmls.Describe(err)}
}

// timeOf is an event's time, or now.
func timeOf(ev mmls.Event) time.Time {
	if ev != nil {
		return ev.When()
	}
	return time.Now()
}
