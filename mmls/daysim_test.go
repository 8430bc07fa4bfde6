package mmls_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
)

// The working-day simulation (README, "Delivery through members"): 8
// people in one room, each online in 2 to 4 sessions of 20 to 120 minutes
// placed at random in a 10-hour day, writing a line about every 10
// minutes while online. It runs real participants (stores, engines, MLS)
// on the in-memory network, under a clock the simulation moves itself,
// and counts the (line, recipient) pairs that arrive the same day, under
// three ways of delivering:
//
//   - direct: only from author to recipient (nobody holds others' lines);
//   - members: every member holds what it received and hands it on;
//   - always-on: a ninth participant, online all day, holds and hands on
//     (the others hold nothing): what a server would do.
//
// MMLS_DAYSIM_DAYS sets the number of days (default 2; the README's
// figures are for 30) and MMLS_DAYSIM_SEED the seed.

type simEvent struct {
	at     time.Duration // from the start of the simulation
	kind   int           // simStart, simLine, simEnd
	person int
}

const (
	simEnd = iota // ends before starts and lines at the same minute
	simStart
	simLine
	simDayEnd
)

const simPeople = 8

var simDay = 10 * time.Hour

type daySchedule struct {
	days   int
	events []simEvent
}

func makeSchedule(seed uint64, days int) daySchedule {
	rng := rand.New(rand.NewPCG(seed, 7))
	var events []simEvent
	for d := range days {
		base := time.Duration(d) * 24 * time.Hour
		for p := range simPeople {
			type span struct{ from, to time.Duration }
			var spans []span
			for range 2 + rng.IntN(3) {
				length := time.Duration(20+rng.IntN(101)) * time.Minute
				from := time.Duration(rng.Int64N(int64(simDay - 20*time.Minute)))
				spans = append(spans, span{from, min(from+length, simDay)})
			}
			sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
			var merged []span
			for _, s := range spans {
				if n := len(merged); n > 0 && s.from <= merged[n-1].to+time.Minute {
					merged[n-1].to = max(merged[n-1].to, s.to)
					continue
				}
				merged = append(merged, s)
			}
			for _, s := range merged {
				events = append(events, simEvent{base + s.from, simStart, p}, simEvent{base + s.to, simEnd, p})
				for at := s.from + expMinutes(rng, 10); at < s.to; at += expMinutes(rng, 10) {
					events = append(events, simEvent{base + at, simLine, p})
				}
			}
		}
		events = append(events, simEvent{base + simDay, simDayEnd, -1})
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].at != events[j].at {
			return events[i].at < events[j].at
		}
		return events[i].kind < events[j].kind
	})
	return daySchedule{days: days, events: events}
}

func expMinutes(rng *rand.Rand, mean float64) time.Duration {
	return time.Duration(-math.Log(1-rng.Float64()) * mean * float64(time.Minute))
}

type simLineRec struct {
	text   string
	author int
	day    int
}

// runDays plays the schedule under policy and returns the share of
// (line, recipient) pairs delivered the same day.
func runDays(t *testing.T, policy string, sch daySchedule) (float64, int) {
	l := enginetest.NewLAN(t)
	l.NoSync = true
	l.Configure = func(_ string, c *mmls.Config) {
		c.Tick = 1000 * time.Hour // the simulation runs the timers
		c.AddHold = -1
	}
	start := l.Clock.Now()
	nicks := make([]string, simPeople)
	nodes := make([]*enginetest.Node, simPeople)
	for i := range nicks {
		nicks[i] = fmt.Sprintf("p%d", i)
	}
	all := append([]string(nil), nicks...)
	if policy == "always-on" {
		all = append(all, "server")
	}
	formed := l.Room(all...)
	copy(nodes, formed)
	for i, n := range formed {
		if policy == "direct" || policy == "always-on" && i < simPeople {
			n.Do(mmls.SetHold{On: false})
		}
	}
	l.Settle()
	// seen[p][text]: when person p was first shown the line.
	seen := make([]map[string]time.Time, simPeople)
	for i := range seen {
		seen[i] = map[string]time.Time{}
	}
	collect := func(p int) {
		for _, ev := range nodes[p].Seen() {
			if m, ok := ev.(*mmls.Message); ok {
				if _, dup := seen[p][m.Text]; !dup {
					seen[p][m.Text] = m.When()
				}
			}
		}
	}
	for p := range nodes {
		nodes[p].Stop()
		collect(p)
		nodes[p] = nil
	}
	l.Settle()
	var lines []simLineRec
	for _, ev := range sch.events {
		if now := l.Clock.Now().Sub(start); ev.at > now {
			l.Clock.Advance(ev.at - now)
		}
		switch ev.kind {
		case simStart:
			nodes[ev.person] = l.Start(nicks[ev.person])
		case simEnd:
			nodes[ev.person].Stop() // then every event it reported is seen
			collect(ev.person)
			nodes[ev.person] = nil
		case simLine:
			text := fmt.Sprintf("day %d, %s's line %d", int(ev.at/(24*time.Hour)), nicks[ev.person], len(lines))
			lines = append(lines, simLineRec{text: text, author: ev.person, day: int(ev.at / (24 * time.Hour))})
			nodes[ev.person].Do(mmls.Say{Room: "lobby", Text: text})
		}
		l.Settle()
		l.RunTimers()
		l.Settle()
	}
	for p := range nodes {
		if nodes[p] != nil {
			nodes[p].Stop()
			collect(p)
		}
	}
	pairs, reached := 0, 0
	for _, ln := range lines {
		dayEnd := start.Add(time.Duration(ln.day)*24*time.Hour + simDay)
		for p := range simPeople {
			if p == ln.author {
				continue
			}
			pairs++
			if at, ok := seen[p][ln.text]; ok && !at.After(dayEnd) {
				reached++
			}
		}
	}
	return float64(reached) / float64(pairs), len(lines)
}

