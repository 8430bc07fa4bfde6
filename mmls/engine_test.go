package mmls

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// recordingNet is a Network double for feeding the engine hostile frames
// directly (the real transport is exercised by the end-to-end tests).
type recordingNet struct {
	mu       sync.Mutex
	sends    int
	to       []ID     // the recipient of each send
	payloads [][]byte // and what went
	ev       chan NetEvent
}

func (n *recordingNet) Send(to ID, payload []byte) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sends++
	n.to = append(n.to, to)
	n.payloads = append(n.payloads, bytes.Clone(payload))
	return nil
}

// framesTo returns the frames of one kind sent to peer.
func (n *recordingNet) framesTo(peer ID, kind frame.Kind) [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out [][]byte
	for i, to := range n.to {
		if to == peer && len(n.payloads[i]) > 0 && frame.Kind(n.payloads[i][0]) == kind {
			out = append(out, n.payloads[i][1:])
		}
	}
	return out
}

// sentTo counts the frames sent to peer.
func (n *recordingNet) sentTo(peer ID) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, to := range n.to {
		if to == peer {
			c++
		}
	}
	return c
}
func (n *recordingNet) Ack(ID, uint64)           {}
func (n *recordingNet) Connect(string, ID) error { return nil }
func (n *recordingNet) Reach(string, ID) error   { return nil }
func (n *recordingNet) Events() <-chan NetEvent  { return n.ev }
func (n *recordingNet) Befriend(ID)              {}
func (n *recordingNet) SetNick(string)           {}
func (n *recordingNet) Peers() []NetPeer         { return nil }

// newTestEngine is an engine that has started (rooms open) but whose loop
// is not running: tests call its handlers directly, from one goroutine.
func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newTestEngineOn(t, st)
}

