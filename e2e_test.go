package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery/netnstest"
	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// binary is the mmls-chat binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mmls-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mmls-chat")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mmls-chat: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	faultyOnce sync.Once
	faulty     string
	faultyErr  error
)

// faultyBinary is mmls-chat built with -tags mmlsfaults (fault injection
// for the tests that play a hostile holder), built once, when first asked.
func faultyBinary(t testing.TB) string {
	t.Helper()
	faultyOnce.Do(func() {
		faulty = binary + "-faults"
		if out, err := exec.Command("go", "build", "-tags", "mmlsfaults", "-o", faulty, ".").CombinedOutput(); err != nil {
			faultyErr = fmt.Errorf("building mmls-chat with -tags mmlsfaults: %v\n%s", err, out)
		}
	})
	if faultyErr != nil {
		t.Fatal(faultyErr)
	}
	return faulty
}

// proc is one headless mmls-chat process.
type proc struct {
	t       testing.TB
	nick    string
	data    string
	listen  string // actual address, from the ready event
	id      string
	started time.Time
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	mu      sync.Mutex
	events  []headless.Record
	cond    *sync.Cond
	exited  bool
}

// start runs a node on loopback without mDNS; extra are more flags
// (--peer ...).
func start(t testing.TB, nick, data, listen string, extra ...string) *proc {
	t.Helper()
	return launch(t, exec.Command(binary, args(nick, data, listen, extra...)...), nick, data)
}

// launch starts cmd (a headless node) and waits for its ready event.
func launch(t testing.TB, cmd *exec.Cmd, nick, data string) *proc {
	t.Helper()
	p := spawn(t, cmd, nick, data)
	p.waitReady()
	return p
}

// spawn starts cmd (a headless node); waitReady then waits for its ready
// event. Nodes spawned together start at the same time.
func spawn(t testing.TB, cmd *exec.Cmd, nick, data string) *proc {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, nick: nick, data: data, cmd: cmd, stdin: stdin, started: time.Now()}
	p.cond = sync.NewCond(&p.mu)
	go p.read(stdout)
	t.Cleanup(p.kill)
	t.Cleanup(p.dumpIfFailed)
	return p
}

func (p *proc) waitReady() {
	p.t.Helper()
	ready := p.waitFor("ready", 20*time.Second, func(e headless.Record) bool { return e.Type == "ready" })
	p.listen, p.id = ready.Listen, ready.ID
}

// args are a headless loopback node's flags.
func args(nick, data, listen string, extra ...string) []string {
	return append([]string{"--headless", "--no-mdns", "--nick", nick, "--data", data, "--listen", listen}, extra...)
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var e headless.Record
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			p.t.Errorf("%s wrote a line that is not a JSON event: %q", p.nick, sc.Text())
			continue
		}
		p.mu.Lock()
		p.events = append(p.events, e)
		p.cond.Broadcast()
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.exited = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// dumpIfFailed logs the node's log file and events when the test failed.
func (p *proc) dumpIfFailed() {
	if !p.t.Failed() {
		return
	}
	p.t.Log(p.logTail(80))
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		p.t.Logf("  %s(%.8s) event %s %s %s %s %s by=%.8s to=%.8s", p.nick, p.id, e.Type, e.Nick, e.Change, e.Status, e.Text, e.By, e.ToID)
	}
}

// logTail returns the end of the node's log file, for failure messages.
func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(p.data, "mmls-chat.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return p.nick + "'s log:\n  " + strings.Join(lines, "\n  ")
}

func (p *proc) say(line string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, line); err != nil {
		p.t.Fatalf("%s: write: %v", p.nick, err)
	}
}

// waitFor waits until an event matches, failing after timeout.
func (p *proc) waitFor(what string, timeout time.Duration, ok func(headless.Record) bool) headless.Record {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := 0
	for {
		for ; seen < len(p.events); seen++ {
			if ok(p.events[seen]) {
				return p.events[seen]
			}
		}
		if p.exited || time.Now().After(deadline) {
			p.t.Fatalf("%s: no %s within %v (exited: %v)\n%s", p.nick, what, timeout, p.exited, p.logTail(40))
		}
		p.cond.Wait()
	}
}

// messages returns the texts of the message events so far, counting each.
func (p *proc) messages() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, e := range p.events {
		if e.Type == "message" {
			out[e.Text]++
		}
	}
	return out
}

