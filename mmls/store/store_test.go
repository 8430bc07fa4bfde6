package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := openAny(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// begin starts a batch on s that the test's end rolls back if the test
// did not end it. A test that fails with a batch open (t.Fatal inside
// it) would otherwise leave open's Close waiting for the batch's write
// transaction until the package's -timeout, its message lost in the
// panic's dump. Cleanups run last first, so this one runs before
// open's Close.
func begin(t *testing.T, s *Store) *Store {
	t.Helper()
	b, err := s.Begin()
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() {
		if b.batch != nil {
			_ = b.batch.tx.Rollback()
			b.batch = nil
		}
	})
	return b
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestPersistsAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s, err := openAny(dir)
	if err != nil {
		t.Fatal(err)
	}
	seed := bytes.Repeat([]byte{7}, 32)
	must(t, s.SetIdentity(Identity{Seed: seed, Nick: "alice"}))
	must(t, s.JoinRoom(Room{Name: "lobby", JoinedAt: t0}))
	secret := bytes.Repeat([]byte{9}, 32)
	must(t, s.JoinRoom(Room{Name: "secret", JoinedAt: t0, Private: true, Secret: secret}))
	must(t, s.Vouch("secret", "bob"))
	must(t, s.AddInvite(Invite{Room: "plans", Secret: secret, From: "carol", At: t0}))
	added, err := s.AddMessage(Message{ID: "m1", Room: "lobby", FromID: "b", FromNick: "bob", Text: "hi", SentAt: t0})
	if err != nil || !added {
		t.Fatal(added, err)
	}
	must(t, s.AddOutgoing(Outgoing{ID: "m2", Room: "lobby", Text: "yo", SentAt: t0, To: []string{"b", "c"}}, "a", "alice"))
	must(t, s.Kick("lobby", Kick{Peer: "mallory", At: t0}))
	s.Close()

	s = open(t, dir)
	id, err := s.Identity()
	if err != nil || !bytes.Equal(id.Seed, seed) || id.Nick != "alice" {
		t.Fatalf("identity %+v %v", id, err)
	}
	rooms, _ := s.Rooms()
	if len(rooms) != 2 || rooms[0].Name != "lobby" || rooms[1].Name != "secret" || !rooms[1].Private || !bytes.Equal(rooms[1].Secret, secret) {
		t.Fatalf("rooms %+v", rooms)
	}
	if v, _ := s.Vouches("secret"); fmt.Sprint(v) != "[bob]" {
		t.Fatalf("vouches %v", v)
	}
	if invs, err := s.Invitations("plans"); err != nil || len(invs) != 1 || invs[0].From != "carol" || !bytes.Equal(invs[0].Secret, secret) {
		t.Fatalf("invite %+v %v", invs, err)
	}
	must(t, s.DropInvite("plans", "carol"))
	if invs, err := s.Invitations("plans"); err != nil || len(invs) != 0 {
		t.Fatalf("an invitation after it was dropped: %v %v", invs, err)
	}
	must(t, s.LeaveRoom("secret"))
	if v, _ := s.Vouches("secret"); len(v) != 0 {
		t.Fatalf("vouches after leaving: %v", v)
	}
	h, _ := s.History("lobby", 0)
	if len(h) != 2 || h[0].Text != "hi" || h[1].Text != "yo" || !h[1].Mine {
		t.Fatalf("history %+v", h)
	}
	out, _ := s.Outbox()
	if len(out) != 1 || fmt.Sprint(out[0].Pending()) != "[b c]" {
		t.Fatalf("outbox %+v", out)
	}
	kicked, _ := s.Kicked("lobby")
	if len(kicked) != 1 || kicked[0].Peer != "mallory" || kicked[0].By != "" {
		t.Fatalf("kicked %+v", kicked)
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestMessagesAreDeduplicated(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	m := Message{ID: "dup", Room: "lobby", FromID: "bob", Text: "once"}
	for i, want := range []bool{true, false, false} {
		added, err := s.AddMessage(m)
		if err != nil || added != want {
			t.Fatalf("add %d: %v %v", i, added, err)
		}
	}
	// A message is its sender's, in its room: the same id from someone
	// else, or in another room, is another message (reusing an id hides
	// nothing), and each of those is deduplicated in turn.
	for _, other := range []Message{
		{ID: "dup", Room: "lobby", FromID: "mallory", Text: "squat"},
		{ID: "dup", Room: "other", FromID: "bob", Text: "elsewhere"},
	} {
		for i, want := range []bool{true, false} {
			if added, err := s.AddMessage(other); err != nil || added != want {
				t.Fatalf("%s in %s, add %d: %v %v", other.FromID, other.Room, i, added, err)
			}
		}
	}
	h, _ := s.History("lobby", 0)
	if len(h) != 2 || h[0].Text != "once" || h[1].Text != "squat" {
		t.Fatalf("lobby history: %+v", h)
	}
	if h, _ := s.History("other", 0); len(h) != 1 {
		t.Fatalf("other history: %+v", h)
	}
}

func TestHistoryLimitKeepsNewest(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	for i := 0; i < 10; i++ {
		if _, err := s.AddMessage(Message{ID: fmt.Sprint(i), Room: "r", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := s.History("r", 3)
	if len(h) != 3 || h[0].Text != "7" || h[2].Text != "9" {
		t.Fatalf("%+v", h)
	}
	if h, _ := s.History("empty", 3); len(h) != 0 {
		t.Fatal("history of an unknown room")
	}
}

// TestOutboxAcknowledgements runs on the store and inside a batch (where
// receipts go through the batch's cache): the same answers, and the same
// store once the batch is committed.
func TestOutboxAcknowledgements(t *testing.T) {
	t.Parallel()
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprint("batch=", batch), func(t *testing.T) {
			t.Parallel()
			base := open(t, t.TempDir())
			s := base
			if batch {
				s = begin(t, base)
			}
			outboxAcknowledgements(t, s)
			if batch {
				must(t, s.Commit())
			}
			if out, _ := base.Outbox(); len(out) != 0 {
				t.Fatalf("outbox after all: %+v", out)
			}
			if d, err := base.Deliveries([]string{"m", "n"}); err != nil || fmt.Sprint(d) != "map[m:{3 [b c] 1} n:{1 [b] 0}]" {
				t.Fatalf("deliveries kept: %v, %v", d, err)
			}
		})
	}
}

func outboxAcknowledgements(t *testing.T, s *Store) {
	must(t, s.AddOutgoing(Outgoing{ID: "m", Room: "lobby", To: []string{"b", "c", "d"}, SentAt: t0}, "a", "alice"))
	tests := []struct {
		peer    string
		news    bool
		pending string
	}{
		{"b", true, "[c d]"},
		{"b", false, "[c d]"},        // again
		{"stranger", false, "[c d]"}, // not a recipient
		{"c", true, "[d]"},
	}
	for _, tc := range tests {
		news, o, err := s.Acknowledge("m", tc.peer)
		if err != nil || news != tc.news || fmt.Sprint(o.Pending()) != tc.pending {
			t.Fatalf("ack %s: news %v pending %v err %v", tc.peer, news, o.Pending(), err)
		}
	}
	// Dropping d (removed from the group) completes delivery: the entry
	// leaves the outbox, the history keeps the message.
	dropped, err := s.DropRecipient("lobby", "d")
	if err != nil || fmt.Sprint(dropped) != "[m]" {
		t.Fatalf("dropped %v, %v", dropped, err)
	}
	if out, _ := s.Outbox(); len(out) != 0 {
		t.Fatalf("outbox %+v", out)
	}
	// The delivery outlives the outbox entry: 2 of the 2 who count.
	if d, err := s.Deliveries([]string{"m", "unknown"}); err != nil || fmt.Sprint(d) != "map[m:{3 [b c] 1}]" {
		t.Fatalf("deliveries %v, %v", d, err)
	}
	if _, _, err := s.Acknowledge("m", "d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack after completion: %v", err)
	}
	if h, _ := s.History("lobby", 0); len(h) != 1 {
		t.Fatalf("history %+v", h)
	}
	// Once every recipient acknowledged, the entry leaves the outbox.
	must(t, s.AddOutgoing(Outgoing{ID: "n", Room: "lobby", To: []string{"b"}, SentAt: t0.Add(time.Second)}, "a", "alice"))
	if _, _, err := s.Acknowledge("n", "b"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Acknowledge("n", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

func TestPins(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	tests := []struct{ nick, id, previous string }{
		{"bob", "k1", ""},
		{"bob", "k1", ""},
		{"bob", "k2", "k1"}, // a known nick with a different key
		{"carol", "k3", ""},
	}
	for _, tc := range tests {
		prev, err := s.Pin(tc.nick, tc.id)
		if err != nil || prev != tc.previous {
			t.Fatalf("pin %s=%s: previous %q err %v", tc.nick, tc.id, prev, err)
		}
	}
}

func TestKicks(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	must(t, s.Kick("lobby", Kick{Peer: "x", At: t0}))
	must(t, s.Kick("lobby", Kick{Peer: "y", By: "alice", At: t0}))
	must(t, s.Kick("lobbyist", Kick{Peer: "z", At: t0})) // a room whose name extends another
	// A kick as version 1 stored it: a bare time, ours.
	must(t, s.update(func(tx *Tx) error {
		return tx.Bucket(bKicks).Put(kickKey("lobby", "w"), []byte(t0.Format(time.RFC3339Nano)))
	}))
	k, err := s.Kicked("lobby")
	if err != nil || fmt.Sprintf("%s/%s %s/%s %s/%s", k[0].Peer, k[0].By, k[1].Peer, k[1].By, k[2].Peer, k[2].By) != "w/ x/ y/alice" {
		t.Fatalf("kicked %+v %v", k, err)
	}
	must(t, s.Unkick("lobby", "y"))
	if k, _ := s.Kicked("lobby"); len(k) != 2 {
		t.Fatalf("after unkick: %+v", k)
	}
}

func TestRefusesForeignAndDamagedFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    error
	}{
		{"random bytes", func(t *testing.T, path string) {
			os.WriteFile(path, bytes.Repeat([]byte("not a database "), 2000), 0o600)
		}, ErrForeign},
		{"empty-ish", func(t *testing.T, path string) {
			os.WriteFile(path, []byte("x"), 0o600)
		}, ErrForeign},
		{"another program's bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("theirs")); return err })
			db.Close()
		}, ErrForeign},
		{"a newer version", func(t *testing.T, path string) {
			s, err := openAny(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			s.update(func(tx *Tx) error {
				return tx.Bucket(bMeta).Put([]byte("version"), []byte{0, 0, 0, 99})
			})
			s.Close()
		}, ErrNewer},
		{"a damaged record", func(t *testing.T, path string) {
			s, err := openAny(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			s.update(func(tx *Tx) error {
				return tx.Bucket(bIdentity).Put([]byte("self"), []byte("{not json"))
			})
			s.Close()
		}, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			tc.prepare(t, path)
			before, _ := os.ReadFile(path)
			s, err := openAny(dir)
			if err == nil {
				_, err = s.Identity()
				s.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if tc.want != ErrCorrupt {
				// Refused files are left exactly as they were.
				if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
					t.Fatal("a refused file was modified")
				}
			}
		})
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open(t, dir)
	if _, err := openAny(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("want ErrLocked, got %v", err)
	}
}

func TestUnusableDirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "plain-file")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := openAny(filepath.Join(file, "data")); err == nil {
		t.Fatal("a directory under a file was accepted")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	must(t, s.AddMember("lobby", "b"))
	must(t, s.AddMember("lobby", "c"))
	must(t, s.AddMember("lobbyist", "d"))
	must(t, s.AddMember("lobby", "b")) // again
	must(t, s.RemoveMember("lobby", "c"))
	if m, _ := s.Members("lobby"); fmt.Sprint(m) != "[b]" {
		t.Fatalf("members %v", m)
	}
	must(t, s.ClearMembers("lobby"))
	if m, _ := s.Members("lobby"); len(m) != 0 {
		t.Fatalf("after clear %v", m)
	}
	if m, _ := s.Members("lobbyist"); fmt.Sprint(m) != "[d]" {
		t.Fatalf("other room %v", m)
	}
}

func TestVerified(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	if v, _ := s.Verified("b"); v {
		t.Fatal("verified before anything")
	}
	must(t, s.SetVerified("b", t0))
	if v, _ := s.Verified("b"); !v {
		t.Fatal("not verified")
	}
	if v, _ := s.Verified("c"); v {
		t.Fatal("another peer verified")
	}
}

// TestUpgradesVersion1: a store written by the previous version (no
// vouches or invites buckets) opens, gains them, and keeps its data.
func TestUpgradesVersion1(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.JoinRoom(Room{Name: "lobby", JoinedAt: t0}))
	stored := Message{ID: "m1", Room: "lobby", FromID: "bob", Text: "before the upgrade"}
	if _, err := s.AddMessage(stored); err != nil {
		t.Fatal(err)
	}
	// Make it a version 1 store: no vouches or invites, and the dedupe
	// index keyed by message id alone.
	must(t, s.update(func(tx *Tx) error {
		for _, b := range [][]byte{bVouches, bInvites, bMsgKeys, bAlerts} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		ids, err := tx.CreateBucket([]byte("msgids"))
		if err != nil {
			return err
		}
		if err := ids.Put([]byte(stored.ID), []byte(stored.Room)); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("version"), binary.BigEndian.AppendUint32(nil, 1))
	}))
	s.Close()
	s = open(t, dir)
	if rooms, _ := s.Rooms(); len(rooms) != 1 {
		t.Fatalf("rooms after the upgrade: %+v", rooms)
	}
	must(t, s.Vouch("lobby", "bob"))
	// The stored message is still known (a re-send is a duplicate); the
	// same id from another sender is not.
	if added, err := s.AddMessage(stored); err != nil || added {
		t.Fatalf("re-send after the upgrade: added %v, %v", added, err)
	}
	if added, err := s.AddMessage(Message{ID: "m1", Room: "lobby", FromID: "carol", Text: "hi"}); err != nil || !added {
		t.Fatalf("another sender's id after the upgrade: added %v, %v", added, err)
	}
	must(t, s.view(func(tx *Tx) error {
		if v := binary.BigEndian.Uint32(tx.Bucket(bMeta).Get([]byte("version"))); v != version {
			t.Errorf("version %d after the upgrade", v)
		}
		if tx.Bucket([]byte("msgids")) != nil {
			t.Error("the version 1 index survived the upgrade")
		}
		return nil
	}))
}

// TestAlertsAreKeptBounded: alerts survive a reopen with their evidence,
// and only the newest MaxAlerts are kept; alerts without evidence (which
// peers can cause at will) never push out one with evidence.
func TestAlertsAreKeptBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	for i := 0; i < MaxAlerts+10; i++ {
		must(t, s.AddAlert(Alert{Kind: "equivocation", Room: "lobby", At: t0, Detail: fmt.Sprint(i),
			Digests: []string{"aa", "bb"}, Commits: [][]byte{{1, 2}, {3}}}))
	}
	s.Close()
	s = open(t, dir)
	got, err := s.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxAlerts || got[0].Detail != "10" || got[len(got)-1].Detail != fmt.Sprint(MaxAlerts+9) {
		t.Fatalf("%d alerts, first %q", len(got), got[0].Detail)
	}
	if string(got[0].Commits[0]) != "\x01\x02" || got[0].Digests[1] != "bb" {
		t.Fatalf("evidence lost: %+v", got[0])
	}
}

