package mmls

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// handOnFixture is us (a real engine, its store and rooms) in the lobby
// with alice, the author of what others hand on, and two members who
// hold: carol (honest) and mallory (hostile). alice is a member as we
// see her (our send group had her before our restart); nobody is linked.
type handOnFixture struct {
	e                     *Engine
	net                   *recordingNet
	lobby                 *room
	alice, carol, mallory *dmls.Identity
	stranger              *dmls.Identity
	aliceID, carol_, mal  ID
}

func newHandOnFixture(t *testing.T) *handOnFixture {
	t.Helper()
	e := newTestEngine(t)
	env := dmls.Env{Rand: rand.Reader, Now: time.Now}
	f := &handOnFixture{e: e, net: e.cfg.Net.(*recordingNet), lobby: e.rooms["lobby"]}
	for _, x := range []struct {
		id   **dmls.Identity
		nick string
	}{{&f.alice, "alice"}, {&f.carol, "carol"}, {&f.mallory, "mallory"}, {&f.stranger, "stranger"}} {
		id, err := dmls.NewIdentity(env, x.nick)
		if err != nil {
			t.Fatal(err)
		}
		*x.id = id
	}
	f.aliceID, f.carol_, f.mal = f.alice.Fingerprint(), f.carol.Fingerprint(), f.mallory.Fingerprint()
	if err := e.st.AddMember("lobby", f.aliceID.String()); err != nil {
		t.Fatal(err)
	}
	for _, holder := range []ID{f.carol_, f.mal} {
		p := e.peer(holder)
		p.online, p.rooms[f.lobby.id] = true, true
	}
	return f
}

// line is alice's message number seq to us in room (addressed to us and
// to carol), signed by alice.
func (f *handOnFixture) line(t *testing.T, room dmls.RoomID, seq uint64, text string) *dmls.Envelope {
	t.Helper()
	to := []ID{f.e.me, f.carol_}
	env := &dmls.Envelope{ID: msgID(text), SentAt: time.Unix(1800000000+int64(seq), 0).UTC(), Kind: dmls.EnvelopeText,
		To: to, Seq: []uint64{seq, seq}, Body: []byte(text)}
	if err := env.Sign(f.alice, room); err != nil {
		t.Fatal(err)
	}
	return env
}

func msgID(text string) dmls.MessageID {
	var id dmls.MessageID
	copy(id[:], text)
	return id
}

func heldFrame(t *testing.T, room dmls.RoomID, env *dmls.Envelope) []byte {
	t.Helper()
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return heldFrameRaw(t, room, raw)
}

