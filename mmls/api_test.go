package mmls_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

func TestAction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text, action string
		ok           bool
	}{
		{"/me waves", "waves", true},
		{"/me  waves twice", " waves twice", true},
		{"/me ", "", false},
		{"/me", "", false},
		{"/mention", "", false},
		{"me waves", "", false},
		{"hello /me waves", "", false},
	} {
		if action, ok := mmls.Action(tc.text); ok != tc.ok || ok && action != tc.action {
			t.Errorf("%q: %q %v, want %q %v", tc.text, action, ok, tc.action, tc.ok)
		}
	}
}

func TestTopic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text, topic string
		ok          bool
	}{
		{"/topic release on Friday", "release on Friday", true},
		{"/topic   spaced  ", "spaced", true},
		{"/topic ", "", false},
		{"/topics are fun", "", false},
		{"the /topic is", "", false},
	} {
		if topic, ok := mmls.Topic(tc.text); ok != tc.ok || ok && topic != tc.topic {
			t.Errorf("%q: %q %v, want %q %v", tc.text, topic, ok, tc.topic, tc.ok)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, current string
		want          mmls.Command
		err           error
	}{
		{"hello", "lobby", mmls.Say{Room: "lobby", Text: "hello"}, nil},
		{"//not a command", "lobby", mmls.Say{Room: "lobby", Text: "/not a command"}, nil},
		{"hello", "", nil, mmls.ErrUsage},
		{"   ", "lobby", nil, nil},
		{"/me waves", "lobby", mmls.Say{Room: "lobby", Text: "/me waves"}, nil},
		{"/me", "lobby", nil, mmls.ErrUsage},
		{"/topic release on Friday", "dev", mmls.Say{Room: "dev", Text: "/topic release on Friday"}, nil},
		{"/topic", "dev", nil, mmls.ErrUsage},
		{"/away lunch", "dev", mmls.SetAway{Text: "lunch"}, nil},
		{"/away", "dev", mmls.SetAway{}, nil},
		{"/me waves", "", nil, mmls.ErrUsage},
		{"/join dev", "lobby", mmls.Join{Room: "dev"}, nil},
		{"/join", "lobby", nil, mmls.ErrUsage},
		{"/join #general", "lobby", mmls.Join{Room: "general"}, nil},
		{"/join Dev", "lobby", mmls.Join{Room: "dev"}, nil},
		{"/join ◆plans", "lobby", mmls.Accept{Room: "plans"}, nil},
		{"/accept plans", "lobby", mmls.Accept{Room: "plans"}, nil},
		{"/accept ops alice", "lobby", mmls.Accept{Room: "ops", From: "alice"}, nil},
		{"/accept", "lobby", nil, mmls.ErrUsage},
		{"/ignore mallory", "lobby", mmls.Ignore{Who: "mallory"}, nil},
		{"/admin bob", "plans", mmls.SetAdmin{Room: "plans", Who: "bob"}, nil},
		{"/hold off", "lobby", mmls.SetHold{On: false}, nil},
		{"/hold maybe", "lobby", nil, mmls.ErrUsage},
		{"/join #", "lobby", nil, mmls.ErrUsage},
		{"/switch ◆plans", "lobby", mmls.Switch{Room: "plans"}, nil},
		{"/leave #dev", "lobby", mmls.Leave{Room: "dev"}, nil},
		{"/leave", "dev", mmls.Leave{Room: "dev"}, nil},
		{"/part lobby", "dev", mmls.Leave{Room: "lobby"}, nil},
		{"/switch dev", "lobby", mmls.Switch{Room: "dev"}, nil},
		{"/who", "dev", mmls.Who{Room: "dev"}, nil},
		{"/who lobby", "dev", mmls.Who{Room: "lobby"}, nil},
		{"/msg bob hi there", "lobby", mmls.Direct{To: "bob", Text: "hi there"}, nil},
		{"/msg bob", "lobby", nil, mmls.ErrUsage},
		{"/invite carol", "secret", mmls.Invite{Room: "secret", Who: "carol"}, nil},
		{"/invite carol", "", nil, mmls.ErrUsage},
		{"/kick carol", "lobby", mmls.Kick{Room: "lobby", Who: "carol"}, nil},
		{"/verify bob yes", "lobby", mmls.Verify{Who: "bob", Confirm: true}, nil},
		{"/verify bob", "lobby", mmls.Verify{Who: "bob"}, nil},
		{"/update", "dev", mmls.Update{Room: "dev"}, nil},
		{"/nick", "lobby", nil, mmls.ErrUsage},
		{"/nick robert", "lobby", mmls.SetNick{Nick: "robert"}, nil},
		{"/connect 10.0.0.2:7420", "", mmls.Connect{Addr: "10.0.0.2:7420"}, nil},
		{"/peers", "", mmls.ListPeers{}, nil},
		{"/rooms", "", mmls.ListRooms{}, nil},
		{"/info", "", mmls.ShowInfo{}, nil},
		{"/HELP", "", mmls.Help{}, nil},
		{"/exit", "", mmls.Quit{}, nil},
		{"/frobnicate", "lobby", nil, mmls.ErrUnknownCommand},
	}
	for _, tc := range tests {
		got, err := mmls.Parse(tc.line, tc.current)
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("Parse(%q, %q): error %v, want %v", tc.line, tc.current, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("Parse(%q, %q) = %#v, want %#v", tc.line, tc.current, got, tc.want)
		}
	}
}