func TestDaySimulation(t *testing.T) {
	t.Parallel()
	days, seed := 2, uint64(1)
	if v, err := strconv.Atoi(os.Getenv("MMLS_DAYSIM_DAYS")); err == nil && v > 0 {
		days = v
	}
	if v, err := strconv.ParseUint(os.Getenv("MMLS_DAYSIM_SEED"), 10, 64); err == nil {
		seed = v
	}
	sch := makeSchedule(seed, days)
	share := map[string]float64{}
	for _, policy := range []string{"direct", "members", "always-on"} {
		began := time.Now()
		var n int
		share[policy], n = runDays(t, policy, sch)
		ideal := idealShare(sch, policy)
		t.Logf("%-9s %d days, %d lines: %.3f of (line, recipient) pairs the same day (ideal %.3f; %v)", policy, days, n, share[policy], ideal, time.Since(began).Round(time.Second))
		// Everything that could arrive, arrived: the engine falls short of
		// delivery that takes no time by nothing but lines written in the
		// last moments of a session.
		if share[policy] < ideal-0.005 {
			t.Errorf("%s: %.3f, where delivery that takes no time reaches %.3f", policy, share[policy], ideal)
		}
	}
	ratio := share["members"] / share["always-on"]
	t.Logf("members / always-on = %.3f; members / direct = %.3f", ratio, share["members"]/share["direct"])
	if ratio < 0.97 {
		t.Errorf("members hand on %.3f, an always-on holder %.3f: %.3f of it, want at least 0.97", share["members"], share["always-on"], ratio)
	}
	if share["members"] <= share["direct"] {
		t.Errorf("members hand on %.3f, no more than direct delivery's %.3f", share["members"], share["direct"])
	}
}

// idealShare is what each policy would reach with delivery taking no time
// at all: when people are online together, whatever one of them may hand
// the other arrives at once. The engine's figures are held against it.
func idealShare(sch daySchedule, policy string) float64 {
	online := make([]bool, simPeople)
	type ln struct {
		author int
		day    int
		has    []bool
	}
	var lines []*ln
	spread := func(d int) {
		for _, l := range lines {
			if l.day != d {
				continue
			}
			switch policy {
			case "direct":
				if !online[l.author] {
					continue
				}
				for p := range online {
					if online[p] {
						l.has[p] = true
					}
				}
			case "members":
				any := false
				for p := range online {
					any = any || online[p] && l.has[p]
				}
				if any {
					for p := range online {
						if online[p] {
							l.has[p] = true
						}
					}
				}
			case "always-on":
				for p := range online {
					if online[p] {
						l.has[p] = true
					}
				}
			}
		}
	}
	for _, ev := range sch.events {
		d := int(ev.at / (24 * time.Hour))
		switch ev.kind {
		case simStart:
			online[ev.person] = true
		case simEnd:
			online[ev.person] = false
		case simLine:
			lines = append(lines, &ln{author: ev.person, day: d, has: make([]bool, simPeople)})
			lines[len(lines)-1].has[ev.person] = true
		}
		spread(d)
	}
	pairs, reached := 0, 0
	for _, l := range lines {
		for p := range simPeople {
			if p != l.author {
				pairs++
				if l.has[p] {
					reached++
				}
			}
		}
	}
	return float64(reached) / float64(pairs)
}