// newTestEngineOn is newTestEngine on st, which it closes at the end.
func newTestEngineOn(t testing.TB, st *store.Store) *Engine {
	t.Helper()
	t.Cleanup(func() { st.Close() })
	env := dmls.Env{Rand: rand.Reader, Now: time.Now}
	id, err := LoadIdentity(st, env, "fuzz", "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Identity: id, Store: st, Net: &recordingNet{ev: make(chan NetEvent)}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	rec := &recorder{}
	recorders.Store(e, rec)
	go func() {
		for {
			select {
			case ev := <-e.events:
				if m, ok := ev.(*marker); ok {
					close(m.seen)
					continue
				}
				rec.mu.Lock()
				rec.events = append(rec.events, ev)
				rec.mu.Unlock()
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { close(done); recorders.Delete(e) })
	if err := e.open(); err != nil {
		t.Fatal(err)
	}
	return e
}

// recorder keeps what a test engine emitted.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

var recorders sync.Map // *Engine -> *recorder

// marker is an event a test sends after the engine's own: once it is
// seen, every event before it is recorded.
type marker struct {
	At
	seen chan struct{}
}

// drainEvents returns (and forgets) what the engine emitted so far.
func (e *Engine) drainEvents() []Event {
	m := &marker{seen: make(chan struct{})}
	e.events <- m
	<-m.seen
	v, _ := recorders.Load(e)
	rec := v.(*recorder)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.events
	rec.events = nil
	return out
}

func sampleFrames() [][]byte {
	lobby := dmls.RoomIDOf("lobby")
	m := &dmls.Message{Kind: dmls.KindLeave, Room: lobby}
	leave, _ := m.Marshal()
	acks, _ := (&dmls.Acks{Room: lobby, From: bytes.Repeat([]byte{7}, 32), Version: 1,
		Entries: []dmls.AckEntry{{Author: ID{1}, Upto: 3, Gaps: []dmls.SeqRange{{Lo: 1, Hi: 1}}}}, Sig: bytes.Repeat([]byte{1}, 64)}).Marshal()
	held, _ := (&dmls.Held{Room: lobby, Envelope: []byte{2, 1}}).Marshal()
	return [][]byte{
		(&announcement{direct: true, tags: [][32]byte{{1}, {2}}}).frame(),
		frame.New(frame.Acks, acks),
		frame.New(frame.Held, held),
		dmlsFrame(leave),
		frame.New(frame.Nick, []byte("bobby")),
		frame.New(frame.Away, []byte("lunch")),
	}
}

func TestFrameCodec(t *testing.T) {
	t.Parallel()
	ids := []dmls.RoomID{dmls.RoomIDOf("a"), dmls.RoomIDOf("b")}
	a := &announcement{direct: true, nonce: [16]byte{5}, tags: [][32]byte{{7}, {8}}}
	got, err := parseRooms(a.frame()[1:])
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("%+v %v", got, err)
	}
	_ = ids
	for _, bad := range [][]byte{nil, {0}, {0, 1}, {0, 2, 1}, bytes.Repeat([]byte{1}, 33)} {
		if _, err := parseRooms(bad); err == nil {
			t.Errorf("rooms %x accepted", bad)
		}
	}
}

// FuzzEngineFrame: any frame from an authenticated peer is handled without
// a panic, and the engine still protects and sends a message afterwards.
// Each input gets a fresh engine, so a crash replays alone.
func FuzzEngineFrame(f *testing.F) {
	for _, s := range sampleFrames() {
		f.Add(s)
	}
	peer := dmls.Fingerprint{7}
	f.Fuzz(func(t *testing.T, frame []byte) {
		e := newTestEngine(t)
		e.onFrame(peer, frame)
		if err := e.say(e.rooms["lobby"], "still here"); err != nil {
			t.Fatalf("after the frame: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when MMLS_WRITE_CORPUS is
// set; the files are committed.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzEngineFrame")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range sampleFrames() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPeerNickIsValidated: a peer whose hello carries a nick that is not
// printable is known by its short id.
func TestPeerNickIsValidated(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	evil := ID{9}
	e.onNet(NetEvent{Kind: PeerUp, Peer: evil, Nick: "mal\x1b]0;pwned\x07lory", Addr: "10.0.0.9:7420"})
	if got := e.nickOf(evil, ""); got != evil.Short() {
		t.Fatalf("shown as %q", got)
	}
	// Nor a nick frame's: a nick that is not one changes nothing.
	friend := ID{10}
	e.onNet(NetEvent{Kind: PeerUp, Peer: friend, Nick: "frank", Addr: "10.0.0.10:7420"})
	for _, bad := range []string{"", "mal\x1b]0;pwned\x07lory", strings.Repeat("x", 33), "\xff"} {
		e.onFrame(friend, frame.New(frame.Nick, []byte(bad)))
		if got := e.nickOf(friend, ""); got != "frank" {
			t.Fatalf("after a nick frame of %q, shown as %q", bad, got)
		}
	}
	e.onFrame(friend, frame.New(frame.Nick, []byte("francis")))
	if got := e.nickOf(friend, ""); got != "francis" {
		t.Fatalf("after a good nick frame, shown as %q", got)
	}
}

// TestReusedMessageIDHidesNothing plays a member who sends a message with
// the id of someone else's (ids travel inside the envelope, chosen by the
// sender): it is stored and shown as the member's own, and the first
// sender's message, arriving after it, is stored too. A re-send from the
// same sender is acknowledged again (its acknowledgement may have been
// lost) and stored once.
func TestReusedMessageIDHidesNothing(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	net := e.cfg.Net.(*recordingNet)
	lobby := e.rooms["lobby"]
	alice, mallory := ID{1}, ID{2}
	id := dmls.MessageID{0xa1}
	e.peer(alice).online, e.peer(mallory).online = true, true
	deliver := func(from ID, nick, text string) {
		e.received(lobby, dmls.Event{Type: dmls.EventMessage, Peer: from, Nick: nick,
			Envelope: &dmls.Envelope{ID: id, SentAt: time.Now(), Kind: dmls.EnvelopeText, Body: []byte(text), To: []ID{e.me}, Seq: []uint64{1}}}, ID{})
	}
	deliver(mallory, "mallory", "squatted")
	deliver(alice, "alice", "the real one")
	deliver(alice, "alice", "the real one") // re-sent: her receipt was lost
	h, err := e.st.History("lobby", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range h {
		got = append(got, m.FromID+": "+m.Text)
	}
	want := []string{mallory.String() + ": squatted", alice.String() + ": the real one"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("history %q, want %q", got, want)
	}
	if a, m := net.sentTo(alice), net.sentTo(mallory); a != 2 || m != 1 {
		t.Fatalf("acknowledgements: %d to alice (want 2), %d to mallory (want 1)", a, m)
	}
}

// TestStrangersOpenFewDirectRooms plays strangers (fresh keys, sharing no
// room with us) who each open a direct room with us: we join the first
// MaxStrangerRooms and ignore the rest, while a peer who shares the lobby
// still opens one, and so does a verified one.
func TestStrangersOpenFewDirectRooms(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	direct := func() int {
		n := 0
		for _, r := range e.rooms {
			if r.direct {
				n++
			}
		}
		return n
	}
	for i := 0; i < 3*MaxStrangerRooms; i++ {
		e.onRooms(ID{0x5e, byte(i)}, &announcement{direct: true})
	}
	if n := direct(); n != MaxStrangerRooms {
		t.Fatalf("%d direct rooms opened by strangers, want %d", n, MaxStrangerRooms)
	}
	// A peer in the lobby with us: its announcement carries the lobby's tag.
	friend := ID{0xf1}
	lobby := e.rooms["lobby"]
	a := &announcement{direct: true, nonce: [16]byte{1}}
	a.tags = [][32]byte{dmls.RoomTag(lobby.tagKey(), a.nonce[:], friend, e.me)}
	e.onRooms(friend, a)
	verified := ID{0xe1}
	if err := e.st.SetVerified(verified.String(), time.Now()); err != nil {
		t.Fatal(err)
	}
	e.onRooms(verified, &announcement{direct: true})
	for _, p := range []ID{friend, verified} {
		if e.rooms[directRoom(e.me, p)] == nil {
			t.Errorf("no direct room with %s", p.Short())
		}
	}
}

// TestEquivocationEvidenceIsKept: an equivocation the protocol layer
// proved is kept with both commits, and /alerts lists it with their
// digests after a restart of the store.
func TestEquivocationEvidenceIsKept(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	owner := ID{0x0e}
	ev := &dmls.Equivocation{Group: []byte("g"), Epoch: 4, Commits: [2][]byte{[]byte("one"), []byte("two")},
		Hashes: [2][32]byte{{0xaa}, {0xbb}}, Reporter: ID{0x0f}}
	e.equivocation(e.rooms["lobby"], dmls.Event{Type: dmls.EventEquivocation, By: owner, Epoch: 4, Detail: "two commits", Evidence: ev})
	got, err := e.do(ListAlerts{})
	if err != nil {
		t.Fatal(err)
	}
	list := got.(*Alerts).Alerts
	if len(list) != 1 || list[0].Kind != Equivocation || list[0].By != owner || list[0].Epoch != 4 ||
		len(list[0].Digests) != 2 || list[0].Digests[0][:2] != "aa" || list[0].Digests[1][:2] != "bb" {
		t.Fatalf("alerts: %+v", list)
	}
	kept, err := e.st.Alerts()
	if err != nil || len(kept) != 1 || string(kept[0].Commits[1]) != "two" {
		t.Fatalf("kept: %+v %v", kept, err)
	}
}

// TestLookAlikeNicksAreToldApart plays peers who take nicks that look like
// a peer's (the same, another case, a Cyrillic "о", fullwidth letters):
// each is shown with its short id, the user is warned once per newcomer
// (not per pair: twenty sybils must not make 190 warnings), and the shown
// form names the right peer in a command.
func TestLookAlikeNicksAreToldApart(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	bob := ID{0xb0}
	up := func(id ID, nick string) {
		e.onNet(NetEvent{Kind: PeerUp, Peer: id, Nick: nick, Addr: "10.0.0.2:7420"})
	}
	up(bob, "bob")
	up(ID{0xc0}, "carol")
	if got := e.nickOf(bob, ""); got != "bob" {
		t.Fatalf("alone, bob is shown as %q", got)
	}
	for i, nick := range []string{"bob", "Bob", "bоb", "ｂｏｂ", "b0b"} {
		up(ID{0xe0, byte(i)}, nick)
	}
	alerts := 0
	for _, ev := range e.drainEvents() {
		if a, ok := ev.(*Alert); ok && a.Kind == LookAlike {
			alerts++
		}
	}
	// Six peers that all look alike: one warning for each of the five
	// that came after bob.
	if alerts != 5 {
		t.Fatalf("%d look-alike warnings, want 5", alerts)
	}
	// A peer whose nick looks like ours (the test engine is "fuzz").
	twin := ID{0xf2}
	up(twin, "FUZZ")
	if got, want := e.nickOf(twin, ""), "FUZZ ("+twin.Short()+")"; got != want {
		t.Fatalf("our look-alike is shown as %q, want %q", got, want)
	}
	warned := 0
	for _, ev := range e.drainEvents() {
		if a, ok := ev.(*Alert); ok && a.Kind == LookAlike && a.ID == twin && strings.Contains(a.Detail, "you, fuzz") {
			warned++
		}
	}
	if warned != 1 {
		t.Fatalf("%d warnings that FUZZ looks like us, want 1", warned)
	}
	e.drainEvents()
	up(ID{0xe0, 2}, "bоb") // again (a reconnect): no new warning
	for _, ev := range e.drainEvents() {
		if a, ok := ev.(*Alert); ok && a.Kind == LookAlike {
			t.Fatalf("warned again: %s", a.Detail)
		}
	}
	if got, want := e.nickOf(bob, ""), "bob ("+bob.Short()+")"; got != want {
		t.Fatalf("bob is shown as %q, want %q", got, want)
	}
	if got := e.nickOf(ID{0xc0}, ""); got != "carol" {
		t.Fatalf("carol is shown as %q", got)
	}
	if !e.lookAlike(bob) || e.lookAlike(ID{0xc0}) || e.lookAlike(e.me) {
		t.Fatal("the look-alike flag (MemberView.LookAlike) disagrees with the nick shown")
	}
	if id, err := e.byNick("bob (" + bob.Short() + ")"); err != nil || id != bob {
		t.Fatalf("the shown form resolves to %v, %v", id, err)
	}
	if _, err := e.byNick("bob"); err == nil {
		t.Fatal("two peers called bob, and the bare nick resolved")
	}
}

// TestStrangersAreNotRemembered plays a stranger who connects with fresh
// keys and shares no room with us: none of them becomes a known peer, so
// a flood of them cannot push our friends out of the peers a restart
// dials again (TestE2ERestartKeepsWhatTheUserSet shows members are kept).
func TestStrangersAreNotRemembered(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	for i := range 40 {
		var id ID
		id[0], id[1] = 0xee, byte(i)
		e.onNet(NetEvent{Kind: PeerUp, Peer: id, Nick: fmt.Sprint("stranger", i), Addr: fmt.Sprintf("10.0.0.%d:7420", i)})
	}
	e.flushKept()
	known, err := e.st.KnownPeers()
	if err != nil || len(known) != 0 {
		t.Fatalf("%d strangers remembered (%v)", len(known), err)
	}
}

// TestFileIDSquat: a member who copies another's file id into an offer
// of its own names another file: both offers are kept and shown, and the
// first is not suppressed.
func TestFileIDSquat(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	r := e.rooms["lobby"]
	alice, mallory := ID{0xa1}, ID{0x66}
	o := &files.Offer{Size: 10, Chunk: files.DefaultChunk, Name: "minutes.txt"}
	o.ID[0], o.Key[0] = 7, 1
	honest, _ := o.Marshal()
	o.Name, o.Key[0] = "minutes-final.txt", 2
	squat, _ := o.Marshal()
	// mallory's copy arrives first (the victim was offline when alice's
	// came), then alice's.
	for i, x := range []struct {
		from ID
		body []byte
	}{{mallory, squat}, {alice, honest}} {
		env := &dmls.Envelope{ID: dmls.MessageID{byte(i + 1)}, SentAt: time.Now(), Kind: dmls.EnvelopeFile, Body: x.body, To: []ID{e.me}}
		e.received(r, dmls.Event{Type: dmls.EventMessage, Peer: x.from, Nick: "n", Envelope: env}, ID{})
	}
	seen := map[string]ID{}
	for _, ev := range e.drainEvents() {
		if f, ok := ev.(*FileOffered); ok {
			seen[f.File.Name] = f.FromID
		}
	}
	if seen["minutes.txt"] != alice || seen["minutes-final.txt"] != mallory {
		t.Fatalf("offers shown: %v", seen)
	}
	for _, who := range []ID{alice, mallory} {
		if _, err := e.st.GetFile(files.Key(who, o.ID).String()); err != nil {
			t.Fatalf("%s's offer not kept: %v", who.Short(), err)
		}
	}
}

// TestAwayFrameIsValidated: an away frame that is not text changes
// nothing; a good one is taken.
func TestAwayFrameIsValidated(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	friend := ID{11}
	e.onNet(NetEvent{Kind: PeerUp, Peer: friend, Nick: "frank", Addr: "10.0.0.11:7420"})
	for _, bad := range []string{"a\x1b]0;pwned\x07", strings.Repeat("x", MaxAway+1), "\xff", "tab\there"} {
		e.onFrame(friend, frame.New(frame.Away, []byte(bad)))
		if got := e.peers[friend].away; got != "" {
			t.Fatalf("after an away frame of %q: %q", bad, got)
		}
	}
	e.onFrame(friend, frame.New(frame.Away, []byte("gone fishing")))
	if got := awayOf(e.peers[friend]); got != "gone fishing" {
		t.Fatalf("after a good away frame: %q", got)
	}
	e.onNet(NetEvent{Kind: PeerDown, Peer: friend})
	if got := awayOf(e.peers[friend]); got != "" {
		t.Fatalf("offline and still away: %q", got)
	}
}