// waitMessages waits until every text has been shown once.
func (p *proc) waitMessages(timeout time.Duration, texts ...string) {
	p.t.Helper()
	want := map[string]bool{}
	for _, t := range texts {
		want[t] = true
	}
	p.waitFor(fmt.Sprintf("messages %q", texts), timeout, func(headless.Record) bool {
		got := 0
		for _, e := range p.events {
			if e.Type == "message" && want[e.Text] {
				got++
			}
		}
		return got >= len(want)
	})
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

// quit ends the process with /quit and waits for a clean exit.
func (p *proc) quit() {
	p.t.Helper()
	p.say("/quit")
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			p.t.Fatalf("%s exited with %v", p.nick, err)
		}
	case <-time.After(20 * time.Second):
		p.t.Fatalf("%s did not exit after /quit", p.nick)
	}
}

// room starts n nodes; every node but the first knows only the first.
func room(t testing.TB, nicks ...string) []*proc {
	t.Helper()
	dir := t.TempDir()
	return roomIn(t, dir, nicks...)
}

// roomIn is room with the data directories under dir.
func roomIn(t testing.TB, dir string, nicks ...string) []*proc {
	t.Helper()
	first := start(t, nicks[0], filepath.Join(dir, nicks[0]), "127.0.0.1:0")
	nodes := []*proc{first}
	for _, n := range nicks[1:] {
		data := filepath.Join(dir, n)
		nodes = append(nodes, spawn(t, exec.Command(binary, args(n, data, "127.0.0.1:0", "--peer", first.listen)...), n, data))
	}
	for _, p := range nodes[1:] {
		p.waitReady()
	}

	// The room is formed when everyone is in everyone's group both ways.
	for _, p := range nodes {
		for _, q := range nodes {
			if p != q {
				waitLink(t, p, q)
			}
		}
	}
	return nodes
}

// waitLink waits until p has been added to the send group of q (of this
// process of q: an earlier run of the same identity does not count).
func waitLink(t testing.TB, p, q *proc) {
	t.Helper()
	p.waitFor("join of "+q.nick+"'s group", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Change == "added" && e.ID == p.id && e.By == q.id && !e.Time.Before(q.started)
	})
}

func TestE2EThreeNodesChat(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	for _, p := range nodes {
		p.say("hello from " + p.nick)
	}
	for _, p := range nodes {
		var want []string
		for _, q := range nodes {
			if q != p {
				want = append(want, "hello from "+q.nick)
			}
		}
		p.waitMessages(30*time.Second, want...)
		// Both receipts for its own message.
		for _, q := range nodes {
			if q != p {
				p.waitFor("delivered to "+q.nick, 30*time.Second, func(e headless.Record) bool {
					return e.Type == "delivered" && e.ToID == q.id
				})
			}
		}
	}
	// Bob and Carol know only Alice's address: peer exchange found the rest.
	nodes[1].say("/who")
	who := nodes[1].waitFor("who", 10*time.Second, func(e headless.Record) bool { return e.Type == "who" })
	if len(who.Members) != 2 {
		t.Fatalf("bob sees %+v", who.Members)
	}
	for _, m := range who.Members {
		if !m.WeReach || !m.TheyReach || !m.Online {
			t.Fatalf("link to %s: %+v", m.Nick, m)
		}
	}
	for _, p := range nodes {
		p.quit()
	}
}

// TestE2EKilledNodeCatchesUp: bob is killed with SIGKILL while the others
// talk; after a restart he gets every missed message exactly once, and a
// message he wrote while alice was down reaches her after both restarts.
func TestE2EKilledNodeCatchesUp(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	alice.say("before")
	bob.waitMessages(30*time.Second, "before")

	bob.kill()
	alice.say("missed 1")
	carol.say("missed 2")
	carol.waitMessages(30*time.Second, "missed 1")
	bob2 := start(t, "bob", bob.data, bob.listen, "--peer", alice.listen)
	// Well under the engine's 30 s re-send period: the catch-up comes
	// from the re-send on rejoin, not from the timer.
	bob2.waitMessages(catchUp, "missed 1", "missed 2")

	// bob's own unacknowledged message: alice (still in his group) is down
	// when he writes, and he is killed before she could acknowledge it.
	waitLink(t, bob2, alice)
	waitLink(t, alice, bob2)
	waitLink(t, carol, bob2)
	alice.kill()
	bob2.say("while alice was down")
	carol.waitMessages(30*time.Second, "while alice was down")
	bob2.kill()
	alice2 := start(t, "alice", alice.data, alice.listen, "--peer", carol.listen)
	bob3 := start(t, "bob", bob.data, bob.listen, "--peer", carol.listen)
	alice2.waitMessages(catchUp, "while alice was down")

	// Exactly once, history included: "before" is not shown again. Counted
	// after a sentinel from every sender, which comes after anything it
	// sent before.
	sentinels(t, alice2, bob3, carol)
	for _, p := range []*proc{bob2, alice2, bob3, carol} {
		for text, n := range p.messages() {
			if n != 1 {
				t.Errorf("%s showed %q %d times", p.nick, text, n)
			}
		}
	}
	if bob2.messages()["before"] != 0 || bob3.messages()["missed 1"] != 0 || alice2.messages()["missed 2"] != 0 {
		t.Errorf("a message stored before the restart was shown again: bob2 %v, bob3 %v, alice2 %v", bob2.messages(), bob3.messages(), alice2.messages())
	}
}