func heldFrameRaw(t *testing.T, room dmls.RoomID, raw []byte) []byte {
	t.Helper()
	b, err := (&dmls.Held{Room: room, Envelope: raw}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return frame.New(frame.Held, b)
}

// shown returns the texts we showed from alice, with who handed each on.
func (f *handOnFixture) shown() map[string][]ID {
	out := map[string][]ID{}
	for _, ev := range f.e.drainEvents() {
		if m, ok := ev.(*Message); ok && m.FromID == f.aliceID {
			out[m.Text] = append(out[m.Text], m.Via)
		}
	}
	return out
}

func (f *handOnFixture) entry() dmls.AckEntry {
	if a := f.lobby.acks.mine[f.aliceID]; a != nil {
		return *a
	}
	return dmls.AckEntry{}
}

// TestAttackHostileHolder plays a member that hands on alice's lines: it
// can withhold, but what it alters, forges, moves to another room or
// replays is never taken, and a message is shown once, as alice's.
func TestAttackHostileHolder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		play  func(t *testing.T, f *handOnFixture)
		shown []string // alice's lines we show, each once
	}{
		{"an honest holder", func(t *testing.T, f *handOnFixture) {
			f.e.onFrame(f.carol_, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 1, "one")))
		}, []string{"one"}},
		{"a byte of the text changed", func(t *testing.T, f *handOnFixture) {
			raw, _ := f.line(t, f.lobby.id, 1, "pay alice 10").Marshal()
			i := bytes.Index(raw, []byte("10"))
			raw[i] = '9'
			f.e.onFrame(f.mal, heldFrameRaw(t, f.lobby.id, raw))
		}, nil},
		{"its recipients changed", func(t *testing.T, f *handOnFixture) {
			env := f.line(t, f.lobby.id, 1, "one")
			env.Seq[0] = 7 // claims another place in alice's order to us
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, env))
		}, nil},
		{"signed by the holder, with alice's key in it", func(t *testing.T, f *handOnFixture) {
			env := f.line(t, f.lobby.id, 1, "forged")
			if err := env.Sign(f.mallory, f.lobby.id); err != nil {
				t.Fatal(err)
			}
			env.From = f.alice.PublicKey()
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, env))
		}, nil},
		{"a line of another room", func(t *testing.T, f *handOnFixture) {
			// alice wrote it in dev; mallory passes it off as the lobby's.
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, f.line(t, dmls.RoomIDOf("dev"), 1, "said in dev")))
		}, nil},
		{"replayed", func(t *testing.T, f *handOnFixture) {
			frame := heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 1, "once"))
			for range 5 {
				f.e.onFrame(f.mal, frame)
			}
			f.e.onFrame(f.carol_, frame)
		}, []string{"once"}},
		{"out of order", func(t *testing.T, f *handOnFixture) {
			for _, seq := range []uint64{3, 1, 2} {
				f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, seq, fmt.Sprint("line ", seq))))
			}
		}, []string{"line 1", "line 2", "line 3"}},
		{"a strangers' holder", func(t *testing.T, f *handOnFixture) {
			// The stranger shares no room with us: nothing it offers is
			// looked at, genuine or not.
			f.e.onFrame(f.stranger.Fingerprint(), heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 1, "via a stranger")))
		}, nil},
		{"not addressed to us", func(t *testing.T, f *handOnFixture) {
			env := &dmls.Envelope{ID: msgID("for carol"), SentAt: time.Now().UTC(), Kind: dmls.EnvelopeText,
				To: []ID{f.carol_}, Seq: []uint64{1}, Body: []byte("for carol")}
			if err := env.Sign(f.alice, f.lobby.id); err != nil {
				t.Fatal(err)
			}
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, env))
		}, nil},
		{"by someone who is not a member", func(t *testing.T, f *handOnFixture) {
			env := &dmls.Envelope{ID: msgID("hi from nowhere"), SentAt: time.Now().UTC(), Kind: dmls.EnvelopeText,
				To: []ID{f.e.me}, Seq: []uint64{1}, Body: []byte("hi from nowhere")}
			if err := env.Sign(f.stranger, f.lobby.id); err != nil {
				t.Fatal(err)
			}
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, env))
		}, nil},
		{"by a member we removed", func(t *testing.T, f *handOnFixture) {
			f.lobby.s.MarkKicked(f.aliceID, f.e.me)
			f.e.onFrame(f.carol_, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 1, "after her removal")))
		}, nil},
		{"a control message", func(t *testing.T, f *handOnFixture) {
			env := &dmls.Envelope{ID: msgID("ctl"), SentAt: time.Now().UTC(), Kind: dmls.EnvelopeControl,
				To: []ID{f.e.me}, Seq: []uint64{1}, Body: []byte{1, 1, 'x'}}
			if err := env.Sign(f.alice, f.lobby.id); err != nil {
				t.Fatal(err)
			}
			f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, env))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newHandOnFixture(t)
			tt.play(t, f)
			got := f.shown()
			if len(got) != len(tt.shown) {
				t.Fatalf("shown %v, want %v", got, tt.shown)
			}
			for _, text := range tt.shown {
				if via := got[text]; len(via) != 1 {
					t.Fatalf("%q shown %d times", text, len(via))
				}
			}
			h, err := f.e.st.History("lobby", 0)
			if err != nil || len(h) != len(tt.shown) {
				t.Fatalf("history of %d messages (%v), want %d", len(h), err, len(tt.shown))
			}
			// What we say we hold is exactly what we took.
			entry := f.entry()
			for seq := uint64(1); seq <= 8; seq++ {
				if entry.Has(seq) != (seq <= uint64(len(tt.shown))) {
					t.Fatalf("our record of alice: %+v, after taking %v", entry, tt.shown)
				}
			}
		})
	}
}

