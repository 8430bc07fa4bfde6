package mmls_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

// strangers starts bob and two strangers to him (connected, sharing no
// room with him).
func strangers(t *testing.T, l *enginetest.LAN) (bob, mallory, eve *enginetest.Node) {
	t.Helper()
	nodes := l.Room("bob", "mallory", "eve")
	bob, mallory, eve = nodes[0], nodes[1], nodes[2]
	for _, s := range []*enginetest.Node{mallory, eve} {
		s.Do(mmls.Leave{Room: "lobby"})
		s.Do(mmls.Join{Room: "elsewhere"})
	}
	// Their announcements say it: a line in bob's lobby orders after
	// them (one ordered link each), and shows nothing to them.
	return bob, mallory, eve
}

func request(n *enginetest.Node, from *enginetest.Node) *mmls.Joined {
	return n.WaitFor("the request of "+from.Nick, func(e mmls.Event) bool {
		j, ok := e.(*mmls.Joined)
		return ok && j.With == from.ID
	}).(*mmls.Joined)
}

// TestAttackStrangerDirectMessages: a stranger's direct room is a
// request: what it sends is kept within a small bound (the rest refused,
// said once), its files are never saved on their own, until bob accepts
// it, and then what he refused comes; bob ignores another stranger, whose
// direct room is refused from then on, across a restart.
func TestAttackStrangerDirectMessages(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	bob, mallory, eve := strangers(t, l)
	if _, err := bob.Try(mmls.Join{Room: "@mallory"}); !errors.Is(err, mmls.ErrBadName) {
		t.Fatalf("/join @mallory made an open room called @mallory: %v", err)
	}
	bob.Do(mmls.SetAutoSave{Limit: 1 << 20})
	mallory.Say("elsewhere", "ordering mark") // after her announcement, before her /msg
	mallory.Do(mmls.Direct{To: "bob", Text: "hi, a deal for you"})
	j := request(bob, mallory)
	if !j.Request {
		t.Fatal("a stranger's direct room is not a request")
	}
	dm := j.Room
	bob.WaitText(dm, "hi, a deal for you")

	// 8 lines of 60 KB (the review sent 60; the bound is in bytes): what
	// passes the request's bound is refused.
	big := strings.Repeat("x", 60<<10)
	const flood = 8
	for range flood {
		mallory.Do(mmls.Say{Room: dm, Text: big})
	}
	bob.WaitFor("word that mallory is past her quota", func(e mmls.Event) bool {
		r, ok := e.(*mmls.Refused)
		return ok && r.Room == dm && r.ID == mallory.ID
	})
	if n := bob.Texts(dm)[big]; n > 1 {
		t.Fatalf("bob kept %d of mallory's 60 KB lines in her request", n)
	}
	// A file offered in a request is not saved on its own.
	path := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(path, []byte("not really a pdf"), 0o600); err != nil {
		t.Fatal(err)
	}
	mallory.Do(mmls.SendFile{Room: dm, Path: path})
	bob.WaitFor("the offer", func(e mmls.Event) bool {
		f, ok := e.(*mmls.FileOffered)
		return ok && f.Room == dm && f.FromID == mallory.ID
	})
	for _, e := range bob.Seen() {
		if s, ok := e.(*mmls.FileSaving); ok {
			t.Fatalf("a file offered in a request was saved on its own: %+v", s)
		}
	}

	// bob accepts: mallory is an ordinary partner now.
	bob.Do(mmls.Accept{Room: "mallory"})
	mallory.Say(dm, "thanks for accepting")
	bob.WaitText(dm, "thanks for accepting")

	// eve is ignored: her request goes, and so does any later one.
	eve.Say("elsewhere", "ordering mark")
	eve.Do(mmls.Direct{To: "bob", Text: "me too"})
	request(bob, eve)
	bob.Do(mmls.Ignore{Who: "eve"})
	bob.Stop()
	bob = l.Start("bob")
	mark := bob.Mark()
	eve.Do(mmls.Direct{To: "bob", Text: "still there?"})
	mallory.Do(mmls.Direct{To: "bob", Text: "sentinel"}) // accepted: it comes
	bob.WaitText(dm, "sentinel")
	// What bob refused in her request was never acknowledged: now that he
	// accepted her it comes, re-sent in order before the sentinel.
	if n := bob.Texts(dm)[big]; n != flood-1 {
		t.Fatalf("after accepting mallory bob got %d of the %d lines he refused in her request", n, flood-1)
	}
	for _, e := range bob.Seen()[mark:] {
		if j, ok := e.(*mmls.Joined); ok && j.With == eve.ID {
			t.Fatal("an ignored stranger opened a direct room again")
		}
	}
}

// TestAttackFreshIDsFillTheRoom: throwaway ids fill alice's room (4
// places here, 100 by default); a fifth waits, and is told; carol, whom
// alice shares another room with, gets a place: the throwaway that came
// last leaves it to her (a departure nobody follows).
func TestAttackFreshIDsFillTheRoom(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	l.Configure = func(nick string, c *mmls.Config) {
		if nick == "alice" {
			c.RoomSize = 4
		}
		if nick == "carol" {
			c.Room = "ops"
		}
	}
	alice := l.Start("alice")
	alice.Do(mmls.Join{Room: "ops"})
	var flood []*enginetest.Node
	for i := range 4 {
		n := l.Start(fmt.Sprint("throwaway", i))
		n.Do(mmls.Connect{Addr: memnet.Addr("alice")})
		alice.WaitFor("a place for "+n.Nick, func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.Room == "lobby" && m.ID == n.ID && m.By == alice.ID && m.Change == mmls.ChangeAdded
		})
		flood = append(flood, n)
	}
	late := l.Start("throwaway4")
	late.Do(mmls.Connect{Addr: memnet.Addr("alice")})
	alice.WaitFor("word that the fifth waits", func(e mmls.Event) bool {
		f, ok := e.(*mmls.RoomFull)
		return ok && f.Room == "lobby" && f.ID == late.ID && !f.MadeRoom
	})
	carol := l.Start("carol")
	carol.Do(mmls.Connect{Addr: memnet.Addr("alice")})
	carol.WaitLinked("ops", alice)
	carol.Do(mmls.Join{Room: "lobby"})
	carol.WaitLinked("lobby", alice)
	made := alice.WaitFor("a throwaway makes room", func(e mmls.Event) bool {
		f, ok := e.(*mmls.RoomFull)
		return ok && f.Room == "lobby" && f.MadeRoom
	}).(*mmls.RoomFull)
	if made.ID == carol.ID || made.ID == late.ID {
		t.Fatalf("%s made room", made.Nick)
	}
	members := 0
	for _, m := range alice.Do(mmls.Who{Room: "lobby"}).(*mmls.Members).Members {
		if m.WeReach {
			members++
		}
	}
	if members != 4 {
		t.Fatalf("alice's group holds %d members, its size is 4", members)
	}
}
