package mmls_test

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

func joined(n *enginetest.Node, room string) *mmls.Joined {
	return n.WaitFor("joined "+room, func(e mmls.Event) bool {
		j, ok := e.(*mmls.Joined)
		return ok && j.Room == room
	}).(*mmls.Joined)
}

// TestPrivateRoomAndInvitation: alice makes a private room and invites
// bob; carol, on the same network and typing /join with the same name,
// gets an open room that shares nothing with it. Later bob invites carol;
// alice admits her because bob's commit added her.
func TestPrivateRoomAndInvitation(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	alice.Do(mmls.Create{Room: "plans"})
	if !joined(alice, "plans").Private {
		t.Fatal("/create made an open room")
	}
	alice.Do(mmls.Invite{Room: "plans", Who: "bob"})
	inv := bob.WaitFor("the invitation", func(e mmls.Event) bool {
		i, ok := e.(*mmls.InviteReceived)
		return ok && i.Room == "plans"
	}).(*mmls.InviteReceived)
	if !inv.Private || inv.FromID != alice.ID {
		t.Fatalf("invitation %+v", inv)
	}
	carol.Do(mmls.Join{Room: "plans"})
	if joined(carol, "plans").Private {
		t.Fatal("carol got into a private room by its name")
	}
	// An invitation changes nothing of what /join means: bob accepts it
	// explicitly.
	bob.Do(mmls.Accept{Room: "plans"})
	if !joined(bob, "plans").Private {
		t.Fatal("bob's accepted invitation made an open room")
	}
	bob.WaitLinked("plans", alice)
	alice.WaitLinked("plans", bob)
	id := alice.Say("plans", "the budget is 4.2M, keep it quiet")
	bob.WaitText("plans", "the budget is 4.2M, keep it quiet")
	alice.WaitDelivered(id, bob)
	carol.Say("plans", "anyone in plans?")
	alice.Say("lobby", "sentinel")
	carol.WaitText("lobby", "sentinel")
	if carol.Texts("plans")["the budget is 4.2M, keep it quiet"] != 0 || alice.Texts("plans")["anyone in plans?"] != 0 {
		t.Fatal("the open room and the private room of one name shared a message")
	}

	// bob invites carol, who leaves her open "plans" to accept.
	bob.Do(mmls.Invite{Room: "plans", Who: "carol"})
	carol.WaitFor("bob's invitation", func(e mmls.Event) bool {
		i, ok := e.(*mmls.InviteReceived)
		return ok && i.Room == "plans" && i.Private
	})
	if _, err := carol.Try(mmls.Accept{Room: "plans"}); !errors.Is(err, mmls.ErrBadName) {
		t.Fatalf("accepting while in the open room of that name: %v", err)
	}
	carol.Do(mmls.Leave{Room: "plans"})
	carol.Do(mmls.Accept{Room: "plans"})
	carol.WaitLinked("plans", bob)
	carol.WaitLinked("plans", alice) // alice admitted her on bob's word
	alice.Say("plans", "welcome carol")
	carol.WaitText("plans", "welcome carol")
}

// TestInvitationOutlivesRestart: alice invites bob to her private room
// and restarts before he accepts; her word for him is kept, so she admits
// him when he comes.
func TestInvitationOutlivesRestart(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.Do(mmls.Create{Room: "plans"})
	alice.Do(mmls.Invite{Room: "plans", Who: "bob"})
	bob.WaitFor("the invitation", func(e mmls.Event) bool { _, ok := e.(*mmls.InviteReceived); return ok })
	alice.Stop()
	alice = l.Start("alice")
	bob.WaitLinked("lobby", alice)
	bob.Do(mmls.Accept{Room: "plans"})
	alice.WaitLinked("plans", bob)
	bob.WaitLinked("plans", alice)
	alice.Say("plans", "still invited")
	bob.WaitText("plans", "still invited")
}