// TestAttackHolderWithholds: a holder that hands on lines 1 and 3 and
// keeps 2 leaves a gap our record says, which an honest holder fills.
func TestAttackHolderWithholds(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	for _, seq := range []uint64{1, 3} {
		f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, seq, fmt.Sprint("line ", seq))))
	}
	if e := f.entry(); e.Upto != 3 || len(e.Gaps) != 1 || e.Gaps[0] != (dmls.SeqRange{Lo: 2, Hi: 2}) {
		t.Fatalf("our record after a withheld line: %+v", e)
	}
	// Meeting carol: our record tells her what we miss...
	f.e.meet(f.lobby, f.carol_)
	recs := f.net.framesTo(f.carol_, frame.Acks)
	if len(recs) == 0 {
		t.Fatal("no record to carol")
	}
	rec, err := dmls.UnmarshalAcks(recs[len(recs)-1])
	if err != nil || rec.Verify() != nil {
		t.Fatalf("our record: %v", err)
	}
	if e := rec.Entry(f.aliceID); e.Has(2) || !e.Has(3) {
		t.Fatalf("we tell carol %+v", e)
	}
	// ...and she hands it on.
	f.e.onFrame(f.carol_, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 2, "line 2")))
	if e := f.entry(); e.Upto != 3 || len(e.Gaps) != 0 {
		t.Fatalf("the gap is not filled: %+v", e)
	}
	if got := f.shown(); len(got) != 3 {
		t.Fatalf("shown %v", got)
	}
}

// TestAttackHolderFloods: a holder whose messages do not check is not
// listened to after a few; what it costs us is bounded.
func TestAttackHolderFloods(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	garbage := f.line(t, f.lobby.id, 1, "garbage")
	garbage.Sig = bytes.Repeat([]byte{0x55}, 64)
	frame := heldFrame(t, f.lobby.id, garbage)
	for range 1000 {
		f.e.onFrame(f.mal, frame)
	}
	if n := f.e.peers[f.mal].badHeld; n != maxBadHeld {
		t.Fatalf("%d bad messages looked at, want %d", n, maxBadHeld)
	}
	// Distrusted: even a genuine line from it is not looked at now...
	f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 2, "genuine, from mallory")))
	if got := f.shown(); len(got) != 0 {
		t.Fatalf("shown %v", got)
	}
	// ...until it reconnects.
	f.e.onNet(NetEvent{Kind: PeerDown, Peer: f.mal})
	f.e.peers[f.mal].online = true
	f.e.onFrame(f.mal, heldFrame(t, f.lobby.id, f.line(t, f.lobby.id, 2, "genuine, from mallory")))
	if got := f.shown(); len(got["genuine, from mallory"]) != 1 {
		t.Fatalf("shown %v", got)
	}
}

