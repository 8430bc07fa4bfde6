package mmls_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// privateRoom has creator make room and invite the others, and waits
// until everyone is linked with everyone in it.
func privateRoom(t *testing.T, l *enginetest.LAN, room string, creator *enginetest.Node, others ...*enginetest.Node) {
	t.Helper()
	creator.Do(mmls.Create{Room: room})
	for _, o := range others {
		creator.Do(mmls.Invite{Room: room, Who: o.Nick})
		o.WaitFor("the invitation to "+room, func(e mmls.Event) bool {
			i, ok := e.(*mmls.InviteReceived)
			return ok && i.Room == room && i.Private
		})
		o.Do(mmls.Accept{Room: room})
	}
	l.WaitRoom(room, append([]*enginetest.Node{creator}, others...))
}

// storedRoom reads a participant's stored record of room (it must be
// stopped).
func storedRoom(t *testing.T, l *enginetest.LAN, nick, room string) store.Room {
	t.Helper()
	st, err := store.Open(l.Dir(nick))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rooms, err := st.Rooms()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rooms {
		if r.Name == room {
			return r
		}
	}
	t.Fatalf("%s is not in %s", nick, room)
	return store.Room{}
}

func removed(n *enginetest.Node, room string, who, by mmls.ID) func(mmls.Event) bool {
	return func(e mmls.Event) bool {
		m, ok := e.(*mmls.MemberChanged)
		return ok && m.Room == room && m.ID == who && m.By == by && m.Change == mmls.ChangeRemoved
	}
}

// TestPrivateRoomPowers: in a private room only its admins remove people
// for everyone. A member that is not one cannot kick; one that forged
// roles naming itself admin kicks from its own group and nobody follows;
// the creator names an admin, whose kick everyone follows; another
// admin's /unkick is followed as the kick was; and at the kick the
// members left get a fresh tag secret.
func TestPrivateRoomPowers(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol", "dave", "mallory")
	alice, bob, carol, dave, mallory := nodes[0], nodes[1], nodes[2], nodes[3], nodes[4]
	privateRoom(t, l, "ops", alice, bob, carol, dave, mallory)

	if _, err := bob.Try(mmls.Kick{Room: "ops", Who: "carol"}); !errors.Is(err, mmls.ErrNotAllowed) {
		t.Fatalf("bob, not an admin, kicks: %v", err)
	}

	// mallory forges roles that make her the room's creator, and kicks
	// carol from her own group: nobody follows.
	mallory.Stop()
	forge := storedRoom(t, l, "mallory", "ops")
	forged := &dmls.Roles{Room: dmls.PrivateRoomID(forge.Secret), Version: 99}
	id, err := dmls.IdentityFromSeed(seedOf(t, l, "mallory"), "mallory")
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Sign(id); err != nil {
		t.Fatal(err)
	}
	raw, err := forged.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(l.Dir("mallory"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPowers("ops", raw, nil, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	others := []*enginetest.Node{alice, bob, carol, dave}
	marks := map[*enginetest.Node]int{}
	for _, n := range others {
		marks[n] = n.Mark()
	}
	mallory = l.Start("mallory")
	for _, n := range others {
		n.WaitAfter(marks[n], "a place in mallory's new group", func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.Room == "ops" && m.ID == n.ID && m.By == mallory.ID && m.Change == mmls.ChangeAdded
		})
	}
	mallory.Do(mmls.Kick{Room: "ops", Who: "carol"})
	for _, n := range []*enginetest.Node{alice, dave} {
		n.WaitFor("mallory's kick not followed", func(e mmls.Event) bool {
			ri, ok := e.(*mmls.RemovalIgnored)
			return ok && ri.Room == "ops" && ri.ID == carol.ID && ri.By == mallory.ID
		})
	}

	// alice names bob an admin; his kick of carol is followed.
	if ev := alice.Do(mmls.SetAdmin{Room: "ops", Who: "bob"}); len(ev.(*mmls.AdminsChanged).Admins) != 2 {
		t.Fatalf("admins: %+v", ev)
	}
	for _, n := range []*enginetest.Node{bob, dave} {
		n.WaitFor("told that bob is an admin", func(e mmls.Event) bool {
			a, ok := e.(*mmls.AdminsChanged)
			return ok && a.Room == "ops" && slices.Contains(a.Admins, "bob")
		})
	}
	eventually(t, "bob's engine knows he is an admin", func() bool {
		_, err := bob.Try(mmls.Kick{Room: "ops", Who: "carol"})
		return err == nil
	})
	alice.WaitFor("alice follows bob's kick", removed(alice, "ops", carol.ID, alice.ID))
	dave.WaitFor("dave follows bob's kick", removed(dave, "ops", carol.ID, dave.ID))

	// The members left have a fresh tag secret, from bob; carol has not.
	alice.Say("ops", "sentinel after the kick")
	dave.WaitText("ops", "sentinel after the kick")
	dave.Stop()
	if r := storedRoom(t, l, "dave", "ops"); r.Update == nil {
		t.Fatal("dave has no fresh secret after the kick")
	} else if u, err := dmls.UnmarshalSecretUpdate(r.Update); err != nil || u.AdminID() != bob.ID {
		t.Fatalf("dave's secret update: %v", err)
	}
	carol.Stop()
	if r := storedRoom(t, l, "carol", "ops"); r.Update != nil {
		t.Fatal("carol, removed, was given the fresh secret")
	}
	carol = l.Start("carol")
	aliceMark := alice.Mark()
	dave = l.Start("dave")
	// (A member must be in the admin's group to follow what it does.)
	alice.WaitAfter(aliceMark, "dave back in alice's group", func(e mmls.Event) bool {
		m, ok := e.(*mmls.MemberChanged)
		return ok && m.Room == "ops" && m.ID == dave.ID && m.By == alice.ID && (m.Change == mmls.ChangeAdded || m.Change == mmls.ChangeRejoined)
	})
	dave.WaitLinked("ops", alice)

	// alice, another admin, takes bob's kick back: dave follows.
	mark := dave.Mark()
	alice.Do(mmls.Unkick{Room: "ops", Who: "carol"})
	dave.WaitAfter(mark, "dave lifts the kick alice took back", func(e mmls.Event) bool {
		k, ok := e.(*mmls.KickLifted)
		return ok && k.Room == "ops" && k.ID == carol.ID && k.By == alice.ID
	})
}

// seedOf reads the identity seed of a stopped participant.
func seedOf(t *testing.T, l *enginetest.LAN, nick string) []byte {
	t.Helper()
	st, err := store.Open(l.Dir(nick))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	id, err := st.Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Seed
}
