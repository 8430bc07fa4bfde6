package headless

import (
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Record is one line of the headless output: the JSON contract scripts,
// bots and the end-to-end tests read (documented in docs/headless.md). Type and
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
	return File{ID: v.ID, Name: v.Name, Size: v.Size, Mime: v.Mime, SHA256: v.SHA256, From: v.From, FromID: hexOr(v.FromID), State: v.State, Path: v.Path}
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
func recordOf(ev mmls.Event, current string) (Record, bool) {
	r := Record{Time: ev.When()}
	switch e := ev.(type) {
	case *mmls.Ready:
		r.Type, r.ID, r.Nick, r.Listen, r.Room = "ready", e.ID.String(), e.Nick, e.Listen, e.Room
		r.Addrs, r.Contacts, r.Notes = e.Addrs, e.Contacts, e.Notes
	case *mmls.Unreachable:
		r.Type, r.Addr, r.Detail = "unreachable", e.Addr, e.Reason
	case *mmls.Joined:
		r.Type, r.Room, r.Private, r.Request = "joined", e.Room, e.Private, e.Request
		r.ID, r.Nick = hexOr(e.With), e.Nick
	case *mmls.RoomFull:
		r.Type, r.Room, r.ID, r.Nick, r.Status = "room-full", e.Room, e.ID.String(), e.Nick, "waits"
		if e.MadeRoom {
			r.Status = "made-room"
		}
	case *mmls.Refused:
		r.Type, r.Room, r.ID, r.Nick, r.Detail = "refused", e.Room, e.ID.String(), e.Nick, e.Reason
	case *mmls.Ignored:
		r.Type, r.ID, r.Nick = "ignored", e.ID.String(), e.Nick
	case *mmls.Undelivered:
		r.Type, r.Room, r.ID, r.ToID = "undelivered", e.Room, e.MsgID, e.To.String()
	case *mmls.History:
		r.Type, r.Room, r.More, r.LastRead = "history", e.Room, e.Older != 0, e.LastRead
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
	case *mmls.Left:
		r.Type, r.Room = "left", e.Room
	case *mmls.PeerChanged:
		r.Type, r.ID, r.Nick, r.Addr, r.Status = "peer", e.ID.String(), e.Nick, e.Addr, status(e.Online)
	case *mmls.PeerAway:
		r.Type, r.ID, r.Nick, r.Text, r.Shared = "peer-away", e.ID.String(), e.Nick, e.Text, e.Rooms
	case *mmls.AwayChanged:
		r.Type, r.Text, r.Detail = "away", e.Text, e.Detail
	case *mmls.PeerRenamed:
		r.Type, r.ID, r.Old, r.Nick, r.Shared = "renamed", e.ID.String(), e.Old, e.Nick, e.Rooms
	case *mmls.MemberChanged:
		r.Type, r.Room, r.ID, r.Nick, r.Change, r.By = "member", e.Room, e.ID.String(), e.Nick, string(e.Change), e.By.String()
		r.Departure, r.Following, r.Restored = e.Departure, hexOr(e.Following), e.Restored
	case *mmls.RemovalIgnored:
		r.Type, r.Room, r.ID, r.Nick, r.ByID, r.By = "removal-ignored", e.Room, e.ID.String(), e.Nick, e.By.String(), e.ByNick
	case *mmls.KickLifted:
		r.Type, r.Room, r.ID, r.Nick, r.ByID = "kick-lifted", e.Room, e.ID.String(), e.Nick, e.By.String()
	case *mmls.KeyRotated:
		r.Type, r.Room, r.ByID, r.By = "rotated", e.Room, e.By.String(), e.ByNick
	case *mmls.Message:
		sent := e.SentAt
		r.Type, r.Room, r.ID, r.From, r.FromID, r.Text, r.SentAt = "message", e.Room, e.MsgID, e.From, e.FromID.String(), e.Text, &sent
		if e.Via != (mmls.ID{}) {
			r.Via = e.Via.String()
		}
	case *mmls.Sent:
		r.Type, r.Room, r.ID, r.Text, r.Recipients, r.Waiting = "sent", e.Room, e.MsgID, e.Text, e.Recipients, e.Waiting
	case *mmls.Delivered:
		r.Type, r.Room, r.ID, r.ToID = "delivered", e.Room, e.MsgID, e.To.String()
	case *mmls.Removed:
		r.Type, r.Room, r.ByID, r.By = "removed", e.Room, e.By.String(), e.ByNick
	case *mmls.InviteReceived:
		r.Type, r.Room, r.From, r.FromID, r.Private = "invite", e.Room, e.From, e.FromID.String(), e.Private
	case *mmls.InviteSent:
		r.Type, r.Room, r.ID, r.Nick = "invited", e.Room, e.ID.String(), e.Nick
	case *mmls.Alert:
		r.Type, r.Kind, r.Room, r.Nick, r.ID, r.ByID, r.Detail = "alert", string(e.Kind), e.Room, e.Nick, hexOr(e.ID), hexOr(e.By), e.Detail
		r.Digests = e.Digests
	case *mmls.Alerts:
		r.Type = "alerts"
		for _, a := range e.Alerts {
			r.Alerts = append(r.Alerts, Alert{Kind: string(a.Kind), Room: a.Room, Nick: a.Nick, ByID: hexOr(a.By), Time: a.Time,
				Detail: a.Detail, Epoch: a.Epoch, Digests: a.Digests})
		}
	case *mmls.Failure:
		r.Type, r.Error = "error", mmls.Describe(e.Err)
	case *mmls.Members:
		r.Type, r.Room, r.Private = "who", e.Room, e.Private
		for _, m := range e.Members {
			r.Members = append(r.Members, Member{ID: m.ID.String(), Nick: m.Nick, WeReach: m.WeReach, TheyReach: m.TheyReach, Online: m.Online, Verified: m.Verified, Stale: m.Stale, Away: m.Away})
		}
	case *mmls.Peers:
		r.Type = "peers"
		for _, p := range e.Peers {
			r.Peers = append(r.Peers, Peer{ID: p.ID.String(), Nick: p.Nick, Addr: p.Addr, Online: p.Online, Queued: p.Queued})
		}
	case *mmls.Rooms:
		r.Type = "rooms"
		for _, x := range e.Rooms {
			r.Rooms = append(r.Rooms, Room{Name: x.Name, Current: x.Name == current, Members: x.Members, Private: x.Private})
		}
	case *mmls.Info:
		r.Type = "info"
		r.Info = &Info{ID: e.ID.String(), Nick: e.Nick, Listen: e.Listen, MDNS: e.MDNS, Data: e.Data, Room: current,
			Rooms: e.Rooms, Online: e.Online, Version: e.Version, Contacts: e.Contacts}
		for _, k := range e.Keys {
			rk := Keys{Room: k.Room, Rekeyed: k.Rekeyed}
			for _, l := range k.Leaves {
				if rk.Leaves == nil {
					rk.Leaves = map[string]time.Time{}
				}
				rk.Leaves[l.Owner.String()] = l.At
			}
			r.Info.Keys = append(r.Info.Keys, rk)
		}
	case *mmls.Switched:
		r.Type, r.Room = "switched", e.Room
	case *mmls.SafetyNumber:
		r.Type, r.Nick, r.ID, r.SafetyNumber, r.Verified = "verify", e.Nick, e.ID.String(), e.Number, e.Verified
	case *mmls.Found:
		total := e.Total
		r.Type, r.Room, r.Text, r.Matches = "search", e.Room, e.Text, &total
		for _, l := range e.Lines {
			r.History = append(r.History, Line{ID: l.MsgID, From: l.From, FromID: hexOr(l.FromID), Text: l.Text, SentAt: l.SentAt, Mine: l.Mine})
		}
	case *mmls.NotifyChanged:
		r.Type, r.Status = "notify", "off"
		if e.On {
			r.Status = "on"
		}
	case *mmls.HelpText:
		r.Type, r.Commands = "help", e.Commands
	case *mmls.KeysUpdated:
		r.Type, r.Room = "update", e.Room
	case *mmls.NickChanged:
		r.Type, r.Nick, r.Detail = "nick", e.Nick, e.Detail
	case *mmls.FileOffered:
		f := e.File
		r.Type, r.Room, r.ID, r.From, r.FromID, r.Mine = "file", e.Room, f.ID, e.From, e.FromID.String(), e.Mine
		r.Name, r.Size, r.SHA256, r.Mime, r.Recipients = f.Name, f.Size, f.SHA256, f.Mime, e.Recipients
	case *mmls.FilePreparing:
		r.Type, r.Room, r.Name, r.Size = "sending", e.Room, e.Name, e.Size
	case *mmls.FileSaving:
		r.Type, r.Room, r.ID, r.Name, r.Size, r.Dir = "saving", e.Room, e.ID, e.Name, e.Size, e.Dir
	case *mmls.FileProgress:
		done := e.Done
		r.Type, r.Room, r.ID, r.Name, r.Done, r.Total = "progress", e.Room, e.ID, e.Name, &done, e.Total
	case *mmls.FileSaved:
		r.Type, r.Room, r.ID, r.Name, r.Path, r.SHA256 = "saved", e.Room, e.ID, e.Name, e.Path, e.SHA256
	case *mmls.AutoSaveChanged:
		r.Type, r.Size, r.Status = "autosave", e.Limit, "on"
		if e.Limit == 0 {
			r.Status = "off"
		}
	case *mmls.AdminsChanged:
		r.Type, r.Room, r.Admins = "admins", e.Room, e.Admins
	case *mmls.HoldChanged:
		r.Type, r.Status = "hold", "on"
		if !e.On {
			r.Status = "off"
		}
	case *mmls.PassphraseChanged:
		r.Type, r.Status = "passphrase", "changed"
		if !e.Sealed {
			r.Status = "next-start"
		}
	case *mmls.FileWaiting:
		r.Type, r.Room, r.ID, r.Name = "file-waiting", e.Room, e.ID, e.Name
	case *mmls.FileCancelled:
		r.Type, r.Room, r.ID, r.Name = "cancelled", e.Room, e.ID, e.Name
	case *mmls.FileFailed:
		r.Type, r.Room, r.ID, r.Name, r.Error = "file-failed", e.Room, e.ID, e.Name, mmls.Describe(e.Err)
	case *mmls.Files:
		r.Type, r.Room, r.Files = "files", e.Room, []File{}
		for _, f := range e.Files {
			r.Files = append(r.Files, fileOf(f))
		}
	default:
		return r, false
	}
	return r, true
}

// errorRecord is the record of a failed command: its plain words.
func errorRecord(err error, at time.Time) Record {
	return Record{Type: "error", Time: at.UTC(), Error: mmls.Describe(err)}
}

// timeOf is an event's time, or now.
func timeOf(ev mmls.Event) time.Time {
	if ev != nil {
		return ev.When()
	}
	return time.Now()
}