// TestHelpAndCompletionShareTheTable: every command in the table parses,
// and /help lists every one of them (with /switch).
func TestHelpAndCompletionShareTheTable(t *testing.T) {
	t.Parallel()
	help := strings.Join(mmls.HelpLines(), "\n")
	for _, s := range mmls.Specs() {
		if !strings.Contains(help, "/"+s.Name) {
			t.Errorf("/help lacks /%s", s.Name)
		}
		if _, err := mmls.Parse("/"+s.Name, "lobby"); errors.Is(err, mmls.ErrUnknownCommand) {
			t.Errorf("/%s does not parse", s.Name)
		}
	}
	if !strings.Contains(help, "/switch ROOM") {
		t.Error("/help lacks /switch")
	}
}

// TestErrorsArePlainWords: a failed command is an error errors.Is can
// match, shown to people without package prefixes or chains.
func TestErrorsArePlainWords(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	alice := l.Start("alice")
	tests := []struct {
		cmd  mmls.Command
		kind error
		says string
	}{
		{mmls.Say{Room: "nowhere", Text: "hi"}, mmls.ErrNotInRoom, "you are not in #nowhere"},
		{mmls.Join{Room: "two words"}, mmls.ErrBadName, "a room name is 1 to 64 characters without spaces"},
		{mmls.Join{Room: "dm:x:y"}, mmls.ErrBadName, "direct conversations"},
		{mmls.Direct{To: "nobody", Text: "hi"}, mmls.ErrNoSuchPeer, `nobody called "nobody"`},
		{mmls.SetNick{Nick: "bad\x07nick"}, mmls.ErrBadName, "a nick is 1 to 32 printable characters"},
		{mmls.Say{Room: "lobby", Text: strings.Repeat("x", dmls.MaxTextSize+1)}, mmls.ErrNotSent, "too long"},
		{mmls.Connect{Addr: "mem:nobody"}, mmls.ErrConnect, "cannot connect"},
	}
	for _, tc := range tests {
		_, err := alice.Try(tc.cmd)
		if !errors.Is(err, tc.kind) {
			t.Errorf("%#v: error %v, want %v", tc.cmd, err, tc.kind)
			continue
		}
		says := mmls.Describe(err)
		if !strings.Contains(says, tc.says) || strings.Contains(says, "mmls:") || strings.Contains(says, "dmls:") {
			t.Errorf("%T says %q", tc.cmd, says)
		}
	}
}

