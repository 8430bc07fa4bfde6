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
	if n, _, err := carol.Store().HeldTotals("lobby"); err != nil || n != 5 {
		t.Fatalf("carol holds %d messages for bob (%v), want 5", n, err)
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
