package mmls_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// These tests run real engines, stores and MLS in one process on an
// in-memory network; the end-to-end tests run the same behaviour with
// real processes and TCP.

// TestRoomForms: three participants form the lobby (every link both
// ways), write, and get each other's receipts; /who shows both links.
func TestRoomForms(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	id := alice.Say("lobby", "hello from alice")
	bob.WaitText("lobby", "hello from alice")
	carol.WaitText("lobby", "hello from alice")
	alice.WaitDelivered(id, bob, carol)
	who := alice.Do(mmls.Who{Room: "lobby"}).(*mmls.Members)
	if len(who.Members) != 2 {
		t.Fatalf("who: %+v", who.Members)
	}
	for _, m := range who.Members {
		if !m.WeReach || !m.TheyReach || !m.Online {
			t.Errorf("link with %s: %+v", m.Nick, m)
		}
	}
}

// TestDirectMessage: /msg reaches the one person, in a room nobody else
// can join even knowing its name.
func TestDirectMessage(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	alice.Do(mmls.Direct{To: "bob", Text: "psst, just you"})
	got := bob.WaitFor("the direct message", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Text == "psst, just you"
	}).(*mmls.Message)
	if peer, ok := bob.Engine.DirectPeer(got.Room); !mmls.IsDirect(got.Room) || !ok || peer != alice.ID {
		t.Fatalf("direct message in %q", got.Room)
	}
	if _, err := carol.Try(mmls.Join{Room: got.Room}); !errors.Is(err, mmls.ErrBadName) {
		t.Fatalf("carol joined the direct room by name: %v", err)
	}
	// A later lobby message reaches carol after the direct one would
	// have (same sender): she shows neither the message nor the room.
	alice.Say("lobby", "sentinel")
	carol.WaitText("lobby", "sentinel")
	if n := carol.Texts(got.Room)["psst, just you"]; n != 0 {
		t.Fatal("carol read the direct message")
	}
}

// TestInviteToRoom: /invite sends a room's name through the direct room;
// the invitee joins and reads the room.
func TestInviteToRoom(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, carol := nodes[0], nodes[2]
	alice.Do(mmls.Join{Room: "secret"})
	alice.Do(mmls.Invite{Room: "secret", Who: "carol"})
	carol.WaitFor("the invitation", func(e mmls.Event) bool {
		i, ok := e.(*mmls.InviteReceived)
		return ok && i.Room == "secret" && i.FromID == alice.ID
	})
	carol.Do(mmls.Join{Room: "secret"})
	carol.WaitLinked("secret", alice)
	alice.WaitLinked("secret", carol)
	id := alice.Say("secret", "welcome to the secret room")
	carol.WaitText("secret", "welcome to the secret room")
	alice.WaitDelivered(id, carol)
}

// TestKickPropagates: alice kicks carol; bob, who verified alice,
// removes carol from his group too (the DMLS rule), so carol is told by
// both, and what she writes afterwards is addressed to nobody.
func TestKickPropagates(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.Do(mmls.Verify{Who: "alice", Confirm: true})
	alice.Do(mmls.Kick{Room: "lobby", Who: "carol"})
	for _, by := range []*enginetest.Node{alice, bob} {
		carol.WaitFor("removal by "+by.Nick, func(e mmls.Event) bool {
			r, ok := e.(*mmls.Removed)
			return ok && r.By == by.ID
		})
		carol.WaitFor(by.Nick+" out of carol's group", func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.By == carol.ID && m.ID == by.ID && m.Change == mmls.ChangeRemoved
		})
	}
	bob.WaitFor("carol out of bob's group", func(e mmls.Event) bool {
		m, ok := e.(*mmls.MemberChanged)
		return ok && m.By == bob.ID && m.ID == carol.ID && m.Change == mmls.ChangeRemoved
	})
	carol.Do(mmls.Say{Room: "lobby", Text: "can anyone hear me"})
	sent := carol.WaitFor("carol's message", func(e mmls.Event) bool { _, ok := e.(*mmls.Sent); return ok }).(*mmls.Sent)
	if sent.Recipients != 0 {
		t.Fatalf("carol's message after the kick is addressed to %d members", sent.Recipients)
	}
	alice.Say("lobby", "after the kick")
	bob.WaitText("lobby", "after the kick")
	bob.Say("lobby", "sentinel")
	alice.WaitText("lobby", "sentinel")
	if n := alice.Texts("lobby")["can anyone hear me"] + bob.Texts("lobby")["can anyone hear me"]; n != 0 {
		t.Fatal("a kicked member was heard")
	}
	if n := carol.Texts("lobby")["after the kick"] + carol.Texts("lobby")["sentinel"]; n != 0 {
		t.Fatal("the kicked member read the room")
	}
}