func TestAlertsWithEvidenceOutlastTheRest(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	must(t, s.AddAlert(Alert{Kind: "equivocation", At: t0, Detail: "evidence", Commits: [][]byte{{1}, {2}}}))
	for i := 0; i < MaxAlerts+5; i++ {
		must(t, s.AddAlert(Alert{Kind: "look-alike", At: t0, Detail: fmt.Sprint(i)}))
	}
	got, err := s.Alerts()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxAlerts || got[0].Detail != "evidence" || got[1].Detail != "6" {
		t.Fatalf("%d alerts, first %q then %q", len(got), got[0].Detail, got[1].Detail)
	}
}

// TestKnownPeersAndSettings: what a restart needs to reconnect and to
// put the user back where they were; the known peers are bounded.
func TestKnownPeersAndSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	var batch []KnownPeer
	for i := range MaxKnownPeers + 3 {
		batch = append(batch, KnownPeer{ID: fmt.Sprintf("p%03d", i), Nick: "n", Addr: fmt.Sprintf("10.0.0.%d:7420", i%250), Seen: t0.Add(time.Duration(i) * time.Second)})
	}
	must(t, s.SawPeers(batch[:100]))
	must(t, s.SawPeers(batch[100:]))
	must(t, s.SawPeers([]KnownPeer{{ID: "p010", Nick: "ten", Addr: "10.0.0.10:7421", Seen: t0.Add(time.Hour)}}))
	must(t, s.SetSetting(SettingLastRoom, "dev"))
	s.Close()
	s = open(t, dir)
	known, err := s.KnownPeers()
	if err != nil || len(known) != MaxKnownPeers {
		t.Fatalf("%d known peers, %v", len(known), err)
	}
	if k := known[0]; k.ID != "p010" || k.Nick != "ten" || k.Addr != "10.0.0.10:7421" {
		t.Fatalf("most recent: %+v", k)
	}
	for _, k := range known {
		if k.ID == "p000" || k.ID == "p001" || k.ID == "p002" {
			t.Fatalf("%s, among the oldest, was kept", k.ID)
		}
	}
	if v, err := s.Setting(SettingLastRoom); v != "dev" || err != nil {
		t.Fatalf("last room %q, %v", v, err)
	}
	if v, err := s.Setting("never set"); v != "" || err != nil {
		t.Fatalf("unset setting %q, %v", v, err)
	}
}