// TestRunReturnsContextError: Run ends with ctx.Err() when ctx ends, and
// Do then says the engine stopped.
func TestRunReturnsContextError(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	alice := l.Start("alice")
	alice.Stop()
	if err := alice.RunErr(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if _, err := alice.Try(mmls.ListRooms{}); !errors.Is(err, mmls.ErrStopped) {
		t.Fatalf("Do after Run: %v", err)
	}
}

// TestFailedStoreStillSendsTheCommit: when a message cannot be stored, it
// is not sent, but the commit that protecting it made (our group moved
// to a new epoch) still reaches the members, who stay in step. Before the
// fix the whole output was dropped and bob could not read alice's next
// message until a gap timeout made him rejoin.
func TestFailedStoreStillSendsTheCommit(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	l.Policy = dmls.Config{UpdateEvery: 1} // every message commits first
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.Say("lobby", "one")
	alice.Say("lobby", "two")
	bob.WaitText("lobby", "two")
	alice.Store().FailWrites(errors.New("disk full"))
	_, err := alice.Try(mmls.Say{Room: "lobby", Text: "three"})
	alice.Store().FailWrites(nil)
	if !errors.Is(err, mmls.ErrStorage) {
		t.Fatalf("say with a failing store: %v", err)
	}
	alice.Say("lobby", "four")
	bob.WaitText("lobby", "four")
	if bob.Texts("lobby")["three"] != 0 {
		t.Fatal("a message that was not stored was sent")
	}
	// Nor shown as sent: the line's report waits for its store's commit.
	for _, ev := range alice.Seen() {
		if s, ok := ev.(*mmls.Sent); ok && s.Text == "three" {
			t.Fatal("a message that was not stored was reported sent")
		}
	}
	// The numbers the failed line took were given again: bob holds
	// alice's messages with no gap, and says so.
	entries, err := bob.Store().AckEntries("lobby")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := dmls.UnmarshalEntry(entries[alice.ID.String()])
	if err != nil || entry.Upto != 3 || len(entry.Gaps) != 0 {
		t.Fatalf("bob holds alice's lines up to %d with gaps %v (%v), want 3 and none", entry.Upto, entry.Gaps, err)
	}

	// The same in a direct conversation, whose lines are stored as they
	// are written (not in a batch).
	alice.Do(mmls.Direct{To: "bob", Text: "d1"})
	alice.Do(mmls.Direct{To: "bob", Text: "d2"})
	dm := alice.DirectRoom(bob)
	bob.WaitText(dm, "d2")
	var mu sync.Mutex
	frames := 0 // from alice to bob, from here on: the commit alone
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		if f.From == alice.ID && f.To == bob.ID {
			mu.Lock()
			frames++
			mu.Unlock()
		}
		return memnet.Verdict{}
	})
	alice.Store().FailWrites(errors.New("disk full"))
	_, err = alice.Try(mmls.Direct{To: "bob", Text: "d3"})
	alice.Store().FailWrites(nil)
	if !errors.Is(err, mmls.ErrStorage) {
		t.Fatalf("a direct message with a failing store: %v", err)
	}
	eventually(t, "the commit d3's protection made reaches bob", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return frames > 0
	})
	alice.Do(mmls.Direct{To: "bob", Text: "d4"})
	bob.WaitText(dm, "d4")
	if bob.Texts(dm)["d3"] != 0 {
		t.Fatal("a direct message that was not stored was sent")
	}
}

// TestFailedBatchShowsAndAcknowledgesNothing: frames are taken in a batch
// whose writes reach the disk at its commit. When the commit fails, what
// the batch held is not shown, not acknowledged and earns no receipt (a
// crash before the commit is the same); alice's re-send then brings it,
// and it is shown once.
func TestFailedBatchShowsAndAcknowledgesNothing(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	taken := newTakenCounter(t, l)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	mark := bob.Mark()
	bob.Store().FailWrites(errors.New("disk full"))
	// bob's timers fail their batches too (they write what they kept), so
	// a storage failure alone does not say that alice's message was in
	// the batch that failed. Her frames come 50 ms late, after such
	// failures; bob's store refuses writes until his engine has taken
	// them and ended the batch that held them.
	taken.slow(alice.ID, bob.ID, 50*time.Millisecond)
	id := alice.Say("lobby", "held back")
	taken.wait(t, alice.ID, bob.ID)
	bob.Do(mmls.ListRooms{}) // answered between batches: the one that held the frame has ended
	taken.slow(alice.ID, bob.ID, 0)
	bob.WaitAfter(mark, "the failed commit", func(e mmls.Event) bool {
		f, ok := e.(*mmls.Failure)
		return ok && errors.Is(f.Err, mmls.ErrStorage)
	})
	bob.Store().FailWrites(nil)
	// Whatever bob showed of alice's frames is on record before his Sent
	// (had one come after his store healed, it would be shown now), and
	// her re-send is not due before her clock moves.
	taken.wait(t, alice.ID, bob.ID)
	bob.Say("lobby", "after the failure")
	if n := bob.Texts("lobby")["held back"]; n != 0 {
		t.Fatalf("a message whose batch failed was shown %d times", n)
	}
	// A receipt bob sent after the failed commit would reach alice before
	// anything bob sends later (one ordered link), and she shows what a
	// batch did only once it is done: once bob's next message is on her
	// screen, any such receipt has been handled.
	alice.WaitText("lobby", "after the failure")
	// bob's next acknowledgement (for alice's next line) goes before his
	// next line: it must not claim what the failed batch stored either.
	alice.Say("lobby", "once more")
	bob.WaitText("lobby", "once more")
	bob.Say("lobby", "and a marker")
	alice.WaitText("lobby", "and a marker")
	for _, e := range alice.Seen() {
		if d, ok := e.(*mmls.Delivered); ok && d.MsgID == id {
			t.Fatal("an acknowledgement for a message whose batch failed")
		}
	}
	l.Clock.Advance(31 * time.Second) // alice's re-send is due
	bob.WaitText("lobby", "held back")
	alice.WaitDelivered(id, bob)
	if n := bob.Texts("lobby")["held back"]; n != 1 {
		t.Fatalf("shown %d times", n)
	}
}