// TestResendKeepsTheOrder: what alice wrote while bob was away reaches
// him, re-sent on his return, in the order she wrote it (her outbox is
// kept by message id, which is random).
func TestResendKeepsTheOrder(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	bob.Stop()
	const n = 8
	for i := 1; i <= n; i++ {
		alice.Say("lobby", fmt.Sprintf("line %d", i))
	}
	l.Clock.Advance(10 * time.Second) // a restart takes time
	bob = l.Start("bob")
	bob.WaitText("lobby", fmt.Sprintf("line %d", n))
	var got []string
	for _, e := range bob.Seen() {
		if m, ok := e.(*mmls.Message); ok && m.Room == "lobby" && strings.HasPrefix(m.Text, "line ") {
			got = append(got, m.Text)
		}
	}
	for i, text := range got {
		if want := fmt.Sprintf("line %d", i+1); text != want {
			t.Fatalf("bob read %q, want them in order", got)
		}
	}
}

// TestRestartCatchesUp: bob stops; the others write; bob starts again
// from his data directory (no MLS state survives), is re-added, and reads
// what he missed, once.
func TestRestartCatchesUp(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	// Nobody holds the others' lines: what bob gets must come from each
	// author's own re-send (delivery through members has its own tests).
	alice.Do(mmls.SetHold{On: false})
	carol.Do(mmls.SetHold{On: false})
	alice.Say("lobby", "before")
	bob.WaitText("lobby", "before")
	bob.Stop()
	a := alice.Say("lobby", "missed 1")
	c := carol.Say("lobby", "missed 2")
	// Less than ResendAfter (30 s): what bob missed comes from the re-send
	// on his rejoin, not from the timer.
	l.Clock.Advance(10 * time.Second)
	bob = l.Start("bob")
	bob.WaitText("lobby", "missed 1")
	bob.WaitText("lobby", "missed 2")
	alice.WaitDelivered(a, bob)
	carol.WaitDelivered(c, bob)
	id := bob.Say("lobby", "back")
	alice.WaitText("lobby", "back")
	carol.WaitText("lobby", "back")
	bob.WaitDelivered(id, alice, carol)
	for text, n := range bob.Texts("lobby") {
		if n != 1 || text == "before" {
			t.Errorf("after the restart bob was shown %q %d times", text, n)
		}
	}
}

// TestPartitionHeals: while alice and bob cannot reach each other,
// carol still reads alice; when the pair heals, what waited arrives once.
func TestPartitionHeals(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	l.Hub.Partition(alice.ID, bob.ID)
	bob.WaitFor("alice offline", func(e mmls.Event) bool {
		p, ok := e.(*mmls.PeerChanged)
		return ok && p.ID == alice.ID && !p.Online
	})
	id := alice.Say("lobby", "during the partition")
	carol.WaitText("lobby", "during the partition")
	if bob.Texts("lobby")["during the partition"] != 0 {
		t.Fatal("bob read through a partition")
	}
	l.Hub.Heal(alice.ID, bob.ID)
	bob.WaitText("lobby", "during the partition")
	alice.WaitDelivered(id, bob, carol)
	alice.Say("lobby", "sentinel")
	bob.WaitText("lobby", "sentinel")
	if n := bob.Texts("lobby")["during the partition"]; n != 1 {
		t.Fatalf("shown %d times", n)
	}
}

// TestDelayedPairKeepsOrder: every frame from alice to carol is held a
// while (bob's are not); carol still reads alice's messages in order.
func TestDelayedPairKeepsOrder(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		if f.From == alice.ID && f.To == carol.ID {
			return memnet.Verdict{Delay: 20 * time.Millisecond}
		}
		return memnet.Verdict{}
	})
	want := []string{"one", "two", "three", "four", "five"}
	for _, w := range want {
		alice.Do(mmls.Say{Room: "lobby", Text: w})
	}
	bob.WaitText("lobby", "five")
	var order []string
	carol.WaitFor("all five", func(e mmls.Event) bool {
		if m, ok := e.(*mmls.Message); ok {
			order = append(order, m.Text)
		}
		return len(order) == len(want)
	})
	if !slices.Equal(order, want) {
		t.Fatalf("carol read %v, want %v", order, want)
	}
}