// TestE2EDurableBeforeReceipt: a received message is on disk before its
// receipt leaves. bob runs under strace: the page bbolt writes with the
// message, then an fdatasync of that file, then the log line the engine
// writes just before it sends the receipt (the receipt itself travels
// encrypted, so the trace cannot show it), in that order.
func TestE2EDurableBeforeReceipt(t *testing.T) {
	t.Parallel()
	stracePath, err := exec.LookPath("strace")
	if err != nil {
		netnstest.Unavailable(t, "needs strace (CI installs it)")
	}
	dir := t.TempDir()
	alice := start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	trace := filepath.Join(dir, "bob.trace")
	data := filepath.Join(dir, "bob")
	bob := launch(t, exec.Command(stracePath, "-f", "-qq", "-xx", "-s", "65536", "-o", trace,
		"-e", "trace=pwrite64,fdatasync,fsync,write",
		binary, "--headless", "--no-mdns", "--nick", "bob", "--data", data, "--listen", "127.0.0.1:0", "--peer", alice.listen), "bob", data)
	waitLink(t, alice, bob)
	waitLink(t, bob, alice)
	alice.say("durable?")
	sent := alice.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" })
	alice.waitFor("receipt", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "delivered" && e.ID == sent.ID && e.ToID == bob.id
	})
	bob.quit()

	escape := func(s string) string {
		var sb strings.Builder
		for _, c := range []byte(s) {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
		return sb.String()
	}
	stored := escape(`"id":"` + sent.ID + `"`)         // the message's JSON in the page bbolt writes
	receipt := escape("message " + sent.ID + " from ") // the engine's log line before the receipt
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	written, synced, receipted := -1, -1, -1
	dbFD := ""
	for i, line := range strings.Split(string(b), "\n") {
		_, call, _ := strings.Cut(line, " ")
		call = strings.TrimSpace(call)
		switch {
		case written < 0 && strings.HasPrefix(call, "pwrite64(") && strings.Contains(call, stored):
			written = i
			dbFD, _, _ = strings.Cut(strings.TrimPrefix(call, "pwrite64("), ",")
		case written >= 0 && synced < 0 && (strings.HasPrefix(call, "fdatasync("+dbFD+")") || strings.HasPrefix(call, "fsync("+dbFD+")")):
			synced = i
		case receipted < 0 && strings.HasPrefix(call, "write(") && strings.Contains(call, receipt):
			receipted = i
		}
	}
	if written < 0 || receipted < 0 {
		t.Fatalf("trace: message written at line %d, receipt at line %d", written, receipted)
	}
	if synced < 0 || synced > receipted {
		t.Fatalf("the receipt left (line %d) before the message was synced to disk (written at line %d, synced at line %d)", receipted, written, synced)
	}
}

// TestE2ECommands: the commands that change where lines go, or what the
// node is, work end to end: /join, /switch, /rooms, /update, /nick,
// /connect and /leave.
func TestE2ECommands(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.say("/join dev")
	bob.say("/join dev")
	waitLinkIn(t, bob, alice, "dev")
	waitLinkIn(t, alice, bob, "dev")

	alice.say("/switch lobby")
	alice.say("in the lobby")
	alice.say("/switch dev")
	alice.say("in dev")
	for room, text := range map[string]string{"lobby": "in the lobby", "dev": "in dev"} {
		bob.waitFor(text, 30*time.Second, func(e headless.Record) bool {
			return e.Type == "message" && e.Room == room && e.Text == text
		})
	}
	alice.say("/rooms")
	rooms := alice.waitFor("rooms", 10*time.Second, func(e headless.Record) bool { return e.Type == "rooms" })
	var names []string
	for _, r := range rooms.Rooms {
		names = append(names, fmt.Sprintf("%s:%v:%d", r.Name, r.Current, r.Members))
	}
	if got := strings.Join(names, " "); got != "dev:true:1 lobby:false:1" {
		t.Errorf("rooms: %s", got)
	}

	// /info says the release (it was never set).
	alice.say("/info")
	if info := alice.waitFor("info", 10*time.Second, func(e headless.Record) bool { return e.Type == "info" }); info.Info == nil || info.Info.Version != version {
		t.Errorf("/info: %+v, want version %q", info.Info, version)
	}

	alice.say("/update")
	alice.waitFor("update", 10*time.Second, func(e headless.Record) bool { return e.Type == "update" && e.Room == "dev" })
	alice.say("after the update")
	bob.waitFor("a message in the new epoch", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Room == "dev" && e.Text == "after the update"
	})

	alice.say("/nick alicia")
	alice.waitFor("nick", 10*time.Second, func(e headless.Record) bool { return e.Type == "nick" && e.Nick == "alicia" })
	bob.waitFor("alice renamed, without a restart", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "renamed" && e.ID == alice.id && e.Old == "alice" && e.Nick == "alicia" && slices.Contains(e.Shared, "dev")
	})
	alice.say("/away lunch")
	bob.waitFor("alice away", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "peer-away" && e.ID == alice.id && e.Text == "lunch"
	})
	alice.say("/connect nonsense")
	alice.waitFor("a connect error", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "error" && strings.Contains(e.Error, "cannot connect")
	})
	alice.say("/connect " + bob.listen) // already connected: nothing changes
	alice.say("/leave")
	alice.waitFor("left", 10*time.Second, func(e headless.Record) bool { return e.Type == "left" && e.Room == "dev" })
	alice.say("back in the lobby")
	bob.waitFor("a line after /leave", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Room == "lobby" && e.Text == "back in the lobby"
	})
	bob.waitFor("alice gone from dev", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Room == "dev" && e.Change == "removed" && e.ID == alice.id && e.By == bob.id
	})
}

