package mmls_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

func renamed(n *enginetest.Node, mark int, who *enginetest.Node, nick string) *mmls.PeerRenamed {
	return n.WaitAfter(mark, who.Nick+" renamed "+nick, func(e mmls.Event) bool {
		r, ok := e.(*mmls.PeerRenamed)
		return ok && r.ID == who.ID && r.Nick == nick
	}).(*mmls.PeerRenamed)
}

// TestNickIsLive: bob's /nick is shown at once to the others in his
// rooms, on his next lines too, and to someone who connects afterwards
// as his nick (no change to report); a burst of changes shows one, then
// the last one once the pause is over.
func TestNickIsLive(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	marks := []int{alice.Mark(), carol.Mark()}
	if got := bob.Do(mmls.SetNick{Nick: "bobby"}).(*mmls.NickChanged); got.Nick != "bobby" || got.Detail != "told 2 online" {
		t.Fatalf("answer %+v", got)
	}
	for i, n := range []*enginetest.Node{alice, carol} {
		r := renamed(n, marks[i], bob, "bobby")
		if r.Old != "bob" || !slices.Equal(r.Rooms, []string{"lobby"}) {
			t.Fatalf("%s: %+v", n.Nick, r)
		}
	}
	bob.Say("lobby", "it is bobby now")
	if m := alice.WaitText("lobby", "it is bobby now"); m.From != "bobby" {
		t.Fatalf("bob's line shows as %q", m.From)
	}
	if _, err := bob.Try(mmls.SetNick{Nick: "bobby"}); err == nil {
		t.Fatal("/nick to the nick we have was taken")
	}

	// dave connects after the change: bobby is bob's nick to him.
	dave := l.Start("dave")
	dave.Do(mmls.Connect{Addr: memnet.Addr("bob")})
	dave.WaitFor("bob online as bobby", func(e mmls.Event) bool {
		p, ok := e.(*mmls.PeerChanged)
		return ok && p.ID == bob.ID && p.Online && p.Nick == "bobby"
	})

	// Three changes at once, a pause after the first: alice shows the
	// first of them, then, after another pause, the last.
	l.Clock.Advance(mmls.RenameEvery)
	mark := alice.Mark()
	for i := 1; i <= 3; i++ {
		bob.Do(mmls.SetNick{Nick: fmt.Sprintf("b%d", i)})
	}
	renamed(alice, mark, bob, "b1")
	// A line after them on the same link: alice has read all three.
	bob.Say("lobby", "after the burst")
	alice.WaitText("lobby", "after the burst")
	for _, e := range alice.Seen()[mark:] {
		if r, ok := e.(*mmls.PeerRenamed); ok && r.Nick != "b1" {
			t.Fatalf("a second change within the pause was shown: %+v", r)
		}
	}
	l.Clock.Advance(mmls.RenameEvery)
	if r := renamed(alice, mark, bob, "b3"); r.Old != "b1" {
		t.Fatalf("after the pause: %+v", r)
	}
	for _, e := range dave.Seen() {
		if r, ok := e.(*mmls.PeerRenamed); ok && r.Nick == "bobby" {
			t.Fatalf("dave, who met bob as bobby, was told of a change: %+v", r)
		}
	}
}

// TestAttackRenameToAFriend: mallory, in the lobby with alice and carol,
// renames herself "alice": carol shows her with her short id, as any
// look-alike, and is alerted that the nick of someone she shares a room
// with arrived with another key; alice's lines still show as alice's.
func TestAttackRenameToAFriend(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "carol", "mallory")
	alice, carol, mallory := nodes[0], nodes[1], nodes[2]
	mark := carol.Mark()
	mallory.Do(mmls.SetNick{Nick: "alice"})
	r := renamed(carol, mark, mallory, "alice ("+mallory.ID.Short()+")")
	if r.Old != "mallory" {
		t.Fatalf("%+v", r)
	}
	carol.WaitAfter(mark, "an alert", func(e mmls.Event) bool {
		a, ok := e.(*mmls.Alert)
		return ok && a.Kind == mmls.KeyChanged && a.ID == mallory.ID
	})
	alice.Say("lobby", "the real one")
	if m := carol.WaitText("lobby", "the real one"); m.FromID != alice.ID || m.From != "alice ("+alice.ID.Short()+")" {
		t.Fatalf("alice's line shows as %q (%s)", m.From, m.FromID.Short())
	}
	mallory.Say("lobby", "trust me")
	if m := carol.WaitText("lobby", "trust me"); m.From != "alice ("+mallory.ID.Short()+")" {
		t.Fatalf("mallory's line shows as %q", m.From)
	}
}

