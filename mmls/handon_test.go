package mmls_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
)

// messagesFrom lists what n was shown in room from author, by text, with
// who handed each on.
func messagesFrom(n *enginetest.Node, room string, author mmls.ID) map[string][]mmls.ID {
	out := map[string][]mmls.ID{}
	for _, ev := range n.Seen() {
		if m, ok := ev.(*mmls.Message); ok && m.Room == room && m.FromID == author {
			out[m.Text] = append(out[m.Text], m.Via)
		}
	}
	return out
}

// TestMembersHandOn: alice, bob and carol share the lobby; bob quits;
// alice writes five lines, which carol receives; alice quits; bob starts
// again and meets only carol. Carol hands alice's lines on: bob reads
// each once, as alice's. Bob writes while alice is away; when alice comes
// back she reads it, and learns that bob stored her five lines.
func TestMembersHandOn(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.Stop()
	var ids []string
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("line %d while bob is away", i)
		ids = append(ids, alice.Say("lobby", text))
		carol.WaitText("lobby", text)
	}
	// Carol holds them in memory: written behind (TestHeldWrittenBehind).
	if n, _, err := carol.Store().HeldTotals("lobby"); err != nil || n != 0 {
		t.Fatalf("carol wrote %d messages for bob (%v) before any pruning", n, err)
	}
	alice.Stop()
	bob = l.Start("bob")
	for i := 1; i <= 5; i++ {
		bob.WaitText("lobby", fmt.Sprintf("line %d while bob is away", i))
	}
	got := messagesFrom(bob, "lobby", alice.ID)
	for i := 1; i <= 5; i++ {
		via := got[fmt.Sprintf("line %d while bob is away", i)]
		if len(via) != 1 || via[0] != carol.ID {
			t.Fatalf("line %d reached bob %d times, via %v (want once, via carol)", i, len(via), via)
		}
	}
	bobsID := bob.Say("lobby", "bob writes while alice is away")
	carol.WaitText("lobby", "bob writes while alice is away")
	bob.Stop()
	alice = l.Start("alice")
	alice.WaitText("lobby", "bob writes while alice is away")
	for _, id := range ids {
		alice.WaitDelivered(id, bob) // bob's record, handed on by carol
	}
	if n := len(messagesFrom(alice, "lobby", bob.ID)["bob writes while alice is away"]); n != 1 {
		t.Fatalf("alice read bob's line %d times", n)
	}
	bob = l.Start("bob")
	bob.WaitDelivered(bobsID, alice)
	// Everyone holds everything: carol forgets what she held for them.
	eventually(t, "carol holds nothing more", func() bool {
		l.Clock.Advance(mmls.HandOnEvery)
		n, _, err := carol.Store().HeldTotals("lobby")
		return err == nil && n == 0
	})
}

// TestHeldWrittenBehind: what a member holds for others waits in memory
// and is written at its second pruning only if some recipient has not said
// it holds it: in a room where everyone is online nothing is written; for
// a member who is away it is, at the second pruning and not the first;
// and a stop writes what waits.
func TestHeldWrittenBehind(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	written := func() int {
		t.Helper()
		n, _, err := carol.Store().HeldTotals("lobby")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	prune := func() {
		l.Clock.Advance(mmls.HandOnEvery)
		l.RunTimers()
		l.Settle()
	}
	// A first pruning (each engine's first tick prunes at once): from here
	// the clock moves only in prune, so each engine prunes once a round.
	prune()
	id := alice.Say("lobby", "everyone is here")
	alice.WaitDelivered(id, bob, carol)
	for i := 1; i <= 3; i++ {
		if prune(); written() != 0 {
			t.Fatalf("pruning %d: carol wrote %d messages everyone holds", i, written())
		}
	}
	bob.Stop()
	alice.Say("lobby", "bob is away")
	carol.WaitText("lobby", "bob is away")
	if prune(); written() != 0 {
		t.Fatalf("written at the first pruning: %d", written())
	}
	if prune(); written() != 1 {
		t.Fatalf("after the second pruning carol wrote %d messages for bob, want 1", written())
	}
	alice.Say("lobby", "bob is still away")
	carol.WaitText("lobby", "bob is still away")
	carol.Stop()
	carol = l.Start("carol")
	if n := written(); n != 2 {
		t.Fatalf("after a stop carol has %d messages for bob written, want 2", n)
	}
	alice.Stop()
	bob = l.Start("bob")
	bob.WaitText("lobby", "bob is away")
	bob.WaitText("lobby", "bob is still away")
}

// eventually waits (10 s at most) until ok holds, trying every few
// milliseconds: for state that no event announces.
func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}