// TestE2EKick: alice kicks carol; carol reads nothing more while alice and
// bob go on, and bob removed carol from his group too.
func TestE2EKick(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	// In an open room bob follows a removal only by someone he verified.
	bob.say("/verify alice yes")
	bob.waitFor("verified", 10*time.Second, func(e headless.Record) bool { return e.Type == "verify" && e.Verified })
	alice.say("/kick carol")
	carol.waitFor("removal by alice", 30*time.Second, func(e headless.Record) bool { return e.Type == "removed" && e.ByID == alice.id })
	carol.waitFor("removal by bob", 30*time.Second, func(e headless.Record) bool { return e.Type == "removed" && e.ByID == bob.id })
	waitRemoved(t, bob, carol)
	for _, p := range []*proc{alice, bob} {
		// Addressed to the one member left, not to carol.
		text := "after the kick, from " + p.nick
		p.say(text)
		sent := p.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == text })
		if sent.Recipients != 1 {
			t.Fatalf("%s's message after the kick is addressed to %d members", p.nick, sent.Recipients)
		}
	}
	bob.waitMessages(30*time.Second, "after the kick, from alice")
	alice.waitMessages(30*time.Second, "after the kick, from bob")
	// carol, once both removed her and left her groups, reaches nobody.
	waitRemoved(t, carol, alice)
	waitRemoved(t, carol, bob)
	carol.say("can anyone hear me")
	sent := carol.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" })
	if sent.Recipients != 0 {
		t.Fatalf("the kicked member's message is addressed to %d members", sent.Recipients)
	}
	// What was sent carol before a direct message to her, on the same
	// link, has reached her once she shows it; the same the other way.
	// (The check ran after alice and bob had talked, which says nothing
	// of what reached carol.)
	for _, p := range []*proc{alice, bob} {
		p.say("/msg carol still there, " + p.nick + " here")
		carol.waitMessages(30*time.Second, "still there, "+p.nick+" here")
		carol.say("/msg " + p.nick + " yes, carol here")
		p.waitMessages(30*time.Second, "yes, carol here")
	}
	for text := range carol.messages() {
		if strings.HasPrefix(text, "after the kick") {
			t.Fatalf("carol read %q after being kicked", text)
		}
	}
	for _, p := range []*proc{alice, bob} {
		if p.messages()["can anyone hear me"] != 0 {
			t.Fatalf("%s read the kicked member", p.nick)
		}
	}
}

// waitRemoved waits until p removed q from its send group.
func waitRemoved(t testing.TB, p, q *proc) {
	t.Helper()
	p.waitFor(q.nick+" out of "+p.nick+"'s group", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Change == "removed" && e.ID == q.id && e.By == p.id
	})
}

// catchUp bounds how long a restarted node may take to catch up: well
// under the engine's 30 s re-send period.
const catchUp = 10 * time.Second

// sentinels has every node write a last message and waits until every
// other node showed it: what a node sent before its sentinel has arrived
// by then (each pair is in order), so counts taken afterwards are final.
func sentinels(t testing.TB, nodes ...*proc) {
	t.Helper()
	for _, p := range nodes {
		p.say("sentinel from " + p.nick)
	}
	for _, p := range nodes {
		for _, q := range nodes {
			if q != p {
				p.waitMessages(30*time.Second, "sentinel from "+q.nick)
			}
		}
	}
}