func TestValidNewNick(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		nick string
		ok   bool
	}{
		{"bobby", true}, {"Zoë", true}, {"b-1_x.y", true},
		{"", false}, {"two words", false}, {"tab\there", false}, {"nbsp\u00a0x", false},
		{strings.Repeat("x", 33), false}, {"bell\a", false},
	} {
		if err := mmls.ValidNewNick(tc.nick); (err == nil) != tc.ok {
			t.Errorf("%q: %v, want ok=%v", tc.nick, err, tc.ok)
		}
	}
}

func away(n *enginetest.Node, mark int, who *enginetest.Node, text string) *mmls.PeerAway {
	return n.WaitAfter(mark, who.Nick+" away: "+text, func(e mmls.Event) bool {
		a, ok := e.(*mmls.PeerAway)
		return ok && a.ID == who.ID && a.Text == text
	}).(*mmls.PeerAway)
}

// TestAway: bob's /away is told at once to those online, in the rooms
// they share, and shows in /who; someone who connects later learns it
// on connecting; /away alone says he is back; a burst of changes shows
// one, then the last after the pause; a bad away frame changes nothing.
func TestAway(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	mark := alice.Mark()
	if got := bob.Do(mmls.SetAway{Text: "  lunch, back at 2  "}).(*mmls.AwayChanged); got.Text != "lunch, back at 2" || got.Detail != "told 1 online" {
		t.Fatalf("answer %+v", got)
	}
	if a := away(alice, mark, bob, "lunch, back at 2"); a.Nick != "bob" || !slices.Equal(a.Rooms, []string{"lobby"}) {
		t.Fatalf("%+v", a)
	}
	who := alice.Do(mmls.Who{Room: "lobby"}).(*mmls.Members)
	if i := slices.IndexFunc(who.Members, func(m mmls.MemberView) bool { return m.ID == bob.ID }); i < 0 || who.Members[i].Away != "lunch, back at 2" {
		t.Fatalf("/who: %+v", who.Members)
	}
	for _, bad := range []mmls.SetAway{{Text: "lunch, back at 2"}, {Text: strings.Repeat("x", mmls.MaxAway+1)}, {Text: "bell\a"}} {
		if _, err := bob.Try(bad); err == nil {
			t.Errorf("%q taken", bad.Text)
		}
	}

	carol := l.Start("carol")
	carol.Do(mmls.Connect{Addr: memnet.Addr("bob")})
	away(carol, 0, bob, "lunch, back at 2")

	l.Clock.Advance(mmls.RenameEvery)
	mark = alice.Mark()
	bob.Do(mmls.SetAway{})
	bob.Do(mmls.SetAway{Text: "meeting"})
	bob.Do(mmls.SetAway{})
	away(alice, mark, bob, "")
	bob.Say("lobby", "after the burst") // on the same link: alice has read all three
	alice.WaitText("lobby", "after the burst")
	for _, e := range alice.Seen()[mark:] {
		if a, ok := e.(*mmls.PeerAway); ok && a.Text == "meeting" {
			t.Fatalf("a second change within the pause was shown: %+v", a)
		}
	}
	if _, err := bob.Try(mmls.SetAway{}); err == nil {
		t.Error("/away when not away was taken")
	}
}

// TestWhoSaysWhoLooksAlike: two members whose nicks look alike are listed
// with their short ids and LookAlike set, so an interface need not parse
// the nick; a member whose nick is its own is not.
func TestWhoSaysWhoLooksAlike(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "BOB", "carol")
	alice := nodes[0]
	for _, n := range nodes[1:] {
		alice.WaitLinked("lobby", n)
	}
	members := alice.Do(mmls.Who{Room: "lobby"}).(*mmls.Members).Members
	if len(members) != 3 {
		t.Fatalf("%d members", len(members))
	}
	for _, m := range members {
		twin := m.ID == nodes[1].ID || m.ID == nodes[2].ID
		if m.LookAlike != twin || twin != strings.HasSuffix(m.Nick, "("+m.ID.Short()+")") {
			t.Errorf("%s: look-alike %v", m.Nick, m.LookAlike)
		}
	}
}