// TestSecretWithoutInvitation: mallory somehow holds the private room's
// secret (so she can address it) but nobody invited her: the members see
// her tag and hear her hello, and admit her nowhere.
func TestSecretWithoutInvitation(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "mallory")
	alice, bob, mallory := nodes[0], nodes[1], nodes[2]
	alice.Do(mmls.Create{Room: "plans"})
	alice.Do(mmls.Invite{Room: "plans", Who: "bob"})
	bob.WaitFor("the invitation", func(e mmls.Event) bool { _, ok := e.(*mmls.InviteReceived); return ok })
	bob.Do(mmls.Accept{Room: "plans"})
	alice.WaitLinked("plans", bob)
	var secret []byte
	rooms, err := alice.Store().Rooms()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.Name == "plans" {
			secret = r.Secret
		}
	}
	mallory.Stop()
	st, err := store.Open(l.Dir("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.JoinRoom(store.Room{Name: "plans", Private: true, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	mallory = l.Start("mallory")
	bob.WaitLinked("lobby", mallory) // she is back, and says hello in plans too
	alice.Say("plans", "members only")
	bob.WaitText("plans", "members only")
	alice.Say("lobby", "sentinel")
	mallory.WaitText("lobby", "sentinel")
	for _, n := range []*enginetest.Node{alice, bob} {
		for _, m := range n.Do(mmls.Who{Room: "plans"}).(*mmls.Members).Members {
			if m.ID == mallory.ID && (m.WeReach || m.TheyReach) {
				t.Fatalf("%s linked with mallory in plans: %+v", n.Nick, m)
			}
		}
	}
	if mallory.Texts("plans")["members only"] != 0 {
		t.Fatal("mallory read the private room")
	}
}

// TestStrangerLearnsNoRoomIDs: mallory, connected to alice, is shown none
// of the ids of alice's rooms she is not in: not an open room's (so it
// still takes the name to join it), not a private room's, not the direct
// room's alice has with bob. Knowing the name, she joins the open room.
func TestStrangerLearnsNoRoomIDs(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	var mu sync.Mutex
	var toMallory [][]byte
	nodes := l.Room("alice", "bob", "mallory")
	alice, bob, mallory := nodes[0], nodes[1], nodes[2]
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		if f.From == alice.ID && f.To == mallory.ID {
			mu.Lock()
			toMallory = append(toMallory, f.Payload)
			mu.Unlock()
		}
		return memnet.Verdict{}
	})
	const open = "invite-only-7Qx9-budget-talks"
	alice.Do(mmls.Join{Room: open})
	alice.Do(mmls.Create{Room: "plans"})
	alice.Do(mmls.Direct{To: "bob", Text: "psst"})
	bob.WaitFor("alice's direct message", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.FromID == alice.ID && m.Text == "psst"
	})
	alice.Say("lobby", "sentinel")
	mallory.WaitText("lobby", "sentinel")
	rooms, err := alice.Store().Rooms()
	if err != nil {
		t.Fatal(err)
	}
	hidden := map[string][]byte{}
	for _, r := range rooms {
		switch {
		case r.Private:
			id := dmls.PrivateRoomID(r.Secret)
			hidden[r.Name] = id[:]
		case r.Name != "lobby":
			id := dmls.RoomIDOf(r.Name)
			hidden[r.Name] = id[:]
		}
	}
	if len(hidden) != 3 {
		t.Fatalf("alice's rooms: %+v", rooms)
	}
	mu.Lock()
	frames := toMallory
	mu.Unlock()
	if len(frames) == 0 {
		t.Fatal("nothing went from alice to mallory")
	}
	for name, id := range hidden {
		for _, f := range frames {
			if bytes.Contains(f, id) {
				t.Fatalf("mallory was sent the id of %s", name)
			}
		}
	}
	mallory.Do(mmls.Join{Room: open})
	mallory.WaitLinked(open, alice)
}

// TestAttackInvitations: a second invitation to a name never replaces the
// first, and an invitation never changes what /join means. mallory
// invites bob to a private "dev" ahead of time and to her own "ops"
// after alice's: /join dev gets the open room; /accept ops asks whose,
// and /accept ops alice gets alice's.
func TestAttackInvitations(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "mallory")
	alice, bob, mallory := nodes[0], nodes[1], nodes[2]
	invited := func(room string, from *enginetest.Node) {
		bob.WaitFor(from.Nick+"'s invitation to "+room, func(e mmls.Event) bool {
			i, ok := e.(*mmls.InviteReceived)
			return ok && i.Room == room && i.FromID == from.ID && i.Private
		})
	}
	mallory.Do(mmls.Create{Room: "dev"})
	mallory.Do(mmls.Invite{Room: "dev", Who: "bob"})
	invited("dev", mallory)
	bob.Do(mmls.Join{Room: "dev"})
	if joined(bob, "dev").Private {
		t.Fatal("/join dev landed in mallory's private room")
	}

	alice.Do(mmls.Create{Room: "ops"})
	alice.Do(mmls.Invite{Room: "ops", Who: "bob"})
	invited("ops", alice)
	mallory.Do(mmls.Create{Room: "ops"})
	mallory.Do(mmls.Invite{Room: "ops", Who: "bob"})
	invited("ops", mallory)
	if _, err := bob.Try(mmls.Accept{Room: "ops"}); !errors.Is(err, mmls.ErrAmbiguous) {
		t.Fatalf("accepting one of two invitations to ops without saying whose: %v", err)
	}
	bob.Do(mmls.Accept{Room: "ops", From: "alice"})
	bob.WaitLinked("ops", alice)
	id := alice.Say("ops", "only for alice's room")
	bob.WaitText("ops", "only for alice's room")
	alice.WaitDelivered(id, bob)
}