// TestNotesBounded: notes come back in order per room (no room included),
// at most MaxNotes of them, the oldest gone first.
func TestNotesBounded(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	var batch []Note
	for i := range MaxNotes + 5 {
		batch = append(batch, Note{Room: "lobby", Kind: NoteMember, Nick: fmt.Sprint(i), At: t0.Add(time.Duration(i) * time.Second)})
	}
	must(t, s.AddNotes(batch))
	must(t, s.AddNotes([]Note{{Kind: NoteInvite, Subject: "plans", At: t0}}))
	notes, err := s.Notes("lobby")
	if err != nil || len(notes) != MaxNotes || notes[0].Nick != "5" || notes[MaxNotes-1].Nick != fmt.Sprint(MaxNotes+4) || notes[0].Room != "lobby" {
		t.Fatalf("%d notes, first %+v, %v", len(notes), notes[0], err)
	}
	if none, err := s.Notes(""); err != nil || len(none) != 1 || none[0].Subject != "plans" {
		t.Fatalf("notes of no room: %+v, %v", none, err)
	}
}

// TestBatch: a batch reads its own writes, others see them only after
// Commit; a write refused at the commit rolls the whole batch back, so
// a caller acknowledges none of it.
func TestBatch(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	b := begin(t, s)
	m := Message{ID: "m1", Room: "lobby", FromID: "bob", Text: "in a batch", SentAt: t0}
	if added, err := b.AddMessage(m); !added || err != nil {
		t.Fatalf("add: %v %v", added, err)
	}
	if h, _ := b.History("lobby", 0); len(h) != 1 {
		t.Fatalf("the batch does not read its own write: %+v", h)
	}
	if added, _ := b.AddMessage(m); added {
		t.Fatal("a re-send inside the batch counted as new")
	}
	done := make(chan []Message)
	go func() { h, _ := s.History("lobby", 0); done <- h }()
	if h := <-done; len(h) != 0 {
		t.Fatalf("another reader saw an uncommitted write: %+v", h)
	}
	// A receipt for a message no longer pending is an answer, not a
	// failure: the batch goes on.
	if _, _, err := b.Acknowledge("gone", "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ack of an unknown message: %v", err)
	}
	must(t, b.Commit())
	if h, _ := s.History("lobby", 0); len(h) != 1 {
		t.Fatalf("after the commit: %+v", h)
	}

	b = begin(t, s)
	s.FailWrites(errors.New("disk full"))
	if _, err := b.AddMessage(Message{ID: "m2", Room: "lobby", FromID: "bob", Text: "lost", SentAt: t0}); err != nil {
		t.Fatalf("a batch's write fails at its commit, not before: %v", err)
	}
	if err := b.Commit(); err == nil {
		t.Fatal("the commit succeeded on a refusing disk")
	}
	s.FailWrites(nil)
	if h, _ := s.History("lobby", 0); len(h) != 1 {
		t.Fatalf("a failed batch left %d messages", len(h))
	}
	b = begin(t, s) // a batch after a failed one
	must(t, b.Commit())
}