// TestAttackForgedAcknowledgement: mallory hands us (alice's side: we
// are the author) a record that says bob holds our message. Only bob's
// own signature makes it so; a stale record of his changes nothing.
func TestAttackForgedAcknowledgement(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	bob := f.carol // bob, for this test: a member we sent to
	bobID := bob.Fingerprint()
	if err := e.st.AddMember("lobby", bobID.String()); err != nil {
		t.Fatal(err)
	}
	if err := e.say(f.lobby, "did you get this, bob?"); err != nil {
		t.Fatal(err)
	}
	out, err := e.st.Outbox()
	if err != nil || len(out) != 1 || out[0].Acked[bobID.String()] {
		t.Fatalf("outbox %+v %v", out, err)
	}
	if env, err := dmls.UnmarshalEnvelope(out[0].Sealed); err != nil || !seqIs(env, bobID, 1) {
		t.Fatalf("sealed for bob: %v", err)
	}
	id := out[0].ID
	record := func(signer *dmls.Identity, version uint64, upto uint64) []byte {
		rec := &dmls.Acks{Room: f.lobby.id, Version: version, Entries: []dmls.AckEntry{{Author: e.me, Upto: upto}}}
		if err := rec.Sign(signer); err != nil {
			t.Fatal(err)
		}
		rec.From = bob.PublicKey() // claimed: bob's
		raw, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return frame.New(frame.Acks, raw)
	}
	delivered := func() bool {
		for _, ev := range e.drainEvents() {
			if d, ok := ev.(*Delivered); ok && d.MsgID == id && d.To == bobID {
				return true
			}
		}
		return false
	}
	e.onFrame(f.mal, record(f.mallory, 9, 1)) // forged: mallory signed it
	if delivered() {
		t.Fatal("a forged record marked our message stored")
	}
	e.onFrame(f.mal, record(bob, 5, 0)) // bob's, genuine, holding nothing
	e.onFrame(f.mal, record(bob, 4, 1)) // bob's too, but older: stale
	if delivered() {
		t.Fatal("a stale record marked our message stored")
	}
	e.onFrame(f.mal, record(bob, 6, 1)) // bob's, newer, handed on
	if !delivered() {
		t.Fatal("bob's own record, handed on, did not mark it stored")
	}
	if o, err := e.st.Outbox(); err != nil || len(o) != 1 || !o[0].Acked[bobID.String()] {
		t.Fatalf("outbox after bob's record: %+v %v", o, err)
	}
}

// TestHoldIsBounded: an author that writes more than a member holds for
// others cannot make it hold more: the oldest go first, per author.
func TestHoldIsBounded(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	f.e.cfg.HoldLimits = store.HoldLimits{PerAuthor: 10, PerAuthorBytes: 1 << 20, PerRoom: 15, PerRoomBytes: 1 << 20}
	p := f.e.peer(f.aliceID)
	p.online = false
	for seq := uint64(1); seq <= 30; seq++ {
		env := f.line(t, f.lobby.id, seq, fmt.Sprint("flood ", seq))
		f.e.received(f.lobby, dmls.Event{Type: dmls.EventMessage, Peer: f.aliceID, Envelope: env}, ID{})
	}
	f.e.pruneHeld()
	f.e.pruneHeld() // written behind: at the second
	held, err := f.e.st.HeldIn("lobby")
	if err != nil || len(held) != 10 {
		t.Fatalf("holding %d of alice's messages (%v), want 10", len(held), err)
	}
	if want := msgID("flood 21"); held[0].ID != hex.EncodeToString(want[:]) {
		t.Fatalf("kept from %q, want the newest ten", held[0].ID)
	}
}