// TestE2EHostileBytes: random bytes and oversized frames sent to a node's
// port do not disturb the chat.
func TestE2EHostileBytes(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		c, err := net.Dial("tcp", alice.listen)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+r.IntN(8192))
		for j := range junk {
			junk[j] = byte(r.UintN(256))
		}
		if i%4 == 0 {
			junk = []byte{1, 1, 0x7f, 0xff, 0xff, 0xff} // a hello claiming 2 GiB
		}
		c.Write(junk)
		c.Close()
	}
	bob.say("still fine")
	alice.waitMessages(30*time.Second, "still fine")
	alice.say("/peers")
	peers := alice.waitFor("peers", 10*time.Second, func(e headless.Record) bool { return e.Type == "peers" })
	if len(peers.Peers) != 1 {
		t.Fatalf("alice knows %+v", peers.Peers)
	}
}

// TestE2EFiveNodesFlood: five nodes each send 200 messages as fast as they
// can; nothing is lost or duplicated.
func TestE2EFiveNodesFlood(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("long: five processes x 200 messages")
	}
	nodes := room(t, "n0", "n1", "n2", "n3", "n4")
	const each = 200
	flood(nodes, each, 180*time.Second)
	sentinels(t, nodes...)
	for _, p := range nodes {
		msgs := p.messages()
		delete(msgs, "sentinel from "+p.nick)
		for _, q := range nodes {
			delete(msgs, "sentinel from "+q.nick)
		}
		if len(msgs) != 4*each {
			t.Errorf("%s shows %d distinct messages, want %d", p.nick, len(msgs), 4*each)
		}
		for text, n := range msgs {
			if n != 1 {
				t.Errorf("%s showed %q %d times", p.nick, text, n)
			}
		}
	}
}

// TestE2EMDNSInNamespaces: three nodes on a LAN made of network
// namespaces find each other by mDNS alone (no --peer), form the lobby and
// chat.
func TestE2EMDNSInNamespaces(t *testing.T) {
	t.Parallel()
	lan := netnstest.New(t, 3)
	dir := t.TempDir()
	var nodes []*proc
	for i, nick := range []string{"alice", "bob", "carol"} {
		data := filepath.Join(dir, nick)
		cmd := lan.Command(context.Background(), i, binary, "--headless", "--nick", nick, "--data", data)
		nodes = append(nodes, launch(t, cmd, nick, data))
	}
	for _, p := range nodes {
		for _, q := range nodes {
			if p != q {
				waitLink(t, p, q)
			}
		}
	}
	nodes[0].say("found you all by mDNS")
	nodes[1].waitMessages(30*time.Second, "found you all by mDNS")
	nodes[2].waitMessages(30*time.Second, "found you all by mDNS")
	nodes[2].say("/info")
	info := nodes[2].waitFor("info", 10*time.Second, func(e headless.Record) bool { return e.Type == "info" })
	if info.Info == nil || !strings.HasPrefix(info.Info.MDNS, "on (eth0") || !strings.HasSuffix(info.Info.Listen, ":7420") {
		t.Fatalf("info %+v", info.Info)
	}
	for _, p := range nodes {
		p.quit()
	}
}

// TestE2EWriteRightAfterRestart: bob, restarted after SIGKILL, writes
// before the others are back in his new send group; the message is
// addressed to the room's members all the same and reaches them when they
// rejoin.
func TestE2EWriteRightAfterRestart(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	bob.kill()
	bob2 := start(t, "bob", bob.data, bob.listen)
	bob2.say("first words after a restart")
	bob2.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" })
	alice.waitMessages(catchUp, "first words after a restart")
	carol.waitMessages(catchUp, "first words after a restart")
	for _, q := range []*proc{alice, carol} {
		bob2.waitFor("delivered to "+q.nick, 30*time.Second, func(e headless.Record) bool {
			return e.Type == "delivered" && e.ToID == q.id
		})
	}
}