// TestEmptyBatchLeavesTheDiskAlone: a batch that only read (frames that
// changed nothing stored, a timer with nothing to write) ends without a
// transaction reaching the file; bbolt would write a new meta page and
// fsync twice for it. One that wrote commits as before.
func TestEmptyBatchLeavesTheDiskAlone(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	must(t, s.JoinRoom(Room{Name: "lobby", JoinedAt: t0}))
	txid := func() (id int) {
		must(t, s.view(func(tx *Tx) error { id = tx.tx.ID(); return nil }))
		return id
	}
	for _, tc := range []struct {
		name   string
		batch  func(b *Store) error
		commit bool
	}{
		{"reads only", func(b *Store) error { _, err := b.History("lobby", 0); return err }, false},
		{"a receipt for nothing pending", func(b *Store) error {
			if _, _, err := b.Acknowledge("gone", "bob"); !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("ack of an unknown message: %v", err)
			}
			return nil
		}, false},
		{"nothing at all", func(*Store) error { return nil }, false},
		{"a message", func(b *Store) error {
			_, err := b.AddMessage(Message{ID: "m1", Room: "lobby", FromID: "bob", Text: "hi", SentAt: t0})
			return err
		}, true},
	} {
		before := txid()
		b := begin(t, s)
		if err := tc.batch(b); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		must(t, b.Commit())
		if committed := txid() != before; committed != tc.commit {
			t.Errorf("%s: a transaction reached the file: %v, want %v", tc.name, committed, tc.commit)
		}
	}
}