// TestHeldBufferIsBounded: an author that writes faster than prunings
// come cannot make a member keep more than heldBufferMessages in memory:
// past them the buffer is written (within the store's bounds) at once.
// Buffered messages count for hand-on like written ones, and a room left
// takes its buffer with it.
func TestHeldBufferIsBounded(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	e.cfg.HoldLimits = store.HoldLimits{PerAuthor: 10, PerAuthorBytes: 1 << 20, PerRoom: 15, PerRoomBytes: 1 << 20}
	e.peer(f.aliceID).online = false
	send := func(from, to uint64) {
		for seq := from; seq <= to; seq++ {
			env := f.line(t, f.lobby.id, seq, fmt.Sprint("flood ", seq))
			e.received(f.lobby, dmls.Event{Type: dmls.EventMessage, Peer: f.aliceID, Envelope: env}, ID{})
		}
	}
	send(1, heldBufferMessages)
	if n, _, _ := e.st.HeldTotals("lobby"); n != 0 || e.holds.buffered.n != heldBufferMessages || len(f.lobby.buffered) != heldBufferMessages {
		t.Fatalf("at the bound: %d written, %d (%d) in memory", n, e.holds.buffered.n, len(f.lobby.buffered))
	}
	if held, err := e.heldFor(f.lobby); err != nil || len(held) != heldBufferMessages {
		t.Fatalf("%d to hand on (%v)", len(held), err)
	}
	// Past the bound with a disk that refuses: said once, and the oldest
	// goes, so memory stays within the bound.
	e.drainEvents()
	second := msgID("flood 2")
	oldest := hex.EncodeToString(second[:])
	// (The message itself stored, its held copy refused: bufferHold is
	// what a stored message's batch calls once it committed.)
	env := f.line(t, f.lobby.id, heldBufferMessages+1, fmt.Sprint("flood ", heldBufferMessages+1))
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e.st.FailWrites(errors.New("disk full"))
	e.bufferHold(f.lobby, store.HeldMessage{Room: "lobby", Author: f.aliceID.String(), ID: hex.EncodeToString(env.ID[:]),
		SentAt: env.SentAt, HeldAt: time.Now(), Envelope: raw}, env)
	e.st.FailWrites(nil)
	failures := 0
	for _, ev := range e.drainEvents() {
		if _, ok := ev.(*Failure); ok {
			failures++
		}
	}
	if n, _, _ := e.st.HeldTotals("lobby"); n != 0 || failures != 1 || e.holds.buffered.n != heldBufferMessages || f.lobby.buffered[0].m.ID != oldest {
		t.Fatalf("past the bound, refused: %d written, %d failures said, %d in memory, oldest %s (want %s)", n, failures, e.holds.buffered.n, f.lobby.buffered[0].m.ID, oldest)
	}
	send(heldBufferMessages+2, heldBufferMessages+2)
	if n, _, _ := e.st.HeldTotals("lobby"); n != 10 || e.holds.buffered != (heldInMemory{}) || len(f.lobby.buffered) != 0 {
		t.Fatalf("past the bound: %d written (want the store's 10), %+v in memory", n, e.holds.buffered)
	}
	send(heldBufferMessages+3, heldBufferMessages+4)
	if err := e.leave("lobby"); err != nil {
		t.Fatal(err)
	}
	if e.holds.buffered != (heldInMemory{}) {
		t.Fatalf("after leaving: %+v in memory", e.holds.buffered)
	}
}

// TestHeldWriteRefused: a held message the disk refuses to take is said
// (a storage failure) and kept in memory, and written at the next pruning
// once the disk takes it again.
func TestHeldWriteRefused(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	env := f.line(t, f.lobby.id, 1, "for carol too")
	e.received(f.lobby, dmls.Event{Type: dmls.EventMessage, Peer: f.aliceID, Envelope: env}, ID{})
	e.pruneHeld()
	e.drainEvents()
	e.st.FailWrites(errors.New("disk full"))
	e.pruneHeld()
	e.st.FailWrites(nil)
	failed := false
	for _, ev := range e.drainEvents() {
		if fe, ok := ev.(*Failure); ok && errors.Is(fe.Err, ErrStorage) {
			failed = true
		}
	}
	if n, _, _ := e.st.HeldTotals("lobby"); !failed || n != 0 || e.holds.buffered.n != 1 {
		t.Fatalf("a refused write: said %v, %d written, %d in memory", failed, n, e.holds.buffered.n)
	}
	e.pruneHeld()
	if n, _, _ := e.st.HeldTotals("lobby"); n != 1 || e.holds.buffered.n != 0 {
		t.Fatalf("after the disk came back: %d written, %d in memory", n, e.holds.buffered.n)
	}
}