// TestLostCommitRecovers: a commit lost for good (no transport would lose
// it; the engine must recover anyway) leaves bob with a message for an
// epoch he cannot reach; after GapTimeout he asks alice to re-add him,
// and her outbox sends the message again.
func TestLostCommitRecovers(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	lost := loseOnce(l, alice, bob, dmls.KindCommit)
	alice.Do(mmls.Update{Room: "lobby"})
	if !lost.Load() {
		t.Fatal("the update's commit was not sent to bob")
	}
	id := alice.Say("lobby", "after a lost commit")
	stop := l.Clock.Flow(time.Second) // past the gap timeout (30 s)
	defer stop()
	bob.WaitText("lobby", "after a lost commit")
	alice.WaitDelivered(id, bob)
	stop()
	if n := bob.Texts("lobby")["after a lost commit"]; n != 1 {
		t.Fatalf("shown %d times", n)
	}
}

// TestResendAfterLostMessage: a message lost for good on the way to bob
// (no receipt comes back) is protected again once ResendAfter passes.
func TestResendAfterLostMessage(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	lost := loseOnce(l, alice, bob, dmls.KindApp)
	id := alice.Say("lobby", "lost on the way")
	if !lost.Load() {
		t.Fatal("the message was not sent to bob")
	}
	stop := l.Clock.Flow(time.Second) // past ResendAfter (30 s)
	defer stop()
	bob.WaitText("lobby", "lost on the way")
	alice.WaitDelivered(id, bob)
}

// TestKickedAbsentMemberNotAddressed: carol is away when alice restarts
// (so she is a member alice remembers, not yet back in her group); alice
// kicks her then: alice's next line is not addressed to her, so it does
// not wait for her, and no one hands it to her; nor after alice restarts.
func TestKickedAbsentMemberNotAddressed(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	carol.Stop()
	alice.Stop()
	alice = l.Start("alice")
	bob.WaitLinked("lobby", alice)
	alice.Say("lobby", "carol is away")
	sentTo := func(text string) int {
		for _, e := range alice.Seen() {
			if s, ok := e.(*mmls.Sent); ok && s.Text == text {
				return s.Recipients
			}
		}
		t.Fatalf("no sent event for %q", text)
		return 0
	}
	if n := sentTo("carol is away"); n != 2 {
		t.Fatalf("a line while carol is away went to %d members, want 2 (bob, and carol later)", n)
	}
	if _, err := alice.Try(mmls.Kick{Room: "lobby", Who: "carol"}); err != nil {
		t.Fatal(err)
	}
	alice.Say("lobby", "after the kick")
	if n := sentTo("after the kick"); n != 1 {
		t.Fatalf("a line after carol's kick went to %d members, want 1 (bob)", n)
	}
	// The kick is kept: after alice's next restart carol is still out.
	alice.Stop()
	alice = l.Start("alice")
	bob.WaitLinked("lobby", alice)
	alice.Say("lobby", "after a restart")
	if n := sentTo("after a restart"); n != 1 {
		t.Fatalf("a line after alice's restart went to %d members, want 1 (bob)", n)
	}
}

// TestKickSurvivesRestart: alice kicks carol and restarts; carol comes
// back and says hello in the lobby, and alice does not re-add her.
func TestKickSurvivesRestart(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	alice.Do(mmls.Kick{Room: "lobby", Who: "carol"})
	carol.WaitFor("removal by alice", func(e mmls.Event) bool {
		r, ok := e.(*mmls.Removed)
		return ok && r.By == alice.ID
	})
	alice.Stop()
	l.Clock.Advance(time.Minute)
	alice = l.Start("alice")
	bob.WaitLinked("lobby", alice)
	// carol's hello in the lobby travels before this direct message on
	// the same pair, so alice has handled it once she shows the message.
	carol.Do(mmls.Direct{To: "alice", Text: "let me back in"})
	alice.WaitFor("carol's direct message", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Text == "let me back in"
	})
	for _, e := range alice.Seen() {
		if m, ok := e.(*mmls.MemberChanged); ok && m.Room == "lobby" && m.By == alice.ID && m.ID == carol.ID {
			t.Fatalf("alice re-added carol after a restart: %+v", m)
		}
	}
	for _, m := range alice.Do(mmls.Who{Room: "lobby"}).(*mmls.Members).Members {
		if m.ID == carol.ID && (m.WeReach || m.TheyReach) {
			t.Fatalf("carol is back in alice's lobby: %+v", m)
		}
	}
}