// TestPanicInBatchRollsBack: a write that panics halfway (bbolt panics on
// a damaged page) fails the whole batch, like a write that returns an
// error: what it wrote before the panic never reaches the file, and the
// commit says so even when that write was the batch's only one (a batch
// that wrote nothing else must not pass for an empty one, whose commit
// succeeds without touching the disk).
func TestPanicInBatchRollsBack(t *testing.T) {
	t.Parallel()
	for _, before := range []bool{true, false} {
		s := open(t, t.TempDir())
		b := begin(t, s)
		if before {
			if _, err := b.AddMessage(Message{ID: "m1", Room: "lobby", FromID: "bob", Text: "before", SentAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		panicInBatch(t, s, b)
	}
}

func panicInBatch(t *testing.T, s, b *Store) {
	t.Helper()
	err := b.update(func(tx *Tx) error {
		if err := tx.Bucket(bMeta).Put([]byte("half"), []byte("written")); err != nil {
			return err
		}
		panic("a damaged page")
	})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a panicking write: %v", err)
	}
	if err := b.Commit(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("the batch committed after a panic: %v", err)
	}
	if h, _ := s.History("lobby", 0); len(h) != 0 {
		t.Fatalf("the failed batch left %+v", h)
	}
	must(t, s.view(func(tx *Tx) error {
		if v := tx.Bucket(bMeta).Get([]byte("half")); v != nil {
			t.Errorf("half a write reached the file: %q", v)
		}
		return nil
	}))
}

// TestUpgradesVersion7: invitations were keyed by room name alone (a
// second one to a name replaced the first); they are keyed by room and
// inviter now, and a store of version 7 keeps its pending ones.
func TestUpgradesVersion7(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	secret := bytes.Repeat([]byte{4}, 32)
	must(t, s.update(func(tx *Tx) error {
		if err := putJSON(tx.Bucket(bInvites), []byte("ops"), Invite{Room: "ops", Secret: secret, From: "alice", At: t0}); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("version"), binary.BigEndian.AppendUint32(nil, 7))
	}))
	s.Close()
	s = open(t, dir)
	invs, err := s.Invitations("ops")
	if err != nil || len(invs) != 1 || invs[0].From != "alice" || !bytes.Equal(invs[0].Secret, secret) {
		t.Fatalf("invitations after the upgrade: %+v %v", invs, err)
	}
	must(t, s.AddInvite(Invite{Room: "ops", Secret: secret, From: "mallory", At: t0}))
	if invs, _ := s.Invitations("ops"); len(invs) != 2 {
		t.Fatalf("a second inviter's invitation replaced the first: %+v", invs)
	}
}

// TestOutboxCacheAcrossBatches: the decoded outbox outlives a batch that
// committed, and is forgotten with one that failed (it held a receipt that
// was never stored: the receipt coming again must be news). A text's
// receipts are kept in its delivery record, not by rewriting its entry,
// and read back from there, across a restart too.
func TestOutboxCacheAcrossBatches(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.AddOutgoing(Outgoing{ID: "m", Room: "lobby", To: []string{"b", "c", "d"}, SentAt: t0}, "a", "alice"))
	entry := func() []byte {
		var raw []byte
		must(t, s.view(func(tx *Tx) error { raw = bytes.Clone(tx.Bucket(bOutbox).Get([]byte("m"))); return nil }))
		return raw
	}
	sent := entry()
	ack := func(peer string, fail, wantNews bool) {
		t.Helper()
		b := begin(t, s)
		news, o, err := b.Acknowledge("m", peer)
		if err != nil || news != wantNews {
			t.Fatalf("ack %s: news %v (want %v), %v", peer, news, wantNews, err)
		}
		if !o.Acked[peer] {
			t.Fatalf("ack %s: the answer says %+v", peer, o.Acked)
		}
		if fail {
			s.FailWrites(errors.New("disk full"))
			defer s.FailWrites(nil)
			if err := b.Commit(); err == nil {
				t.Fatal("the commit succeeded on a refusing disk")
			}
			return
		}
		must(t, b.Commit())
	}
	ack("b", false, true)
	ack("b", false, false) // from the cache: not news
	ack("c", true, true)   // not stored
	ack("c", false, true)  // so news again
	if !bytes.Equal(entry(), sent) {
		t.Fatalf("receipts rewrote the entry:\n%s\n%s", sent, entry())
	}
	check := func(s *Store) {
		t.Helper()
		out, err := s.Outbox()
		if err != nil || len(out) != 1 || fmt.Sprint(out[0].Pending()) != "[d]" {
			t.Fatalf("outbox %+v, %v", out, err)
		}
		if d, err := s.Deliveries([]string{"m"}); err != nil || fmt.Sprint(d) != "map[m:{3 [b c] 0}]" {
			t.Fatalf("deliveries %v, %v", d, err)
		}
	}
	check(s)
	must(t, s.Close())
	s = open(t, dir)
	check(s)
	// An entry written without the cache (a receipt outside a batch) is
	// read again by the next batch, not taken from the cache.
	ack("b", false, false)
	if news, _, err := s.Acknowledge("m", "d"); !news || err != nil {
		t.Fatalf("the last receipt: %v, %v", news, err)
	}
	b := begin(t, s)
	if _, _, err := b.Acknowledge("m", "d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a receipt after completion, in a batch: %v", err)
	}
	must(t, b.Commit())
}