// TestPruneHeld: a held message is forgotten once every other recipient
// said (in a record signed by it) that it holds it, or once it is older
// than HoldFor; not before.
func TestPruneHeld(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	held := func() int {
		n, _, err := e.st.HeldTotals("lobby")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for seq := uint64(1); seq <= 2; seq++ {
		env := f.line(t, f.lobby.id, seq, fmt.Sprint("for carol too ", seq))
		e.received(f.lobby, dmls.Event{Type: dmls.EventMessage, Peer: f.aliceID, Envelope: env}, ID{})
	}
	e.pruneHeld()
	if n := held(); n != 0 {
		t.Fatalf("%d written at the first pruning, want none (written behind)", n)
	}
	e.pruneHeld()
	if n := held(); n != 2 {
		t.Fatalf("holding %d before carol said anything, want 2", n)
	}
	carolHolds := func(version, upto uint64) {
		rec := &dmls.Acks{Room: f.lobby.id, Version: version, Entries: []dmls.AckEntry{{Author: f.aliceID, Upto: upto}}}
		if err := rec.Sign(f.carol); err != nil {
			t.Fatal(err)
		}
		raw, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		e.onFrame(f.carol_, frame.New(frame.Acks, raw))
		e.pruneHeld()
	}
	carolHolds(1, 1)
	if n := held(); n != 1 {
		t.Fatalf("holding %d once carol holds the first, want 1", n)
	}
	carolHolds(2, 2)
	if n := held(); n != 0 {
		t.Fatalf("holding %d once carol holds both, want 0", n)
	}
	// Nobody says anything of this one: it goes when it is too old.
	env := f.line(t, f.lobby.id, 3, "nobody answers")
	e.received(f.lobby, dmls.Event{Type: dmls.EventMessage, Peer: f.aliceID, Envelope: env}, ID{})
	e.pruneHeld()
	e.pruneHeld()
	if n := held(); n != 1 {
		t.Fatalf("holding %d, want 1", n)
	}
	e.cfg.Env.Now = func() time.Time { return time.Now().Add(HoldFor + time.Hour) }
	e.pruneHeld()
	if n := held(); n != 0 {
		t.Fatalf("holding %d after %v, want 0", n, HoldFor)
	}
}

// TestAttackNickTakenFirst: a stranger who connects first under the nick
// "alice" makes nobody raise a "different key" alert when the real alice
// (a member of our room) comes; a third key under her nick then does,
// since she is someone we share a room with.
func TestAttackNickTakenFirst(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	alerts := func() int {
		n := 0
		for _, ev := range e.drainEvents() {
			if a, ok := ev.(*Alert); ok && a.Kind == KeyChanged {
				n++
			}
		}
		return n
	}
	e.onNet(NetEvent{Kind: PeerUp, Peer: f.stranger.Fingerprint(), Nick: "alice", Addr: "10.0.0.66:7420"})
	e.onNet(NetEvent{Kind: PeerUp, Peer: f.aliceID, Nick: "alice", Addr: "10.0.0.1:7420"})
	if n := alerts(); n != 0 {
		t.Fatalf("%d key-changed alerts for a nick a stranger took first", n)
	}
	if pinned, err := e.st.PinnedTo("alice"); err != nil || pinned != f.aliceID.String() {
		t.Fatalf("alice's nick is pinned to %.8s (%v), want the member's key", pinned, err)
	}
	e.onNet(NetEvent{Kind: PeerUp, Peer: f.mal, Nick: "alice", Addr: "10.0.0.67:7420"})
	if n := alerts(); n != 1 {
		t.Fatalf("%d key-changed alerts when another key takes a member's nick, want 1", n)
	}
}

// TestAttackBadRecordNotHandedOn: a member sends us its own record with a
// signature that does not verify (taken on the channel's word); we do not
// hand it on to the next member we meet, who would count it against us.
func TestAttackBadRecordNotHandedOn(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	rec := &dmls.Acks{Room: f.lobby.id, Version: 3, Entries: []dmls.AckEntry{{Author: f.aliceID, Upto: 1}}}
	if err := rec.Sign(f.mallory); err != nil {
		t.Fatal(err)
	}
	rec.Sig[0] ^= 1
	raw, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e.onFrame(f.mal, frame.New(frame.Acks, raw))
	// carol, met now, gets our records of others: not mallory's.
	carolRec := &dmls.Acks{Room: f.lobby.id, Version: 1}
	if err := carolRec.Sign(f.carol); err != nil {
		t.Fatal(err)
	}
	craw, err := carolRec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	e.onFrame(f.carol_, frame.New(frame.Acks, craw))
	for _, b := range f.net.framesTo(f.carol_, frame.Acks) {
		got, err := dmls.UnmarshalAcks(b)
		if err == nil && got.Member() == f.mal {
			t.Fatal("mallory's badly signed record was handed on")
		}
	}
}

// seqIs reports whether env gives fp sequence number want.
func seqIs(env *dmls.Envelope, fp ID, want uint64) bool {
	seq, ok := env.SeqFor(fp)
	return ok && seq == want
}

// TestAttackChannelAcknowledgement: the short acknowledgement a member
// sends the author on the channel speaks only for the member that sends
// it, and only of our own messages in a room it shares with us.
func TestAttackChannelAcknowledgement(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	if err := e.st.AddMember("lobby", f.carol_.String()); err != nil {
		t.Fatal(err)
	}
	if err := e.say(f.lobby, "carol, did this reach you?"); err != nil {
		t.Fatal(err)
	}
	out, err := e.st.Outbox()
	if err != nil || len(out) != 1 {
		t.Fatalf("outbox %+v %v", out, err)
	}
	id := out[0].ID
	frame := func(room dmls.RoomID, author ID, upto uint64) []byte {
		entry, err := dmls.MarshalEntry(dmls.AckEntry{Author: author, Upto: upto})
		if err != nil {
			t.Fatal(err)
		}
		return frame.New(frame.Ack, room[:], entry)
	}
	delivered := func() []ID {
		var to []ID
		for _, ev := range e.drainEvents() {
			if d, ok := ev.(*Delivered); ok && d.MsgID == id {
				to = append(to, d.To)
			}
		}
		return to
	}
	e.drainEvents()
	for _, c := range []struct {
		name  string
		from  ID
		frame []byte
		want  []ID // whose storing it marks
	}{
		{"a stranger", f.stranger.Fingerprint(), frame(f.lobby.id, e.me, 1), nil},
		{"someone else's messages", f.carol_, frame(f.lobby.id, f.aliceID, 1), nil},
		{"a room we are not in", f.carol_, frame(dmls.RoomID{1}, e.me, 1), nil},
		{"cut short", f.carol_, frame(f.lobby.id, e.me, 1)[:20], nil},
		{"a bad entry", f.carol_, append(frame(f.lobby.id, e.me, 1), 0xff), nil},
		{"holding nothing", f.carol_, frame(f.lobby.id, e.me, 0), nil},
		{"mallory, for herself only", f.mal, frame(f.lobby.id, e.me, 1), []ID{f.mal}},
		{"carol's own", f.carol_, frame(f.lobby.id, e.me, 1), []ID{f.carol_}},
	} {
		e.onFrame(c.from, c.frame)
		if to := delivered(); !slices.Equal(to, c.want) {
			t.Fatalf("%s: marked stored for %v, want %v", c.name, to, c.want)
		}
	}
}

// TestMeetingHandsOnOnlyRecordsThatSpeakOfTheMember: when alice comes
// back, she is handed the records that hold some of her messages
// (carol's), not the ones that hold none of them (mallory's): with many
// members meeting at once, each would otherwise check every other's
// signature for nothing.
func TestMeetingHandsOnOnlyRecordsThatSpeakOfTheMember(t *testing.T) {
	t.Parallel()
	f := newHandOnFixture(t)
	e := f.e
	p := e.peer(f.aliceID)
	p.online, p.rooms[f.lobby.id] = true, true
	record := func(signer *dmls.Identity, entries ...dmls.AckEntry) []byte {
		rec := &dmls.Acks{Room: f.lobby.id, Version: 1, Entries: entries}
		if err := rec.Sign(signer); err != nil {
			t.Fatal(err)
		}
		raw, err := rec.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return frame.New(frame.Acks, raw)
	}
	e.onFrame(f.carol_, record(f.carol, dmls.AckEntry{Author: f.aliceID, Upto: 1}))
	e.onFrame(f.mal, record(f.mallory, dmls.AckEntry{Author: e.me, Upto: 3}))
	e.onFrame(f.aliceID, record(f.alice))
	var from []ID
	for _, raw := range f.net.framesTo(f.aliceID, frame.Acks) {
		rec, err := dmls.UnmarshalAcks(raw)
		if err != nil {
			t.Fatal(err)
		}
		from = append(from, rec.Member())
	}
	if !slices.Equal(from, []ID{f.carol_}) {
		t.Fatalf("handed alice the records of %v, want carol's alone", from)
	}
}