// loseOnce loses, for good, the first DMLS message of kind from one
// participant to another; it reports whether that happened.
func loseOnce(l *enginetest.LAN, from, to *enginetest.Node, kind dmls.Kind) *atomic.Bool {
	var lost atomic.Bool
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		if f.From == from.ID && f.To == to.ID && isKind(f.Payload, kind) && lost.CompareAndSwap(false, true) {
			return memnet.Verdict{Lose: true}
		}
		return memnet.Verdict{}
	})
	return &lost
}

// isKind reports whether an engine frame carries a DMLS message of kind.
func isKind(payload []byte, kind dmls.Kind) bool {
	if len(payload) < 2 || payload[0] != 1 {
		return false
	}
	m, err := dmls.UnmarshalMessage(payload[1:])
	return err == nil && m.Kind == kind
}

// TestStrangerCannotEvictEveryone: in an open room, mallory (a member
// nobody verified) removes everyone from her group; nobody follows, each
// is told, and alice, bob and carol go on talking.
func TestStrangerCannotEvictEveryone(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol", "mallory")
	alice, bob, carol, mallory := nodes[0], nodes[1], nodes[2], nodes[3]
	for _, victim := range []*enginetest.Node{alice, bob, carol} {
		mallory.Do(mmls.Kick{Room: "lobby", Who: victim.Nick})
	}
	// Each sees the removals mallory made while it was still in her group
	// (carol, removed last, sees both others'), and follows none.
	for _, victim := range []*enginetest.Node{alice, bob} {
		carol.WaitFor("mallory's removal of "+victim.Nick+", not followed", func(e mmls.Event) bool {
			r, ok := e.(*mmls.RemovalIgnored)
			return ok && r.By == mallory.ID && r.ID == victim.ID
		})
	}
	for _, n := range []*enginetest.Node{alice, bob, carol} {
		id := n.Say("lobby", "still here, from "+n.Nick)
		var others []*enginetest.Node
		for _, o := range []*enginetest.Node{alice, bob, carol} {
			if o != n {
				o.WaitText("lobby", "still here, from "+n.Nick)
				others = append(others, o)
			}
		}
		n.WaitDelivered(id, others...)
	}
}

// TestKickCanBeUndone: alice kicks carol (bob, who verified alice,
// follows); alice takes it back, bob follows that too, and carol is back
// in both their groups, reading them again.
func TestKickCanBeUndone(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.Do(mmls.Verify{Who: "alice", Confirm: true})
	alice.Do(mmls.Kick{Room: "lobby", Who: "carol"})
	carol.WaitFor("removal by bob", func(e mmls.Event) bool {
		r, ok := e.(*mmls.Removed)
		return ok && r.By == bob.ID
	})
	if _, err := bob.Try(mmls.Unkick{Room: "lobby", Who: "alice"}); !errors.Is(err, mmls.ErrNoSuchPeer) {
		t.Fatalf("unkick of someone not removed: %v", err)
	}
	marks := map[*enginetest.Node]int{alice: alice.Mark(), bob: bob.Mark()}
	alice.Do(mmls.Unkick{Room: "lobby", Who: "carol"})
	bob.WaitFor("the lifted kick", func(e mmls.Event) bool {
		k, ok := e.(*mmls.KickLifted)
		return ok && k.ID == carol.ID && k.By == alice.ID
	})
	for _, n := range []*enginetest.Node{alice, bob} {
		n.WaitAfter(marks[n], n.Nick+" re-adds carol", func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.By == n.ID && m.ID == carol.ID && m.Change != mmls.ChangeRemoved
		})
	}
	alice.Say("lobby", "welcome back")
	bob.Say("lobby", "welcome back from bob")
	carol.WaitText("lobby", "welcome back")
	carol.WaitText("lobby", "welcome back from bob")
	kicks, err := alice.Store().Kicked("lobby")
	if err != nil || len(kicks) != 0 {
		t.Fatalf("alice's stored kicks %+v %v", kicks, err)
	}
}

