package mmls_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
)

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
		{"/join dev", "lobby", mmls.Join{Room: "dev"}, nil},
		{"/join", "lobby", nil, mmls.ErrUsage},
		{"/join #general", "lobby", mmls.Join{Room: "general"}, nil},
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
	l.Policy = dmls.Config{UpdateEvery: 2} // every second message commits first
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
}

// TestFailedBatchShowsAndAcknowledgesNothing: frames are taken in a batch
// whose writes reach the disk at its commit. When the commit fails, what
// the batch held is not shown, not acknowledged and earns no receipt (a
// crash before the commit is the same); alice's re-send then brings it,
// and it is shown once.
func TestFailedBatchShowsAndAcknowledgesNothing(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	mark := bob.Mark()
	bob.Store().FailWrites(errors.New("disk full"))
	id := alice.Say("lobby", "held back")
	bob.WaitAfter(mark, "the failed commit", func(e mmls.Event) bool {
		f, ok := e.(*mmls.Failure)
		return ok && errors.Is(f.Err, mmls.ErrStorage)
	})
	if n := bob.Texts("lobby")["held back"]; n != 0 {
		t.Fatalf("a message whose batch failed was shown %d times", n)
	}
	// A receipt bob sent after the failed commit would reach alice before
	// anything bob sends later (one ordered link), and she shows what a
	// batch did only once it is done: once bob's next message is on her
	// screen, any such receipt has been handled.
	bob.Store().FailWrites(nil)
	bob.Say("lobby", "after the failure")
	alice.WaitText("lobby", "after the failure")
	for _, e := range alice.Seen() {
		if d, ok := e.(*mmls.Delivered); ok && d.MsgID == id {
			t.Fatal("a receipt for a message whose batch failed")
		}
	}
	l.Clock.Advance(31 * time.Second) // alice's re-send is due
	bob.WaitText("lobby", "held back")
	alice.WaitDelivered(id, bob)
	if n := bob.Texts("lobby")["held back"]; n != 1 {
		t.Fatalf("shown %d times", n)
	}
}
