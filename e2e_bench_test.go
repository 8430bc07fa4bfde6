package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// BenchmarkNodes runs N headless processes on loopback (each knows only
// the first by address) and measures, in one run per N:
//
//   - form-ms: from starting the first process until every node is in
//     every other node's send group (the room is formed);
//   - quiet-p50-ms: the same latency for single messages in a quiet room;
//   - p50-ms, p99-ms: from a message's "sent" event at its sender to its
//     "message" event at each member (process clocks are the same clock),
//     while every node sends perNode messages at once;
//   - msgs/s: member deliveries per second while every node sends
//     perNode messages as fast as it can;
//   - floor-msgs/s, of-floor: the crypto floor measured in the same run
//     (one UNPROTECT of 1 KiB per delivery, on every core; the best of
//     three rounds, once every receipt of the burst is in and the nodes
//     are idle), and msgs/s as a share of it;
//   - cpu-us/delivery, burst-cores: the nodes' CPU time (user and system,
//     from /proc) during the burst per member delivery, receipts and
//     stores included, and the cores they kept busy; with the floor they
//     say where the gap is: work per delivery, or idle cores;
//   - cpu-us/delivery-acked: the same CPU, counted until every member's
//     acknowledgement of every message is in; unprotects/delivery: that
//     in UNPROTECTs of 1 KiB on one core (from the floor), the unit the
//     delivery-through-members issue set its target in (at most 4);
//   - form-after-ready-ms: forming from the last node's ready event (what
//     the start-up takes, a passphrase's unlock among it, left out);
//   - form-cpu-s: the nodes' CPU time to form the room;
//   - rss-MB: resident memory per node at the end (from /proc).
//
// Run: go test -run='^$' -bench=Nodes -benchtime=1x . (with
// MMLS_PASSPHRASE_FILE=PATH the nodes' data is encrypted at rest).
func BenchmarkNodes(b *testing.B) {
	for _, n := range []int{2, 5, 10, 20} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchNodes(b, n)
			}
		})
	}
}

func benchNodes(b *testing.B, n int) {
	const perNode = 20
	nicks := make([]string, n)
	for i := range nicks {
		nicks[i] = fmt.Sprintf("n%02d", i)
	}
	begin := time.Now()
	nodes := roomIn(b, b.TempDir(), nicks...)
	formed := time.Since(begin)
	// Forming without the start-up (a passphrase's unlock, with
	// MMLS_PASSPHRASE_FILE set, is in the start): from the last node's
	// ready event.
	var lastReady time.Time
	for _, p := range nodes {
		p.mu.Lock()
		for _, e := range p.events {
			if e.Type == "ready" && e.Time.After(lastReady) {
				lastReady = e.Time
			}
		}
		p.mu.Unlock()
	}
	formedAfterReady := time.Since(lastReady) - (time.Since(begin) - formed)
	formCPU := cpuSeconds(nodes)

	// Quiet latency: one message at a time, each waited for everywhere.
	for k := 0; k < 10; k++ {
		from := nodes[k%n]
		text := fmt.Sprintf("quiet %d", k)
		from.say(text)
		for _, p := range nodes {
			if p != from {
				p.waitMessages(time.Minute, text)
			}
		}
	}
	quiet := latencies(nodes, func(text string) bool { return strings.HasPrefix(text, "quiet ") })

	cpu0 := cpuSeconds(nodes)
	sendStart := time.Now()
	flood(nodes, perNode, 5*time.Minute)
	elapsed := time.Since(sendStart)
	burstCPU := cpuSeconds(nodes) - cpu0
	// The floor is measured once the burst's receipts are all in: a node
	// still at work would slow it and flatter the ratio.
	for _, p := range nodes {
		p.waitReceipts(time.Minute, n-1)
	}
	// Delivery's whole cost: the burst's CPU until every member's word
	// that it stored each message is in (acknowledgements included).
	ackedCPU := cpuSeconds(nodes) - cpu0

	lat := latencies(nodes, func(text string) bool { return !strings.HasPrefix(text, "quiet ") })
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	sort.Slice(quiet, func(i, j int) bool { return quiet[i] < quiet[j] })
	pct := func(lat []time.Duration, q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
	}
	rss := 0.0
	for _, p := range nodes {
		rss += rssMB(p.cmd.Process.Pid)
	}
	b.ReportMetric(float64(formed.Milliseconds()), "form-ms")
	b.ReportMetric(float64(formedAfterReady.Milliseconds()), "form-after-ready-ms")
	b.ReportMetric(pct(quiet, 0.50), "quiet-p50-ms")
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "msgs/s")
	floor := cryptoFloor(b)
	b.ReportMetric(floor, "floor-msgs/s")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds()/floor, "of-floor")
	b.ReportMetric(burstCPU/float64(len(lat))*1e6, "cpu-us/delivery")
	b.ReportMetric(burstCPU/elapsed.Seconds(), "burst-cores")
	perDelivery := ackedCPU / float64(len(lat)) * 1e6
	b.ReportMetric(perDelivery, "cpu-us/delivery-acked")
	// The same in UNPROTECTs of 1 KiB on one core (the floor is one per
	// delivery on every core).
	b.ReportMetric(perDelivery*floor/(float64(runtime.NumCPU())*1e6), "unprotects/delivery")
	b.ReportMetric(formCPU, "form-cpu-s")
	b.ReportMetric(rss/float64(n), "rss-MB")
	for _, p := range nodes {
		p.quit() // a clean exit writes the CPU profiles (MMLS_CPUPROFILE)
	}
}