// TestResendReachesOnlyMissingRecipients: alice writes while bob is away;
// carol joins the room after. When bob comes back, the re-send goes to
// him through their direct room, not through the room's group, whose key
// carol now holds: she never decrypts it.
func TestResendReachesOnlyMissingRecipients(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	bob.Stop()
	id := alice.Say("lobby", "before carol came")
	carol := l.Start("carol")
	carol.Do(mmls.Connect{Addr: memnet.Addr("alice")})
	carol.WaitLinked("lobby", alice)
	alice.WaitLinked("lobby", carol)
	l.Clock.Advance(10 * time.Second)
	bob = l.Start("bob")
	got := bob.WaitText("lobby", "before carol came")
	if got.FromID != alice.ID {
		t.Fatalf("from %s", got.From)
	}
	alice.WaitDelivered(id, bob)
	alice.Say("lobby", "sentinel")
	carol.WaitText("lobby", "sentinel")
	for _, line := range carol.Logs() {
		if strings.Contains(line, "not addressed to us") {
			t.Fatalf("carol decrypted a message sent before she joined: %s", line)
		}
	}
	if carol.Texts("lobby")["before carol came"] != 0 {
		t.Fatal("carol read a message sent before she joined")
	}
}

// TestKeysRotateOnSchedule: once the update interval has passed, each
// member's key in the other's send group rotates without anyone typing
// (the owner commits the member's Update), and /info says when, per room.
func TestKeysRotateOnSchedule(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	leafIn := func(n *enginetest.Node, owner mmls.ID) time.Time {
		t.Helper()
		info := n.Do(mmls.ShowInfo{}).(*mmls.Info)
		for _, k := range info.Keys {
			for _, leaf := range k.Leaves {
				if k.Room == "lobby" && leaf.Owner == owner {
					return leaf.At
				}
			}
		}
		t.Fatalf("%s: /info has no key in %s's lobby group: %+v", n.Nick, owner.Short(), info.Keys)
		return time.Time{}
	}
	joined := leafIn(alice, bob.ID)
	marks := []int{alice.Mark(), bob.Mark()}
	l.Clock.Advance(11 * time.Minute)
	for i, pair := range [][2]*enginetest.Node{{alice, bob}, {bob, alice}} {
		n, owner := pair[0], pair[1]
		n.WaitAfter(marks[i], "key rotated by "+owner.Nick, func(e mmls.Event) bool {
			k, ok := e.(*mmls.KeyRotated)
			return ok && k.Room == "lobby" && k.By == owner.ID
		})
	}
	if at := leafIn(alice, bob.ID); !at.After(joined.Add(10 * time.Minute)) {
		t.Fatalf("alice's key in bob's group rotated at %v (joined %v)", at, joined)
	}
}

// TestSearchAndNotifySetting: /search finds the room's stored messages in
// any case, ours and others'; /notify off is kept for the next start.
func TestSearchAndNotifySetting(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.Say("lobby", "the Budget is due")
	alice.Say("lobby", "unrelated")
	bob.Say("lobby", "budget? which budget")
	alice.WaitText("lobby", "budget? which budget")
	found := alice.Do(mmls.Search{Room: "lobby", Text: "BUDGET"}).(*mmls.Found)
	var got []string
	for _, l := range found.Lines {
		got = append(got, l.From+": "+l.Text)
	}
	if found.Total != 2 || strings.Join(got, " | ") != "alice: the Budget is due | bob: budget? which budget" {
		t.Fatalf("found %d: %q", found.Total, got)
	}
	if _, err := alice.Try(mmls.Search{Room: "nowhere", Text: "x"}); !errors.Is(err, mmls.ErrNotInRoom) {
		t.Fatalf("search in a room we are not in: %v", err)
	}
	alice.Do(mmls.SetNotify{On: false})
	alice.Stop()
	alice2 := l.Start("alice")
	if ready := alice2.WaitFor("ready", func(e mmls.Event) bool { _, ok := e.(*mmls.Ready); return ok }).(*mmls.Ready); ready.Notify {
		t.Fatal("/notify off was forgotten at the restart")
	}
}

