package dmls

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestSimulation runs five participants through random steps: sends,
// UPDATEs, kicks and explicit re-adds, a member losing its state and
// rejoining, clock jumps, and delivery that delays messages and reorders
// them across groups (each sender-receiver pair stays in order, as TCP
// keeps it). After every step the delivery invariants hold: nobody reads a
// message of a group it was not in when the message was sent (so removed
// members read nothing afterwards), and bodies arrive intact. At the end,
// after re-sends, every message has been read by every member that was in
// its sender's group when it was sent and still is, and nothing panicked.
func TestSimulation(t *testing.T) {
	t.Parallel()
	steps := 600
	seeds := []uint64{1, 2, 3}
	if testing.Short() {
		steps, seeds = 300, seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runSimulation(t, seed, steps, false)
		})
	}
	// The engine's way: newcomers' Adds held until a commit takes them
	// (here a tick, a send or a removal).
	t.Run("held adds", func(t *testing.T) {
		t.Parallel()
		runSimulation(t, 11, steps, true)
	})
}

func runSimulation(t *testing.T, seed uint64, steps int, hold bool) {
	cfg := Config{UpdateEvery: 7, UpdateInterval: 3 * time.Minute, EpochGrace: time.Minute,
		GapTimeout: 20 * time.Second, DigestInterval: 30 * time.Second, HoldAdds: hold}
	n := newSimNet(t, seed, cfg, "alice", "bob", "carol", "dave", "erin")
	n.flush()
	counts := map[string]int{}
	for step := 0; step < steps; step++ {
		node := n.nodes[n.rng.IntN(len(n.nodes))]
		switch r := n.rng.IntN(100); {
		case r < 35:
			n.send(node, fmt.Sprintf("%s #%d", node.name, step))
			counts["send"]++
		case r < 70:
			for i := n.rng.IntN(6); i >= 0; i-- {
				n.deliverOne()
			}
			counts["deliver"]++
		case r < 78:
			n.on(node)(node.s.Update())
			counts["update"]++
		case r < 84:
			n.clk.t = n.clk.t.Add(time.Duration(n.rng.IntN(40)) * time.Second)
			n.tickAll()
			counts["tick"]++
		case r < 92:
			n.resend(node)
			counts["resend"]++
		case r < 94:
			members := node.s.sendRecipients()
			if len(members) > 2 {
				n.on(node)(node.s.Remove(members[n.rng.IntN(len(members))]))
				counts["kick"]++
			}
		case r < 96:
			for fp := range node.s.kicked {
				if other := n.byFP[fp]; other != nil {
					kp, err := other.id.NewKeyPackage(n.env(), node.id.Fingerprint())
					if err != nil {
						t.Fatal(err)
					}
					n.on(node)(node.s.Add(kp.Bytes()))
					counts["readd"]++
					break
				}
			}
		case r < 98:
			n.crash(node)
			counts["crash"]++
		default:
			// Mangle a random message in flight: it must be refused
			// without harm (the original is delivered too).
			if heads := n.r.Heads(); len(heads) > 0 {
				p := heads[0]
				bad := append([]byte(nil), p.Data...)
				bad[n.rng.IntN(len(bad))] ^= byte(1 + n.rng.IntN(255))
				out, err := n.byFP[p.To].s.Handle(p.From, bad)
				if errors.Is(err, ErrInternal) {
					t.Fatalf("a mangled %v: %v", p.Kind, err)
				}
				// What it produced is checked like anything else: no
				// message shown that its sender did not send, to a reader
				// outside its group.
				n.r.Apply(p.To, out, nil)
				counts["mangle"]++
			}
		}
	}
	n.settle()
	n.check()
	if left := n.unacked(); left != 0 {
		t.Errorf("%d deliveries still unacknowledged after settling", left)
	}
	t.Logf("steps %v; %s", counts, n.summary())
}
