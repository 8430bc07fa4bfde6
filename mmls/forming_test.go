package mmls_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

// sentText waits for the Sent event of text.
func sentText(n *enginetest.Node, text string) *mmls.Sent {
	return n.WaitFor("sent "+text, func(e mmls.Event) bool {
		s, ok := e.(*mmls.Sent)
		return ok && s.Text == text
	}).(*mmls.Sent)
}

// TestLineTypedWhileRoomForms: bob joins a room alice is in and types at
// once, before alice's answers (her KeyPackage, her Welcome) are back. The
// line is addressed to alice, said to wait, and reaches her once she is in
// bob's group; it was sent to nobody (and never delivered) in some runs.
func TestLineTypedWhileRoomForms(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.Do(mmls.Join{Room: "dev"})
	// alice's announcement of dev reaches bob before her next frame.
	alice.Say("lobby", "I am in dev now")
	bob.WaitText("lobby", "I am in dev now")
	// Hold what alice sends bob, so bob's line goes before the room forms.
	l.Hub.SetFault(func(f memnet.Frame) memnet.Verdict {
		if f.From == alice.ID && f.To == bob.ID {
			return memnet.Verdict{Delay: 300 * time.Millisecond}
		}
		return memnet.Verdict{}
	})
	bob.Do(mmls.Join{Room: "dev"})
	bob.Do(mmls.Say{Room: "dev", Text: "first line in dev"})
	sent := sentText(bob, "first line in dev")
	if sent.Recipients != 1 || sent.Waiting != 1 {
		t.Fatalf("a line typed while dev forms: %d recipients, %d waiting; want 1, 1", sent.Recipients, sent.Waiting)
	}
	l.Hub.SetFault(nil)
	alice.WaitText("dev", "first line in dev")
	bob.WaitDelivered(sent.MsgID, alice)
}

// TestDirectMessageReopensClosedConversation: bob closes his direct room
// with alice; alice's next /msg opens it again on his side, as an IRC
// query does, and reaches him, whether he is online or comes back later.
func TestDirectMessageReopensClosedConversation(t *testing.T) {
	t.Parallel()
	for _, offline := range []bool{false, true} {
		name := map[bool]string{false: "online", true: "back later"}[offline]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			l := enginetest.NewLAN(t)
			nodes := l.Room("alice", "bob")
			alice, bob := nodes[0], nodes[1]
			alice.Do(mmls.Direct{To: "bob", Text: "hello bob"})
			dm := alice.DirectRoom(bob) // the same name on both sides
			bob.WaitText(dm, "hello bob")
			mark := alice.Mark()
			bob.Do(mmls.Leave{Room: dm})
			alice.WaitAfter(mark, "bob out of alice's direct group", func(e mmls.Event) bool {
				m, ok := e.(*mmls.MemberChanged)
				return ok && m.Room == dm && m.ID == bob.ID && m.By == alice.ID && m.Change == mmls.ChangeRemoved
			})
			if offline {
				bob.Stop()
			}
			alice.Do(mmls.Direct{To: "bob", Text: "are you still there?"})
			sent := sentText(alice, "are you still there?")
			if sent.Recipients != 1 || sent.Waiting != 1 {
				t.Fatalf("a line to a closed conversation: %d recipients, %d waiting; want 1, 1", sent.Recipients, sent.Waiting)
			}
			if offline {
				bob = l.Start("bob")
			}
			got := bob.WaitText(dm, "are you still there?")
			if !bytes.Equal(got.FromID[:], alice.ID[:]) {
				t.Fatalf("from %s", got.FromID.Short())
			}
			bob.WaitFor("the conversation open again", func(e mmls.Event) bool {
				j, ok := e.(*mmls.Joined)
				return ok && j.Room == dm
			})
			alice.WaitDelivered(sent.MsgID, bob)
		})
	}
}