// TestE2EDirectMessageAndInvite: /msg reaches only its recipient (in a
// two-person room the other side joins by itself), and /invite brings a
// third person into a new room, whose name travels encrypted.
func TestE2EDirectMessageAndInvite(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	alice.say("/msg bob psst, just you")
	got := bob.waitFor("the direct message", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Text == "psst, just you"
	})
	if !strings.HasPrefix(got.Room, "dm:") || got.FromID != alice.id {
		t.Fatalf("direct message %+v", got)
	}
	alice.waitFor("receipt", 30*time.Second, func(e headless.Record) bool { return e.Type == "delivered" && e.ToID == bob.id })

	alice.say("/join secret")
	alice.say("/invite carol")
	carol.waitFor("the invitation", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "invite" && e.Room == "secret" && e.FromID == alice.id
	})
	carol.say("/join secret")
	waitLinkIn(t, carol, alice, "secret")
	waitLinkIn(t, alice, carol, "secret")
	alice.say("welcome to the secret room")
	carol.waitFor("the secret message", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Room == "secret" && e.Text == "welcome to the secret room"
	})
	alice.waitFor("receipt", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "delivered" && e.Room == "secret" && e.ToID == carol.id
	})
	for text := range carol.messages() {
		if text == "psst, just you" {
			t.Fatal("carol read the direct message")
		}
	}
	for text := range bob.messages() {
		if text == "welcome to the secret room" {
			t.Fatal("bob read the secret room")
		}
	}
}

// waitLinkIn is waitLink in a named room.
func waitLinkIn(t testing.TB, p, q *proc, room string) {
	t.Helper()
	p.waitFor("join of "+q.nick+"'s group in "+room, 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Room == room && e.Change == "added" && e.ID == p.id && e.By == q.id
	})
}

// TestE2EKeyChangedAlert: a known nick arriving with a different key
// raises an alert instead of silently taking over the name.
func TestE2EKeyChangedAlert(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	bob.kill()
	impostor := start(t, "bob", filepath.Join(t.TempDir(), "other-bob"), "127.0.0.1:0", "--peer", alice.listen)
	alert := alice.waitFor("key-changed alert", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "alert" && e.Kind == "key-changed"
	})
	if alert.Nick != "bob" || alert.ID != impostor.id {
		t.Fatalf("alert %+v", alert)
	}
	// /verify shows the new key's safety number, for comparing out loud.
	alice.say("/verify " + impostor.id[:16])
	v := alice.waitFor("verify", 10*time.Second, func(e headless.Record) bool { return e.Type == "verify" })
	if len(v.SafetyNumber) != 71 || v.ID != impostor.id || v.Verified {
		t.Fatalf("verify %+v", v)
	}
	// After comparing out loud, the user records it; /who shows it.
	alice.say("/verify " + impostor.id[:16] + " yes")
	alice.waitFor("verified", 10*time.Second, func(e headless.Record) bool { return e.Type == "verify" && e.Verified })
	waitLink(t, impostor, alice)
	alice.say("/who")
	alice.waitFor("who with a verified member", 10*time.Second, func(e headless.Record) bool {
		if e.Type != "who" {
			return false
		}
		for _, m := range e.Members {
			if m.ID == impostor.id && m.Verified {
				return true
			}
		}
		return false
	})
}