// TestOutgoingKinds: a text and a file offer we send go into the history
// and get a delivery record; an invitation does neither (its Text is the
// room it invites to), and keeps its acknowledgements in its entry.
func TestOutgoingKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind     string
		history  bool
		delivery bool
	}{
		{KindText, true, true},
		{KindFile, true, true},
		{KindInvite, false, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("kind=", tc.kind), func(t *testing.T) {
			t.Parallel()
			s := open(t, t.TempDir())
			o := Outgoing{ID: "m", Room: "lobby", Kind: tc.kind, Text: "plans", To: []string{"b", "c"}, SentAt: t0}
			if tc.kind == KindFile {
				o.File = &FileRef{ID: "f", Name: "plans.pdf", Size: 10}
			}
			must(t, s.AddOutgoing(o, "a", "alice"))
			if h, _ := s.History("lobby", 0); (len(h) == 1) != tc.history {
				t.Fatalf("history %+v", h)
			}
			if news, _, err := s.Acknowledge("m", "b"); !news || err != nil {
				t.Fatalf("ack: %v %v", news, err)
			}
			d, err := s.Deliveries([]string{"m"})
			if err != nil || (len(d) == 1) != tc.delivery {
				t.Fatalf("deliveries %v, %v", d, err)
			}
			out, err := s.Outbox()
			if err != nil || len(out) != 1 || fmt.Sprint(out[0].Pending()) != "[c]" {
				t.Fatalf("outbox %+v, %v", out, err)
			}
		})
	}
}