// TestRoomsOfOneNameAreApart: alice and carol talk in the private room
// ◆secret; alice removes carol, and both leave it. In the open room
// #secret, which both join next, neither sees a private line (history or
// search) and the removal does not follow carol there.
func TestRoomsOfOneNameAreApart(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "carol")
	alice, carol := nodes[0], nodes[1]
	privateWith(alice, carol, "secret")
	alice.Say("secret", "the private plan")
	carol.WaitText("secret", "the private plan")
	alice.Do(mmls.Kick{Room: "secret", Who: "carol"})
	alice.Do(mmls.Leave{Room: "secret"})
	carol.Do(mmls.Leave{Room: "secret"})

	marks := map[*enginetest.Node]int{}
	for _, n := range []*enginetest.Node{alice, carol} {
		mark := n.Mark()
		marks[n] = mark
		n.Do(mmls.Join{Room: "secret"})
		j := n.WaitAfter(mark, "joined #secret", func(e mmls.Event) bool {
			j, ok := e.(*mmls.Joined)
			return ok && j.Room == "secret"
		}).(*mmls.Joined)
		if j.Private {
			t.Fatalf("%s: /join secret joined a private room", n.Nick)
		}
		for _, e := range n.Seen()[mark:] {
			if h, ok := e.(*mmls.History); ok && h.Room == "secret" && len(h.Lines) > 0 {
				t.Fatalf("%s: the open #secret shows %d lines of ◆secret: %+v", n.Nick, len(h.Lines), h.Lines)
			}
		}
		if f := n.Do(mmls.Search{Room: "secret", Text: "plan"}).(*mmls.Found); f.Total != 0 {
			t.Fatalf("%s: /search in #secret finds ◆secret's lines: %+v", n.Nick, f.Lines)
		}
	}
	// Each gives the other a place in its group: the removal stayed in
	// ◆secret.
	linkedAfter(marks, "secret", alice, carol)
	alice.Say("secret", "an open hello")
	carol.WaitText("secret", "an open hello")
	carol.Say("secret", "carol is welcome here")
	alice.WaitText("secret", "carol is welcome here")
}

// TestReceiptsStayWithTheirRoom: alice leaves ◆secret with a line carol
// has not acknowledged; in the open #secret that both join next, the
// numbers of carol's receipts start again from 1, and they speak of the
// open room's lines only: the private line still waits for carol, kept
// with ◆secret.
func TestReceiptsStayWithTheirRoom(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "carol")
	alice, carol := nodes[0], nodes[1]
	privateWith(alice, carol, "secret")
	alice.WaitDelivered(alice.Say("secret", "private 1"), carol)
	carol.Stop()
	waiting := alice.Say("secret", "private 2")
	alice.Do(mmls.Leave{Room: "secret"})
	l.Clock.Advance(10 * time.Second) // a restart takes time
	carol = l.Start("carol")
	carol.Do(mmls.Leave{Room: "secret"})
	marks := map[*enginetest.Node]int{alice: alice.Mark(), carol: carol.Mark()}
	alice.Do(mmls.Join{Room: "secret"})
	carol.Do(mmls.Join{Room: "secret"})
	linkedAfter(marks, "secret", alice, carol)
	alice.WaitDelivered(alice.Say("secret", "open 1"), carol)
	alice.WaitDelivered(alice.Say("secret", "open 2"), carol)
	out, err := alice.Store().Outbox()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.ID == waiting {
			if o.Room == "secret" || !slices.Contains(o.Pending(), carol.ID.String()) {
				t.Fatalf("the private line is kept as %q, waiting for %q", o.Room, o.Pending())
			}
			return
		}
	}
	t.Fatal("carol's receipts in #secret acknowledged ◆secret's line")
}

// TestRejoinedRoomKeepsItsWaitingLines: alice leaves #dev with a line
// carol has not acknowledged and joins it again; when carol comes, the
// line reaches her and alice sees it delivered.
func TestRejoinedRoomKeepsItsWaitingLines(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "carol")
	alice, carol := nodes[0], nodes[1]
	alice.Do(mmls.Join{Room: "dev"})
	carol.Do(mmls.Join{Room: "dev"})
	alice.WaitLinked("dev", carol)
	carol.WaitLinked("dev", alice)
	carol.Stop()
	id := alice.Say("dev", "while carol is away")
	alice.Do(mmls.Leave{Room: "dev"})
	alice.Do(mmls.Join{Room: "dev"})
	l.Clock.Advance(10 * time.Second) // a restart takes time
	carol = l.Start("carol")
	carol.WaitText("dev", "while carol is away")
	alice.WaitDelivered(id, carol)
}

// privateWith: a makes the private room name and invites b, who accepts;
// it returns once each has a place in the other's group.
func privateWith(a, b *enginetest.Node, name string) {
	a.Do(mmls.Create{Room: name})
	a.Do(mmls.Invite{Room: name, Who: b.Nick})
	b.WaitFor("the invitation to "+name, func(e mmls.Event) bool {
		i, ok := e.(*mmls.InviteReceived)
		return ok && i.Room == name
	})
	b.Do(mmls.Accept{Room: name})
	b.WaitLinked(name, a)
	a.WaitLinked(name, b)
}

// linkedAfter waits, counting each node's events from its mark, until a
// and b each have a place in the other's group in room (a room of a name
// that had others before).
func linkedAfter(marks map[*enginetest.Node]int, room string, a, b *enginetest.Node) {
	for _, p := range [][2]*enginetest.Node{{a, b}, {b, a}} {
		n, by := p[0], p[1]
		n.WaitAfter(marks[n], "a place in "+by.Nick+"'s group in "+room, func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.Room == room && m.ID == n.ID && m.By == by.ID && m.Change == mmls.ChangeAdded
		})
	}
}
