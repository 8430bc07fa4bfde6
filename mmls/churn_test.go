package mmls_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
)

// TestChurnLosesNothing: five participants through random steps (lines
// written, participants stopped and started, links cut and healed, time
// passing), where alice and bob are never online at the same time. At the
// end, every line has reached every other participant exactly once: bob
// and alice read each other's through the others.
func TestChurnLosesNothing(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runChurn(t, seed, 300)
		})
	}
}

func runChurn(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 3))
	l := enginetest.NewLAN(t)
	l.NoSync = true
	l.Configure = func(_ string, c *mmls.Config) {
		c.Tick = 1000 * time.Hour // the test runs the timers
		c.AddHold = -1
	}
	nicks := []string{"alice", "bob", "carol", "dave", "erin"}
	nodes := l.Room(nicks...)
	// shown[reader][text] counts what each participant was shown, over
	// all its runs.
	shown := map[string]map[string]int{}
	for _, n := range nicks {
		shown[n] = map[string]int{}
	}
	collect := func(n *enginetest.Node) {
		for _, ev := range n.Seen() {
			if m, ok := ev.(*mmls.Message); ok {
				shown[n.Nick][m.Text]++
			}
		}
	}
	stop := func(i int) {
		nodes[i].Stop() // then every event it reported is seen
		collect(nodes[i])
		nodes[i] = nil
	}
	nodes[1].Stop() // bob starts away: alice is online
	nodes[1] = nil
	written := map[string]string{} // text -> author
	cut := map[[2]int]bool{}
	for step := range steps {
		i := rng.IntN(len(nicks))
		switch r := rng.IntN(100); {
		case r < 45:
			if nodes[i] != nil {
				text := fmt.Sprintf("%s's line at step %d", nicks[i], step)
				nodes[i].Do(mmls.Say{Room: "lobby", Text: text})
				written[text] = nicks[i]
			}
		case r < 65:
			if nodes[i] != nil {
				stop(i)
			} else if other := 1 - i; i > 1 || nodes[other] == nil {
				nodes[i] = l.Start(nicks[i]) // alice and bob: only while the other is away
			}
		case r < 80:
			j := rng.IntN(len(nicks))
			if p := [2]int{min(i, j), max(i, j)}; i != j && !cut[p] {
				cut[p] = true
				l.Hub.Partition(l.ID(nicks[i]), l.ID(nicks[j]))
			}
		case r < 92:
			for p := range cut {
				delete(cut, p)
				l.Hub.Heal(l.ID(nicks[p[0]]), l.ID(nicks[p[1]]))
				break
			}
		default:
			l.Clock.Advance(time.Duration(1+rng.IntN(120)) * time.Second)
		}
		l.Settle()
		l.RunTimers()
		l.Settle()
	}
	for p := range cut {
		l.Hub.Heal(l.ID(nicks[p[0]]), l.ID(nicks[p[1]]))
	}
	// Everyone but bob, then everyone but alice, then everyone but bob
	// again: alice and bob never meet.
	for _, away := range []int{1, 0, 1} {
		for i := range nodes {
			if i == away && nodes[i] != nil {
				stop(i)
			}
			if i != away && nodes[i] == nil {
				nodes[i] = l.Start(nicks[i])
			}
		}
		for range 3 {
			l.Clock.Advance(time.Minute)
			l.Settle()
			l.RunTimers()
			l.Settle()
		}
	}
	for i := range nodes {
		if nodes[i] != nil {
			stop(i)
		}
	}
	lost, twice := 0, 0
	for text, author := range written {
		for _, reader := range nicks {
			if reader == author {
				continue
			}
			switch n := shown[reader][text]; {
			case n == 0:
				lost++
				if lost <= 5 {
					t.Errorf("%s never read %q", reader, text)
				}
			case n > 1:
				twice++
				t.Errorf("%s read %q %d times", reader, text, n)
			}
		}
	}
	t.Logf("%d lines, %d (line, reader) pairs: %d lost, %d read twice", len(written), len(written)*(len(nicks)-1), lost, twice)
}