// tmuxSession runs a command in a detached tmux session of its own, killed
// when the test ends.
func tmuxSession(t *testing.T, name string, cmd ...string) {
	t.Helper()
	args := append([]string{"new-session", "-d", "-s", name, "-x", "110", "-y", "30"}, cmd...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", name).Run() })
}

// waitScreen polls a tmux pane until it shows want (a screen can only be
// observed by looking at it), failing after timeout.
func waitScreen(t *testing.T, name, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", name).Output()
		if strings.Contains(string(out), want) {
			return string(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %q; screen:\n%s", name, want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestE2ETerminalInterfaces: two real terminal interfaces in tmux; a
// message typed in one appears in the other, with its delivery check.
func TestE2ETerminalInterfaces(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("tmux"); err != nil {
		netnstest.Unavailable(t, "needs tmux (CI installs it)")
	}
	dir := t.TempDir()
	tag := fmt.Sprintf("mmls%d", time.Now().UnixNano()%1e9)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	alice, bob := tag+"-alice", tag+"-bob"
	tmuxSession(t, alice, binary, "--nick", "alice", "--data", filepath.Join(dir, "a"), "--listen", addr, "--no-mdns")
	// alice chooses a passphrase at the first start, bob none.
	waitScreen(t, alice, "new passphrase:", 20*time.Second)
	exec.Command("tmux", "send-keys", "-t", alice, "-l", "sea shanty").Run()
	exec.Command("tmux", "send-keys", "-t", alice, "Enter").Run()
	waitScreen(t, alice, "again:", 20*time.Second)
	exec.Command("tmux", "send-keys", "-t", alice, "-l", "sea shanty").Run()
	exec.Command("tmux", "send-keys", "-t", alice, "Enter").Run()
	if s := waitScreen(t, alice, "alice (", 20*time.Second); strings.Contains(s, "unencrypted") {
		t.Errorf("alice chose a passphrase, and her status bar says:\n%s", s)
	}
	tmuxSession(t, bob, binary, "--nick", "bob", "--data", filepath.Join(dir, "b"), "--listen", "127.0.0.1:0", "--no-mdns", "--peer", addr)
	waitScreen(t, bob, "new passphrase:", 20*time.Second)
	exec.Command("tmux", "send-keys", "-t", bob, "Enter").Run()
	waitScreen(t, bob, "unencrypted", 20*time.Second)
	waitScreen(t, alice, "⇄ bob", 30*time.Second)
	waitScreen(t, bob, "⇄ alice", 30*time.Second)
	exec.Command("tmux", "send-keys", "-t", alice, "typed in one terminal", "Enter").Run()
	waitScreen(t, bob, "alice typed in one terminal", 30*time.Second)
	waitScreen(t, alice, "typed in one terminal ✓", 30*time.Second)
	exec.Command("tmux", "send-keys", "-t", bob, "/nick bobby", "Enter").Run()
	waitScreen(t, bob, "you are now known as bobby", 30*time.Second)
	waitScreen(t, alice, "bob is now known as bobby", 30*time.Second)
	exec.Command("tmux", "send-keys", "-t", bob, "C-c").Run()
}

// TestE2EDemo: --demo brings two simulated participants that greet the
// user and answer, over real loopback TCP and real MLS.
func TestE2EDemo(t *testing.T) {
	t.Parallel()
	p := launch(t, exec.Command(binary, "--demo", "--headless", "--nick", "you"), "you", t.TempDir())
	for _, bot := range []string{"bob", "carol"} {
		p.waitFor("a greeting from "+bot, 30*time.Second, func(e headless.Record) bool {
			return e.Type == "message" && e.From == bot && strings.Contains(e.Text, "you")
		})
	}
	p.say("hello bots")
	p.waitFor("bob's answer", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.From == "bob" && strings.Contains(e.Text, "hello bots")
	})
	// Asked for a file, bob offers one; it is saved in the demo's
	// temporary folder, never the user's downloads.
	p.say("bob, could you send me the site survey?")
	p.waitFor("bob's file", time.Minute, func(e headless.Record) bool { return e.Type == "file" && e.From == "bob" })
	p.say("/save")
	saved := p.waitFor("the file saved", time.Minute, func(e headless.Record) bool { return e.Type == "saved" })
	if !strings.Contains(saved.Path, "mmls-chat-demo") {
		t.Errorf("the demo saved its file at %s, outside its temporary folder", saved.Path)
	}
	p.quit()
}

// flood makes every node send perNode messages ("nick #i") at once, as
// fast as its input allows, and waits until every node has shown every
// other node's messages.
func flood(nodes []*proc, perNode int, timeout time.Duration) {
	for _, p := range nodes {
		var b strings.Builder
		for i := 0; i < perNode; i++ {
			fmt.Fprintf(&b, "%s #%d\n", p.nick, i)
		}
		go io.WriteString(p.stdin, b.String())
	}
	for _, p := range nodes {
		var want []string
		for _, q := range nodes {
			if q != p {
				for i := 0; i < perNode; i++ {
					want = append(want, fmt.Sprintf("%s #%d", q.nick, i))
				}
			}
		}
		p.waitMessages(timeout, want...)
	}
}

// TestE2EFirstMinute: a node whose port is taken says so in ready (notes)
// and names where others reach it (addrs); an unreachable --peer is said
// once, in plain words, and a /connect to a dead address too.
func TestE2EFirstMinute(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	bob := start(t, "bob", filepath.Join(dir, "bob"), first.listen, "--peer", deadAddr)
	ready := bob.waitFor("ready", 10*time.Second, func(e headless.Record) bool { return e.Type == "ready" })
	if len(ready.Notes) != 1 || !strings.Contains(ready.Notes[0], "port "+first.listen+" is taken; listening on 127.0.0.1:") {
		t.Errorf("ready notes: %q", ready.Notes)
	}
	if len(ready.Addrs) != 1 || ready.Addrs[0] != ready.Listen {
		t.Errorf("ready addrs %q for listen %s", ready.Addrs, ready.Listen)
	}
	bob.waitFor("unreachable", 20*time.Second, func(e headless.Record) bool {
		return e.Type == "unreachable" && e.Addr == deadAddr && e.Detail == "nobody is listening there"
	})
	bob.say("/connect 127.0.0.1:1")
	bob.waitFor("unreachable /connect", 20*time.Second, func(e headless.Record) bool {
		return e.Type == "unreachable" && e.Addr == "127.0.0.1:1"
	})
	bob.say("/connect " + first.listen)
	waitLink(t, bob, first)
	bob.mu.Lock()
	defer bob.mu.Unlock()
	n := 0
	for _, e := range bob.events {
		if e.Type == "unreachable" && e.Addr == deadAddr {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d unreachable events for %s, want 1", n, deadAddr)
	}
}

// TestE2ERestartKeepsWhatTheUserSet: after a restart with no --nick,
// --room or --peer, alice has the nick she set, opens the room she was
// in, shows her messages with their delivery marks (a member removed
// since no longer counts), and finds bob again at the address she last
// reached him at.
func TestE2ERestartKeepsWhatTheUserSet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := roomIn(t, dir, "bob", "alice", "carol")
	bob, alice, carol := nodes[0], nodes[1], nodes[2]
	alice.say("/join dev")
	bob.say("/join dev")
	carol.say("/join dev")
	waitLinkIn(t, bob, alice, "dev")
	waitLinkIn(t, carol, alice, "dev")
	alice.say("/switch dev")
	alice.say("stored by bob")
	sent := alice.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == "stored by bob" })
	alice.waitFor("bob's receipt", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "delivered" && e.ID == sent.ID && e.ToID == bob.id
	})
	alice.waitFor("carol's receipt", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "delivered" && e.ID == sent.ID && e.ToID == carol.id
	})
	carol.kill()
	alice.say("carol is gone")
	gone := alice.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == "carol is gone" })
	alice.waitFor("bob's receipt", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "delivered" && e.ID == gone.ID && e.ToID == bob.id
	})
	alice.say("/kick carol")
	alice.waitFor("undelivered", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "undelivered" && e.ID == gone.ID && e.ToID == carol.id
	})
	alice.say("/nick robert")
	alice.waitFor("nick", 10*time.Second, func(e headless.Record) bool { return e.Type == "nick" })
	alice.kill()

	again := launch(t, exec.Command(binary, "--headless", "--no-mdns", "--data", alice.data, "--listen", "127.0.0.1:0"), "robert", alice.data)
	ready := again.waitFor("ready", 10*time.Second, func(e headless.Record) bool { return e.Type == "ready" })
	if ready.Nick != "robert" || ready.Room != "dev" {
		t.Errorf("restarted as %q in %q, want robert in dev", ready.Nick, ready.Room)
	}
	hist := again.waitFor("history of dev", 10*time.Second, func(e headless.Record) bool { return e.Type == "history" && e.Room == "dev" })
	marks := map[string]string{}
	for _, l := range hist.History {
		if l.Mine {
			marks[l.Text] = fmt.Sprintf("%d/%d", len(l.StoredBy), l.Recipients)
		}
	}
	if marks["stored by bob"] != "2/2" || marks["carol is gone"] != "1/1" {
		t.Errorf("delivery marks after the restart: %v", marks)
	}
	// No --peer: bob is found at the address we last reached him at.
	again.waitFor("bob, recalled", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "peer" && e.ID == bob.id && e.Status == "online"
	})
}

