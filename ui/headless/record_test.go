package headless

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

var (
	t0    = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	at    = mmls.At{Time: t0}
	alice = mmls.ID{0xa1}
	bob   = mmls.ID{0xb0}
)

func i64(n int64) *int64 { return &n }

// TestRecordOf: every event the contract carries becomes the record
// scripts read, field by field; the others are not written.
func TestRecordOf(t *testing.T) {
	t.Parallel()
	sentAt := t0.Add(-time.Minute)
	file := mmls.FileView{ID: "f1", Name: "notes.txt", Size: 42, Mime: "text/plain", SHA256: "ab", From: "bob", FromID: bob, State: "offered", Path: "/tmp/notes.txt"}
	wantFile := File{ID: "f1", Name: "notes.txt", Size: 42, Mime: "text/plain", SHA256: "ab", From: "bob", FromID: bob.String(), State: "offered", Path: "/tmp/notes.txt"}
	tests := []struct {
		name    string
		ev      mmls.Event
		current string
		want    Record
	}{
		{"ready", &mmls.Ready{At: at, ID: alice, Nick: "alice", Listen: "127.0.0.1:7000", Addrs: []string{"10.0.0.2:7000"}, Notes: []string{"port taken"}, Room: "lobby"}, "",
			Record{Type: "ready", ID: alice.String(), Nick: "alice", Listen: "127.0.0.1:7000", Addrs: []string{"10.0.0.2:7000"}, Notes: []string{"port taken"}, Room: "lobby"}},
		{"admins", &mmls.AdminsChanged{At: at, Room: "ops", Admins: []string{"alice", "bob"}}, "",
			Record{Type: "admins", Room: "ops", Admins: []string{"alice", "bob"}}},
		{"ignored", &mmls.Ignored{At: at, ID: bob, Nick: "bob"}, "",
			Record{Type: "ignored", ID: bob.String(), Nick: "bob"}},
		{"refused", &mmls.Refused{At: at, Room: "ops", ID: bob, Nick: "bob", Reason: "kicked"}, "",
			Record{Type: "refused", Room: "ops", ID: bob.String(), Nick: "bob", Detail: "kicked"}},
		{"room full, waits", &mmls.RoomFull{At: at, Room: "ops", ID: bob, Nick: "bob"}, "",
			Record{Type: "room-full", Room: "ops", ID: bob.String(), Nick: "bob", Status: "waits"}},
		{"room full, made room", &mmls.RoomFull{At: at, Room: "ops", ID: bob, Nick: "bob", MadeRoom: true}, "",
			Record{Type: "room-full", Room: "ops", ID: bob.String(), Nick: "bob", Status: "made-room"}},
		{"unreachable", &mmls.Unreachable{At: at, Addr: "10.0.0.9:7000", Reason: "connection refused"}, "",
			Record{Type: "unreachable", Addr: "10.0.0.9:7000", Detail: "connection refused"}},
		{"joined a room", &mmls.Joined{At: at, Room: "dev", Private: true}, "",
			Record{Type: "joined", Room: "dev", Private: true}},
		{"joined a direct room", &mmls.Joined{At: at, Room: "dm:x", With: bob, Nick: "bob"}, "",
			Record{Type: "joined", Room: "dm:x", ID: bob.String(), Nick: "bob"}},
		{"undelivered", &mmls.Undelivered{At: at, Room: "lobby", MsgID: "m1", To: bob}, "",
			Record{Type: "undelivered", Room: "lobby", ID: "m1", ToID: bob.String()}},
		{"history", &mmls.History{At: at, Room: "lobby", Lines: []mmls.Line{
			{MsgID: "m1", From: "bob", FromID: bob, Text: "hi", SentAt: sentAt},
			{MsgID: "m2", From: "alice", FromID: alice, Text: "hello", SentAt: sentAt, Mine: true, Recipients: 2, StoredBy: []mmls.ID{bob}},
			{MsgID: "m3", From: "bob", FromID: bob, Text: "notes.txt", SentAt: sentAt, File: &file},
		}}, "",
			Record{Type: "history", Room: "lobby", History: []Line{
				{ID: "m1", From: "bob", FromID: bob.String(), Text: "hi", SentAt: sentAt},
				{ID: "m2", From: "alice", FromID: alice.String(), Text: "hello", SentAt: sentAt, Mine: true, Recipients: 2, StoredBy: []string{bob.String()}},
				{ID: "m3", From: "bob", FromID: bob.String(), Text: "notes.txt", SentAt: sentAt, File: &wantFile},
			}}},
		{"left", &mmls.Left{At: at, Room: "dev"}, "", Record{Type: "left", Room: "dev"}},
		{"peer online", &mmls.PeerChanged{At: at, ID: bob, Nick: "bob", Addr: "10.0.0.3:7000", Online: true}, "",
			Record{Type: "peer", ID: bob.String(), Nick: "bob", Addr: "10.0.0.3:7000", Status: "online"}},
		{"peer offline", &mmls.PeerChanged{At: at, ID: bob, Nick: "bob"}, "",
			Record{Type: "peer", ID: bob.String(), Nick: "bob", Status: "offline"}},
		{"member", &mmls.MemberChanged{At: at, Room: "lobby", ID: bob, Nick: "bob", Change: mmls.ChangeRemoved, By: alice, Departure: true, Following: bob, Restored: true}, "",
			Record{Type: "member", Room: "lobby", ID: bob.String(), Nick: "bob", Change: "removed", By: alice.String(), Departure: true, Following: bob.String(), Restored: true}},
		{"member, following nobody", &mmls.MemberChanged{At: at, Room: "lobby", ID: bob, Nick: "bob", Change: mmls.ChangeAdded, By: alice}, "",
			Record{Type: "member", Room: "lobby", ID: bob.String(), Nick: "bob", Change: "added", By: alice.String()}},
		{"removal ignored", &mmls.RemovalIgnored{At: at, Room: "lobby", ID: bob, Nick: "bob", By: alice, ByNick: "alice"}, "",
			Record{Type: "removal-ignored", Room: "lobby", ID: bob.String(), Nick: "bob", ByID: alice.String(), By: "alice"}},
		{"kick lifted", &mmls.KickLifted{At: at, Room: "lobby", ID: bob, Nick: "bob", By: alice}, "",
			Record{Type: "kick-lifted", Room: "lobby", ID: bob.String(), Nick: "bob", ByID: alice.String()}},
		{"rotated", &mmls.KeyRotated{At: at, Room: "lobby", By: bob, ByNick: "bob"}, "",
			Record{Type: "rotated", Room: "lobby", ByID: bob.String(), By: "bob"}},
		{"message", &mmls.Message{At: at, Room: "lobby", MsgID: "m1", From: "bob", FromID: bob, Text: "hi", SentAt: sentAt}, "",
			Record{Type: "message", Room: "lobby", ID: "m1", From: "bob", FromID: bob.String(), Text: "hi", SentAt: &sentAt}},
		{"message handed on", &mmls.Message{At: at, Room: "lobby", MsgID: "m1", From: "bob", FromID: bob, Text: "hi", SentAt: sentAt, Via: alice}, "",
			Record{Type: "message", Room: "lobby", ID: "m1", From: "bob", FromID: bob.String(), Text: "hi", SentAt: &sentAt, Via: alice.String()}},
		{"sent", &mmls.Sent{At: at, Room: "lobby", MsgID: "m1", Text: "hi", Recipients: 3, Waiting: 1}, "",
			Record{Type: "sent", Room: "lobby", ID: "m1", Text: "hi", Recipients: 3, Waiting: 1}},
		{"delivered", &mmls.Delivered{At: at, Room: "lobby", MsgID: "m1", To: bob}, "",
			Record{Type: "delivered", Room: "lobby", ID: "m1", ToID: bob.String()}},
		{"removed", &mmls.Removed{At: at, Room: "lobby", By: bob, ByNick: "bob"}, "",
			Record{Type: "removed", Room: "lobby", ByID: bob.String(), By: "bob"}},
		{"invite", &mmls.InviteReceived{At: at, Room: "ops", From: "bob", FromID: bob, Private: true}, "",
			Record{Type: "invite", Room: "ops", From: "bob", FromID: bob.String(), Private: true}},
		{"invited", &mmls.InviteSent{At: at, Room: "ops", ID: bob, Nick: "bob"}, "",
			Record{Type: "invited", Room: "ops", ID: bob.String(), Nick: "bob"}},
		{"alert", &mmls.Alert{At: at, Kind: mmls.Equivocation, Room: "lobby", Nick: "bob", By: bob, Detail: "two commits", Digests: []string{"d1", "d2"}}, "",
			Record{Type: "alert", Kind: "equivocation", Room: "lobby", Nick: "bob", ByID: bob.String(), Detail: "two commits", Digests: []string{"d1", "d2"}}},
		{"alert, a changed key", &mmls.Alert{At: at, Kind: mmls.KeyChanged, Nick: "bob", ID: bob, Detail: "new key"}, "",
			Record{Type: "alert", Kind: "key-changed", Nick: "bob", ID: bob.String(), Detail: "new key"}},
		{"alerts", &mmls.Alerts{At: at, Alerts: []mmls.AlertView{{Kind: mmls.LookAlike, Room: "lobby", Nick: "b0b", By: bob, Time: sentAt, Detail: "looks like bob", Epoch: 3, Digests: []string{"d"}}}}, "",
			Record{Type: "alerts", Alerts: []Alert{{Kind: "look-alike", Room: "lobby", Nick: "b0b", ByID: bob.String(), Time: sentAt, Detail: "looks like bob", Epoch: 3, Digests: []string{"d"}}}}},
		{"failure", &mmls.Failure{At: at, Err: errors.New("disk full")}, "",
			Record{Type: "error", Error: mmls.Describe(errors.New("disk full"))}},
		{"who", &mmls.Members{At: at, Room: "ops", Private: true, Members: []mmls.MemberView{{ID: bob, Nick: "bob", WeReach: true, TheyReach: true, Online: true, Verified: true, Stale: true}}}, "",
			Record{Type: "who", Room: "ops", Private: true, Members: []Member{{ID: bob.String(), Nick: "bob", WeReach: true, TheyReach: true, Online: true, Verified: true, Stale: true}}}},
		{"peers", &mmls.Peers{At: at, Peers: []mmls.PeerView{{ID: bob, Nick: "bob", Addr: "10.0.0.3:7000", Online: true, Queued: 2}}}, "",
			Record{Type: "peers", Peers: []Peer{{ID: bob.String(), Nick: "bob", Addr: "10.0.0.3:7000", Online: true, Queued: 2}}}},
		{"rooms, the current one marked", &mmls.Rooms{At: at, Rooms: []mmls.RoomView{{Name: "dev", Members: 2}, {Name: "lobby", Members: 3, Private: true}}}, "lobby",
			Record{Type: "rooms", Rooms: []Room{{Name: "dev", Members: 2}, {Name: "lobby", Current: true, Members: 3, Private: true}}}},
		{"info", &mmls.Info{At: at, ID: alice, Nick: "alice", Listen: "127.0.0.1:7000", MDNS: "on", Data: "/data", Rooms: 2, Online: 1, Version: "v1",
			Keys: []mmls.RoomKeys{{Room: "lobby", Rekeyed: sentAt, Leaves: []mmls.LeafRotation{{Owner: bob, Nick: "bob", At: sentAt}}}, {Room: "dev", Rekeyed: sentAt}}}, "dev",
			Record{Type: "info", Info: &Info{ID: alice.String(), Nick: "alice", Listen: "127.0.0.1:7000", MDNS: "on", Data: "/data", Room: "dev", Rooms: 2, Online: 1, Version: "v1",
				Keys: []Keys{{Room: "lobby", Rekeyed: sentAt, Leaves: map[string]time.Time{bob.String(): sentAt}}, {Room: "dev", Rekeyed: sentAt}}}}},
		{"verify", &mmls.SafetyNumber{At: at, Nick: "bob", ID: bob, Number: "1234 5678", Verified: true}, "",
			Record{Type: "verify", Nick: "bob", ID: bob.String(), SafetyNumber: "1234 5678", Verified: true}},
		{"search", &mmls.Found{At: at, Room: "lobby", Text: "hi", Total: 5, Lines: []mmls.Line{{MsgID: "m1", From: "bob", FromID: bob, Text: "hi there", SentAt: sentAt}}}, "",
			Record{Type: "search", Room: "lobby", Text: "hi", Matches: intp(5), History: []Line{{ID: "m1", From: "bob", FromID: bob.String(), Text: "hi there", SentAt: sentAt}}}},
		{"notify on", &mmls.NotifyChanged{At: at, On: true}, "", Record{Type: "notify", Status: "on"}},
		{"notify off", &mmls.NotifyChanged{At: at}, "", Record{Type: "notify", Status: "off"}},
		{"help", &mmls.HelpText{At: at, Commands: []string{"/join ROOM"}}, "", Record{Type: "help", Commands: []string{"/join ROOM"}}},
		{"switched", &mmls.Switched{At: at, Room: "dev"}, "", Record{Type: "switched", Room: "dev"}},
		{"update", &mmls.KeysUpdated{At: at, Room: "lobby"}, "", Record{Type: "update", Room: "lobby"}},
		{"history, older stored", &mmls.History{At: at, Room: "dev", Older: 9, LastRead: "m1", Lines: []mmls.Line{{MsgID: "m1", From: "bob", FromID: bob, Text: "hi", SentAt: sentAt}}}, "",
			Record{Type: "history", Room: "dev", More: true, LastRead: "m1", History: []Line{{ID: "m1", From: "bob", FromID: bob.String(), Text: "hi", SentAt: sentAt}}}},
		{"nick", &mmls.NickChanged{At: at, Nick: "alicia", Detail: "told 2 online"}, "", Record{Type: "nick", Nick: "alicia", Detail: "told 2 online"}},
		{"peer-away", &mmls.PeerAway{At: at, ID: bob, Nick: "bob", Text: "lunch", Rooms: []string{"lobby"}}, "",
			Record{Type: "peer-away", ID: bob.String(), Nick: "bob", Text: "lunch", Shared: []string{"lobby"}}},
		{"away", &mmls.AwayChanged{At: at, Text: "lunch", Detail: "told 1 online"}, "", Record{Type: "away", Text: "lunch", Detail: "told 1 online"}},
		{"renamed", &mmls.PeerRenamed{At: at, ID: bob, Old: "bob", Nick: "bobby", Rooms: []string{"lobby", "dev"}}, "",
			Record{Type: "renamed", ID: bob.String(), Old: "bob", Nick: "bobby", Shared: []string{"lobby", "dev"}}},
		{"file", &mmls.FileOffered{At: at, Room: "lobby", MsgID: "m1", From: "bob", FromID: bob, File: file, Recipients: 2}, "",
			Record{Type: "file", Room: "lobby", ID: "f1", From: "bob", FromID: bob.String(), Name: "notes.txt", Size: 42, SHA256: "ab", Mime: "text/plain", Recipients: 2}},
		{"file, ours", &mmls.FileOffered{At: at, Room: "lobby", From: "alice", FromID: alice, Mine: true, File: file}, "",
			Record{Type: "file", Room: "lobby", ID: "f1", From: "alice", FromID: alice.String(), Mine: true, Name: "notes.txt", Size: 42, SHA256: "ab", Mime: "text/plain"}},
		{"sending", &mmls.FilePreparing{At: at, Room: "lobby", Name: "big.iso", Size: 1 << 20}, "",
			Record{Type: "sending", Room: "lobby", Name: "big.iso", Size: 1 << 20}},
		{"saving", &mmls.FileSaving{At: at, Room: "lobby", ID: "f1", Name: "notes.txt", Size: 42, Dir: "/dl"}, "",
			Record{Type: "saving", Room: "lobby", ID: "f1", Name: "notes.txt", Size: 42, Dir: "/dl"}},
		{"progress, none yet", &mmls.FileProgress{At: at, ID: "f1", Room: "lobby", Name: "notes.txt", Total: 42}, "",
			Record{Type: "progress", ID: "f1", Room: "lobby", Name: "notes.txt", Done: i64(0), Total: 42}},
		{"saved", &mmls.FileSaved{At: at, ID: "f1", Room: "lobby", Name: "notes.txt", Path: "/dl/notes.txt", SHA256: "ab"}, "",
			Record{Type: "saved", ID: "f1", Room: "lobby", Name: "notes.txt", Path: "/dl/notes.txt", SHA256: "ab"}},
		{"autosave on", &mmls.AutoSaveChanged{At: at, Limit: 20 << 20}, "", Record{Type: "autosave", Size: 20 << 20, Status: "on"}},
		{"autosave off", &mmls.AutoSaveChanged{At: at}, "", Record{Type: "autosave", Status: "off"}},
		{"hold on", &mmls.HoldChanged{At: at, On: true}, "", Record{Type: "hold", Status: "on"}},
		{"hold off", &mmls.HoldChanged{At: at}, "", Record{Type: "hold", Status: "off"}},
		{"passphrase changed", &mmls.PassphraseChanged{At: at, Sealed: true}, "", Record{Type: "passphrase", Status: "changed"}},
		{"passphrase at the next start", &mmls.PassphraseChanged{At: at}, "", Record{Type: "passphrase", Status: "next-start"}},
		{"file waiting", &mmls.FileWaiting{At: at, ID: "f1", Room: "lobby", Name: "notes.txt"}, "",
			Record{Type: "file-waiting", ID: "f1", Room: "lobby", Name: "notes.txt"}},
		{"cancelled", &mmls.FileCancelled{At: at, ID: "f1", Room: "lobby", Name: "notes.txt"}, "",
			Record{Type: "cancelled", ID: "f1", Room: "lobby", Name: "notes.txt"}},
		{"file failed", &mmls.FileFailed{At: at, ID: "f1", Room: "lobby", Name: "notes.txt", Err: errors.New("no holder")}, "",
			Record{Type: "file-failed", ID: "f1", Room: "lobby", Name: "notes.txt", Error: mmls.Describe(errors.New("no holder"))}},
		{"files", &mmls.Files{At: at, Room: "lobby", Files: []mmls.FileView{file}}, "",
			Record{Type: "files", Room: "lobby", Files: []File{wantFile}}},
		{"files, none", &mmls.Files{At: at, Room: "lobby"}, "",
			Record{Type: "files", Room: "lobby", Files: []File{}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.want.Time = t0
			typed, ok := recordOf(tc.ev, tc.current)
			if !ok {
				t.Fatalf("%T is not written", tc.ev)
			}
			if typed.header().Type != tc.want.Type {
				t.Fatalf("%T written as a %s record", tc.ev, typed.header().Type)
			}
			// The same bytes as the union writes: the contract unchanged,
			// field order included.
			b1, _ := json.Marshal(typed)
			b2, _ := json.Marshal(tc.want)
			if string(b1) != string(b2) {
				t.Errorf("JSON\n got %s\nwant %s", b1, b2)
			}
			got := read(t, typed)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("record\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// An answer that an interface acts on, not a script: not written (a
	// /query's is written by Run, as switched).
	for _, ev := range []mmls.Event{&mmls.DirectRoom{At: at, Room: "dm:x", With: bob}} {
		if r, ok := recordOf(ev, ""); ok {
			t.Errorf("%T written as %+v", ev, r)
		}
	}
}

// read is what a reader of the output gets of r: its JSON, decoded into
// the union every record fits.
func read(t *testing.T, r record) Record {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var u Record
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRecordJSON: the names scripts read, and fields left out when
// empty (a progress of zero bytes still says done 0).
func TestRecordJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev   mmls.Event
		want string
	}{
		{&mmls.Delivered{At: at, Room: "lobby", MsgID: "m1", To: bob},
			`{"type":"delivered","time":"2026-11-30T09:00:00Z","id":"m1","room":"lobby","to_id":"` + bob.String() + `"}`},
		{&mmls.FileProgress{At: at, ID: "f1", Room: "lobby", Name: "a<b>", Total: 42},
			`{"type":"progress","time":"2026-11-30T09:00:00Z","id":"f1","room":"lobby","name":"a<b>","done":0,"total":42}`},
		{&mmls.Removed{At: at, Room: "lobby", By: bob, ByNick: "bob"},
			`{"type":"removed","time":"2026-11-30T09:00:00Z","room":"lobby","by":"bob","by_id":"` + bob.String() + `"}`},
	}
	for _, tc := range tests {
		r, _ := recordOf(tc.ev, "")
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // as write does
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(b.String()); got != tc.want {
			t.Errorf("%T:\n got %s\nwant %s", tc.ev, got, tc.want)
		}
	}
}

// TestErrorRecord: a failed command's record says it in plain words, at
// its answer's time, or now when there was no answer.
func TestErrorRecord(t *testing.T) {
	t.Parallel()
	err := errors.New("disk full")
	if r := errorRecord(err, timeOf(&mmls.Left{At: at})).(ErrorRec); r.Type != "error" || !r.Time.Equal(t0) || r.Error != mmls.Describe(err) {
		t.Errorf("with an answer: %+v", r)
	}
	before := time.Now()
	if r := errorRecord(err, timeOf(nil)).(ErrorRec); r.Time.Before(before.Add(-time.Second)) || r.Time.Location() != time.UTC {
		t.Errorf("without an answer: %+v", r)
	}
}