// latencies lists the time from each message's "sent" event at its sender
// to its "message" event at each member, for the messages keep selects.
func latencies(nodes []*proc, keep func(text string) bool) []time.Duration {
	sentAt := map[string]time.Time{}
	for _, p := range nodes {
		p.mu.Lock()
		for _, e := range p.events {
			if e.Type == "sent" {
				sentAt[e.ID] = e.Time
			}
		}
		p.mu.Unlock()
	}
	var lat []time.Duration
	for _, p := range nodes {
		p.mu.Lock()
		for _, e := range p.events {
			if t0, ok := sentAt[e.ID]; ok && e.Type == "message" && keep(e.Text) {
				lat = append(lat, e.Time.Sub(t0))
			}
		}
		p.mu.Unlock()
	}
	return lat
}

// waitReceipts waits until every message p has sent so far has its
// receipts, one from each of the room's other members (members of them).
func (p *proc) waitReceipts(timeout time.Duration, members int) {
	p.t.Helper()
	p.mu.Lock()
	want := 0
	for _, e := range p.events {
		if e.Type == "sent" {
			want++
		}
	}
	p.mu.Unlock()
	got := map[string]int{}
	done := 0
	p.waitFor("every receipt", timeout, func(e headless.Record) bool {
		if e.Type == "delivered" {
			if got[e.ID]++; got[e.ID] == members {
				done++
			}
		}
		return done == want
	})
}

// cpuSeconds sums the CPU time (user and system) the nodes' processes
// have used, from /proc.
func cpuSeconds(nodes []*proc) float64 {
	ticks := 0.0
	for _, p := range nodes {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may
		// hold spaces: state is the first, utime the 12th, stime the 13th.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + st
	}
	return ticks / 100 // USER_HZ, 100 on Linux
}

// rssMB reads a process's resident set size.
func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// cryptoFloor is what a node cannot go below, measured in this run: one
// UNPROTECT of 1 KiB (mlsguard, a two-member group) per delivery, on
// every core. It returns deliveries per second.
func cryptoFloor(b *testing.B) float64 {
	b.Helper()
	secret := func(i byte) []byte { s := make([]byte, mlsguard.SecretSize); s[0] = i; return s }
	alice, err := mlsguard.NewIdentity(secret(1), "alice")
	if err != nil {
		b.Fatal(err)
	}
	bob, err := mlsguard.NewIdentity(secret(2), "bob")
	if err != nil {
		b.Fatal(err)
	}
	g, err := mlsguard.CreateGroup(alice, []byte("floor"), secret(3))
	if err != nil {
		b.Fatal(err)
	}
	kp, err := bob.NewKeyPackage(secret(4))
	if err != nil {
		b.Fatal(err)
	}
	if err := g.ProposeAdd(kp); err != nil {
		b.Fatal(err)
	}
	_, welcome, _, err := g.Commit(secret(5))
	if err != nil {
		b.Fatal(err)
	}
	gb, err := mlsguard.Join(mlsguard.Joiner{Identity: bob, KeyPackage: kp, InitSecret: secret(4)}, welcome, alice.Fingerprint(), nil)
	if err != nil {
		b.Fatal(err)
	}
	// The best of three rounds: a neighbour's burst on the machine makes
	// one round slow, and a slow floor would flatter the ratio.
	const n, rounds = 400, 3
	best := time.Duration(0)
	for round := 0; round < rounds; round++ {
		cts := make([][]byte, n)
		for i := range cts {
			if cts[i], err = g.Protect(make([]byte, 1024)); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		for _, ct := range cts {
			if _, err := gb.Unprotect(ct); err != nil {
				b.Fatal(err)
			}
		}
		if per := time.Since(start) / n; best == 0 || per < best {
			best = per
		}
	}
	return float64(runtime.NumCPU()) / best.Seconds()
}
