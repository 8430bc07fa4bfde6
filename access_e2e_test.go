package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// TestE2EWhoIsWho plays issue #21's end to end with real processes:
//   - contact strings: eve dials alice's address with bob's fingerprint
//     and is told someone else answered; with alice's contact string she
//     gets through;
//   - requests: eve and mallory share no room with alice; their direct
//     messages are requests; alice accepts eve's (eve's next line is an
//     ordinary one) and ignores mallory's (her next line never shows);
//   - admins and the rotating secret: alice makes ◆ops with bob and
//     carol; bob, not an admin, cannot remove carol; alice names him an
//     admin and his removal of carol is followed by alice; eve, invited
//     after, joins ◆ops and carol, removed, never learns of her.
func TestE2EWhoIsWho(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := roomIn(t, dir, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	contact := alice.id + "@" + alice.listen

	// Contact strings.
	eve := start(t, "eve", filepath.Join(dir, "eve"), "127.0.0.1:0", "--room", "elsewhere", "--peer", bob.id+"@"+alice.listen)
	eve.waitFor("a wrong key refused", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "unreachable" && strings.Contains(e.Detail, "not the key you gave")
	})
	eve.say("/connect " + contact)
	eve.waitFor("alice online", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "peer" && e.ID == alice.id && e.Status == "online"
	})

	// Requests: /accept and /ignore.
	mallory := start(t, "mallory", filepath.Join(dir, "mallory"), "127.0.0.1:0", "--room", "nowhere", "--peer", contact)
	mallory.waitFor("alice online", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "peer" && e.ID == alice.id && e.Status == "online"
	})
	eve.say("/msg alice hello, can we talk?")
	mallory.say("/msg alice a deal for you")
	for _, who := range []*proc{eve, mallory} {
		alice.waitFor(who.nick+"'s request", 30*time.Second, func(e headless.Record) bool {
			return e.Type == "joined" && e.Request && e.ID == who.id
		})
	}
	alice.say("/accept eve")
	alice.say("/ignore mallory")
	alice.waitFor("mallory ignored", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "ignored" && e.ID == mallory.id
	})
	mallory.say("/msg alice still there?")
	eve.say("/msg alice thanks for accepting")
	alice.waitFor("eve's line after /accept", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.FromID == eve.id && e.Text == "thanks for accepting"
	})

	// Admins and the rotating secret.
	alice.say("/create ops")
	alice.waitFor("ops made", 10*time.Second, func(e headless.Record) bool { return e.Type == "joined" && e.Room == "ops" && e.Private })
	for _, p := range []*proc{bob, carol} {
		alice.say("/switch ops")
		alice.say("/invite " + p.nick)
		p.waitFor("the invitation", 30*time.Second, func(e headless.Record) bool { return e.Type == "invite" && e.Room == "ops" })
		p.say("/accept ops")
		waitLinkIn(t, p, alice, "ops")
		waitLinkIn(t, alice, p, "ops")
	}
	waitLinkIn(t, bob, carol, "ops")
	waitLinkIn(t, carol, bob, "ops")
	bob.say("/switch ops")
	bob.say("/kick carol")
	bob.waitFor("a non-admin's kick refused", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "error" && strings.Contains(e.Error, "admin")
	})
	alice.say("/switch ops")
	alice.say("/admin bob")
	for _, p := range []*proc{alice, bob} {
		p.waitFor("bob an admin", 30*time.Second, func(e headless.Record) bool {
			return e.Type == "admins" && e.Room == "ops" && slices.Contains(e.Admins, "bob")
		})
	}
	bob.say("/kick carol")
	alice.waitFor("alice follows bob's removal of carol", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Room == "ops" && e.ID == carol.id && e.Change == "removed" && e.By == alice.id
	})
	alice.say("/invite eve")
	eve.waitFor("the invitation to ops", 30*time.Second, func(e headless.Record) bool { return e.Type == "invite" && e.Room == "ops" })
	eve.say("/accept ops")
	waitLinkIn(t, eve, alice, "ops")
	waitLinkIn(t, bob, eve, "ops") // bob follows alice's admission of eve
	alice.say("/switch ops")
	alice.say("sentinel after eve joined")
	bob.waitMessages(30*time.Second, "sentinel after eve joined")

	for _, e := range carol.records() {
		if e.Room == "ops" && (e.ID == eve.id || e.FromID == eve.id) {
			t.Errorf("carol, removed, learned of eve in ops: %+v", e)
		}
		if e.Type == "message" && e.Text == "sentinel after eve joined" {
			t.Errorf("carol, removed, read a line of ops: %+v", e)
		}
	}
	for _, e := range alice.records() {
		if e.Type == "message" && e.FromID == mallory.id && e.Text == "still there?" {
			t.Errorf("an ignored stranger's line was shown: %+v", e)
		}
	}
}

// records returns p's events so far.
func (p *proc) records() []headless.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}
