package dmls

import (
	"fmt"
	"testing"
	"time"
)

// TestLeavesRotateWhateverTheTraffic runs three members over simulated
// days with a seeded clock ticking every ten minutes and an update
// interval of an hour: bob talks three times a tick (so his own send group
// rekeys every tick, which used to starve his Updates elsewhere), alice
// once every six hours, carol never. After every tick, every member's leaf
// in every group it receives in has rotated within the interval (plus the
// tick that notices and the tick that commits), the owner sees the same
// from its side, and no member holds an Update secret beyond the one
// proposal of the current epoch.
func TestLeavesRotateWhateverTheTraffic(t *testing.T) {
	t.Parallel()
	days, step := 2, 10*time.Minute
	if testing.Short() {
		days = 1
	}
	cfg := Config{UpdateEvery: 3, UpdateInterval: time.Hour}
	n := newSimNet(t, 41, cfg, "alice", "bob", "carol")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	limit := cfg.UpdateInterval + 2*step
	ticks := days * int(24*time.Hour/step)
	for tick := 1; tick <= ticks; tick++ {
		n.clk.t = n.clk.t.Add(step)
		for i := 0; i < 3; i++ {
			n.send(bob, fmt.Sprint("b", tick, i))
		}
		if tick%36 == 0 {
			n.send(alice, fmt.Sprint("a", tick))
		}
		n.flush()
		n.tickAll()
		n.flush()
		now := n.clk.Now()
		for _, node := range n.nodes {
			for _, owner := range node.s.owners() {
				rg := node.s.byOwner[owner]
				if age := now.Sub(rg.rotated); age > limit {
					t.Fatalf("tick %d: %s's leaf in %s's group last rotated %v ago", tick, node.name, n.byFP[owner].name, age)
				}
				held := rg.cur.UpdateSecrets()
				if held > 1 || held == 1 && rg.proposedAt != rg.cur.Epoch()+1 {
					t.Fatalf("tick %d: %s holds %d Update secrets in %s's group (proposed for epoch %d, group at %d)",
						tick, node.name, held, n.byFP[owner].name, rg.proposedAt-1, rg.cur.Epoch())
				}
			}
			for _, m := range node.s.Members() {
				if m.WeReach && (now.Sub(m.Refreshed) > limit || m.Stale) {
					t.Fatalf("tick %d: %s's leaf in %s's group refreshed %v ago (stale %v)", tick, m.Nick, node.name, now.Sub(m.Refreshed), m.Stale)
				}
			}
		}
	}
	n.check()
	// Each member proposed for its two receive groups about once per
	// interval; the chatty owner too.
	want := 2 * days * 24
	for _, node := range n.nodes {
		if got := node.props; got < want*9/10 || got > want*2 {
			t.Errorf("%s proposed %d Updates over %d days, want about %d", node.name, got, days, want)
		}
	}
}

// TestMemberWhoNeverUpdatesIsStale: a member whose client never proposes
// an Update (its interval set beyond the test) is flagged stale in the owner's view once StaleAfter passes
// since its leaf was last refreshed, and not before.
func TestMemberWhoNeverUpdatesIsStale(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 43, Config{StaleAfter: 48 * time.Hour}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	bob.s.cfg.UpdateInterval = 1000 * time.Hour // an old or hostile client
	stale := func() bool {
		for _, m := range alice.s.Members() {
			if m.ID == bob.id.Fingerprint() {
				return m.Stale
			}
		}
		t.Fatal("bob is not a member")
		return false
	}
	// Alice ticks (and rekeys her own group) every hour; bob never does.
	for hour := 1; hour < 48; hour++ {
		n.clk.t = n.clk.t.Add(time.Hour)
		n.on(alice)(alice.s.Tick())
		n.flush()
		if stale() {
			t.Fatalf("bob flagged stale after %d hours", hour)
		}
	}
	n.clk.t = n.clk.t.Add(time.Hour)
	if !stale() {
		t.Fatal("bob not flagged stale after 48 hours")
	}
	// One Update of his, committed, and he is fresh again.
	n.on(bob)(bob.s.Update())
	n.flush()
	n.on(alice)(alice.s.Tick())
	n.flush()
	if stale() {
		t.Fatal("bob still stale after his Update was committed")
	}
}