// TestE2EKilledMidBatch: bob takes a burst in batches (one fsync per
// batch) and is killed while it pours in. Whatever he had shown is in
// his store, nothing is shown twice, alice gets a receipt for every
// message, and after his restart he has every one of them exactly once.
func TestE2EKilledMidBatch(t *testing.T) {
	t.Parallel()
	const burst = 300
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	var b strings.Builder
	var texts []string
	for i := range burst {
		texts = append(texts, fmt.Sprintf("burst %03d", i))
		fmt.Fprintln(&b, texts[i])
	}
	go io.WriteString(alice.stdin, b.String())
	bob.waitFor("part of the burst", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Text == "burst 050"
	})
	bob.kill()
	shown := bob.messages()
	bob2 := start(t, "bob", bob.data, bob.listen, "--peer", alice.listen)
	hist := bob2.waitFor("history", 10*time.Second, func(e headless.Record) bool { return e.Type == "history" && e.Room == "lobby" })
	stored := map[string]bool{}
	for _, l := range hist.History {
		stored[l.Text] = true
	}
	for text := range shown {
		if strings.HasPrefix(text, "burst ") && !stored[text] {
			t.Errorf("bob showed %q before the kill, and it is not in his store", text)
		}
	}
	var rest []string
	for _, text := range texts {
		if !stored[text] {
			rest = append(rest, text)
		}
	}
	t.Logf("%d of %d stored before the kill, %d shown", len(stored), burst, len(shown))
	bob2.waitMessages(time.Minute, rest...)
	for text, n := range bob2.messages() {
		if n != 1 || stored[text] {
			t.Errorf("after the restart bob showed %q %d times (stored before: %v)", text, n, stored[text])
		}
	}
	sentIDs := map[string]bool{}
	alice.waitFor("every receipt", time.Minute, func(e headless.Record) bool {
		if e.Type == "delivered" && e.ToID == bob.id {
			sentIDs[e.ID] = true
		}
		return len(sentIDs) == burst
	})
}
