package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// sentID waits for the sent event of text and returns its id.
func (p *proc) sentID(text string) string {
	p.t.Helper()
	return p.waitFor("sent "+text, 20*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == text }).ID
}

// handedOn checks that p read each text once, from author, handed on by
// via.
func handedOn(t *testing.T, p, author, via *proc, texts ...string) {
	t.Helper()
	p.waitMessages(60*time.Second, texts...)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, text := range texts {
		n := 0
		for _, e := range p.events {
			if e.Type != "message" || e.Text != text {
				continue
			}
			n++
			if e.FromID != author.id || e.From != author.nick || e.Via != via.id {
				t.Errorf("%s read %q from %s (%.8s) via %.8s; want from %s via %s", p.nick, text, e.From, e.FromID, e.Via, author.nick, via.nick)
			}
		}
		if n != 1 {
			t.Errorf("%s read %q %d times", p.nick, text, n)
		}
	}
}

// TestE2EMembersHandOn: alice, bob and carol share the lobby; bob quits;
// alice writes five lines, which carol receives; alice quits; bob starts
// again and meets only carol, who hands alice's lines on: bob reads each
// once, as alice's. What bob writes while alice is away reaches her when
// she is back, and her lines show as stored by bob.
func TestE2EMembersHandOn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := roomIn(t, dir, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.quit()
	var lines, ids []string
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("line %d while bob is away", i)
		alice.say(text)
		lines, ids = append(lines, text), append(ids, alice.sentID(text))
	}
	carol.waitMessages(30*time.Second, lines...)
	alice.quit()

	bob = start(t, "bob", filepath.Join(dir, "bob"), "127.0.0.1:0")
	handedOn(t, bob, alice, carol, lines...)
	bob.say("bob writes while alice is away")
	carol.waitMessages(30*time.Second, "bob writes while alice is away")

	alice = start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	alice.waitMessages(60*time.Second, "bob writes while alice is away")
	if n := alice.messages()["bob writes while alice is away"]; n != 1 {
		t.Fatalf("alice read bob's line %d times", n)
	}
	for _, id := range ids {
		alice.waitFor("bob stored "+id, 60*time.Second, func(e headless.Record) bool {
			return e.Type == "delivered" && e.ID == id && e.ToID == bob.id
		})
	}
}

// TestE2EBridgeChanges: a room of four where the bridge changes. Lines
// 1-3 are written while only carol is there to hold them, lines 4-6 when
// only dave is (he joined after 1-3, which were not his); bob, away for
// all six, meets dave first, then carol: each hands on what it holds, and
// bob reads the six once each.
func TestE2EBridgeChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := roomIn(t, dir, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.quit()
	var early, late []string
	for i := 1; i <= 3; i++ {
		early = append(early, fmt.Sprintf("line %d, carol holds it", i))
		alice.say(early[i-1])
		alice.sentID(early[i-1])
	}
	carol.waitMessages(30*time.Second, early...)
	dave := start(t, "dave", filepath.Join(dir, "dave"), "127.0.0.1:0", "--peer", alice.listen)
	waitLink(t, dave, alice)
	waitLink(t, alice, dave)
	carol.quit()
	for i := 4; i <= 6; i++ {
		late = append(late, fmt.Sprintf("line %d, dave holds it", i))
		alice.say(late[i-4])
		alice.sentID(late[i-4])
	}
	dave.waitMessages(30*time.Second, late...)
	alice.quit()

	bob = start(t, "bob", filepath.Join(dir, "bob"), "127.0.0.1:0", "--peer", dave.listen)
	handedOn(t, bob, alice, dave, late...)
	dave.quit()
	carol = start(t, "carol", filepath.Join(dir, "carol"), "127.0.0.1:0", "--peer", bob.listen)
	handedOn(t, bob, alice, carol, early...)
	handedOn(t, bob, alice, dave, late...) // still once each
}