// TestNotesSurviveRestart: the lines worth keeping (bob joined our group,
// carol's invitation) come back with the start room's history, stamped
// when they happened.
func TestNotesSurviveRestart(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, carol := nodes[0], nodes[2]
	carol.Do(mmls.Join{Room: "plans"})
	carol.Do(mmls.Invite{Room: "plans", Who: "alice"})
	alice.WaitFor("the invitation", func(e mmls.Event) bool { _, ok := e.(*mmls.InviteReceived); return ok })
	alice.Stop()
	alice = l.Start("alice")
	hist := alice.WaitFor("history", func(e mmls.Event) bool {
		h, ok := e.(*mmls.History)
		return ok && h.Room == "lobby"
	}).(*mmls.History)
	var got []string
	for _, p := range hist.Past {
		switch p := p.(type) {
		case *mmls.MemberChanged:
			got = append(got, string(p.Change)+" "+p.Nick)
		case *mmls.InviteReceived:
			got = append(got, "invite "+p.Room+" from "+p.From)
		}
		if p.When().IsZero() {
			t.Errorf("%T without its time", p)
		}
	}
	slices.Sort(got)
	if strings.Join(got, ", ") != "added bob, added carol, invite plans from carol" {
		t.Fatalf("kept: %q", got)
	}
	// bob is back in our group after the restart: restored, which is
	// nothing to keep (a second restart shows him joined once).
	back := alice.WaitFor("bob restored", func(e mmls.Event) bool {
		m, ok := e.(*mmls.MemberChanged)
		return ok && m.Nick == "bob" && m.By == alice.ID && m.Change == mmls.ChangeAdded
	}).(*mmls.MemberChanged)
	if !back.Restored {
		t.Fatalf("bob's return after our restart: %+v", back)
	}
	alice.Stop()
	alice = l.Start("alice")
	hist = alice.WaitFor("history", func(e mmls.Event) bool {
		h, ok := e.(*mmls.History)
		return ok && h.Room == "lobby"
	}).(*mmls.History)
	if len(hist.Past) != 3 {
		t.Fatalf("%d kept lines after a second restart, want 3", len(hist.Past))
	}
}

// TestOlderLinesOnRequest: a start shows a room's last HistoryLines lines
// and says older ones are stored; LoadOlder brings them, in order, and
// then says none are left.
func TestOlderLinesOnRequest(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	alice := l.Start("alice")
	alice.Do(mmls.Join{Room: "dev"})
	const n = mmls.HistoryLines + 7
	for i := range n {
		if _, err := alice.Store().AddMessage(store.Message{ID: fmt.Sprint(i), Room: "dev", FromID: strings.Repeat("b", 64), FromNick: "bob", Text: fmt.Sprintf("line %d", i), SentAt: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	alice.Stop()
	alice = l.Start("alice")
	h := alice.WaitFor("dev's history", func(e mmls.Event) bool {
		h, ok := e.(*mmls.History)
		return ok && h.Room == "dev"
	}).(*mmls.History)
	if len(h.Lines) != mmls.HistoryLines || h.Lines[0].Text != "line 7" || h.Older == 0 {
		t.Fatalf("the start's history: %d lines from %q, older at %d", len(h.Lines), h.Lines[0].Text, h.Older)
	}
	more := alice.Do(mmls.LoadOlder{Room: "dev", Before: h.Older}).(*mmls.History)
	var got []string
	for _, l := range more.Lines {
		got = append(got, l.Text)
	}
	if !more.Earlier || more.Older != 0 || !slices.Equal(got, []string{"line 0", "line 1", "line 2", "line 3", "line 4", "line 5", "line 6"}) {
		t.Fatalf("older lines: %q, earlier %v, older at %d", got, more.Earlier, more.Older)
	}
	if _, err := alice.Try(mmls.LoadOlder{Room: "nowhere", Before: 1}); !errors.Is(err, mmls.ErrNotInRoom) {
		t.Fatalf("older lines of a room we are not in: %v", err)
	}
}

// TestLastReadSurvivesARestart: the last message read in a room, kept
// with MarkRead, comes back with the room's history at the next start.
func TestLastReadSurvivesARestart(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	id := bob.Say("lobby", "read this")
	alice.WaitText("lobby", "read this")
	bob.Say("lobby", "not read yet")
	alice.WaitText("lobby", "not read yet")
	for _, bad := range []mmls.MarkRead{{Room: "lobby", MsgID: "nonsense"}, {Room: "lobby", MsgID: "abcd"}, {Room: "nowhere", MsgID: id}} {
		if _, err := alice.Try(bad); err == nil {
			t.Errorf("%+v taken", bad)
		}
	}
	alice.Do(mmls.MarkRead{Room: "lobby", MsgID: id})
	alice.Stop()
	alice = l.Start("alice")
	h := alice.WaitFor("the lobby's history", func(e mmls.Event) bool {
		h, ok := e.(*mmls.History)
		return ok && h.Room == "lobby"
	}).(*mmls.History)
	if h.LastRead != id {
		t.Fatalf("last read %q, want %q", h.LastRead, id)
	}
}