// takenCounter counts, for every participant, the frames it sent each
// peer and the frames its engine took from each, so that a test can wait
// until a frame sent is in the receiving engine's hands (in the batch
// running, or in one that ended). It can also hold a pair's frames back
// on the hub for a while. No pair of its tests goes down, so no frame
// is delivered twice.
type takenCounter struct {
	mu    sync.Mutex
	cond  *sync.Cond
	sent  map[[2]mmls.ID]int // from, to
	taken map[[2]mmls.ID]int // from, to
	delay map[[2]mmls.ID]time.Duration
}

// newTakenCounter watches the participants of l (install it before
// starting them).
func newTakenCounter(t *testing.T, l *enginetest.LAN) *takenCounter {
	c := &takenCounter{sent: map[[2]mmls.ID]int{}, taken: map[[2]mmls.ID]int{}, delay: map[[2]mmls.ID]time.Duration{}}
	c.cond = sync.NewCond(&c.mu)
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		c.mu.Lock()
		defer c.mu.Unlock()
		return memnet.Verdict{Delay: c.delay[[2]mmls.ID{f.From, f.To}]}
	})
	configure := l.Configure
	quit := make(chan struct{})
	l.Configure = func(nick string, cfg *mmls.Config) {
		if configure != nil {
			configure(nick, cfg)
		}
		cfg.Net = &tappedNet{Network: cfg.Net, me: cfg.Net.(interface{ ID() mmls.ID }).ID(), c: c, quit: quit}
	}
	// Cleanups run last first: this one once the participants stopped.
	t.Cleanup(func() { close(quit) })
	return c
}

// slow holds each frame from one participant to another d on the hub
// (0: no longer).
func (c *takenCounter) slow(from, to mmls.ID, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delay[[2]mmls.ID{from, to}] = d
}

// wait waits until the engine of to has taken every frame from has sent
// it so far.
func (c *takenCounter) wait(t *testing.T, from, to mmls.ID) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(10 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]mmls.ID{from, to}
	want := c.sent[k]
	for c.taken[k] < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the %d frames from %s taken within 10s", c.taken[k], want, from.Short())
		}
		c.cond.Wait()
	}
}

// tappedNet is a participant's network, counting the frames it sends and
// the frames its engine takes (through an unbuffered channel: a frame
// handed over is taken).
type tappedNet struct {
	mmls.Network
	me     mmls.ID
	c      *takenCounter
	quit   chan struct{}
	events chan mmls.NetEvent
	once   sync.Once
}

func (n *tappedNet) Send(to mmls.ID, payload []byte) error {
	err := n.Network.Send(to, payload)
	if err == nil {
		n.c.mu.Lock()
		n.c.sent[[2]mmls.ID{n.me, to}]++
		n.c.mu.Unlock()
	}
	return err
}

func (n *tappedNet) Events() <-chan mmls.NetEvent {
	n.once.Do(func() {
		n.events = make(chan mmls.NetEvent)
		go func() {
			defer close(n.events)
			for ev := range n.Network.Events() {
				select {
				case n.events <- ev:
				case <-n.quit:
					return
				}
				if ev.Kind == mmls.Frame {
					n.c.mu.Lock()
					n.c.taken[[2]mmls.ID{ev.Peer, n.me}]++
					n.c.cond.Broadcast()
					n.c.mu.Unlock()
				}
			}
		}()
	})
	return n.events
}
