// Package enginetest runs participants in one process for tests: real
// stores, real engines and real MLS on an in-memory network (memnet), with
// helpers that wait on events with deadlines instead of sleeping. The
// engine's own tests, the terminal interface's and the headless mode's
// use it.
package enginetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Clock is the engines' clock: it moves only when a test advances it.
// Timers still run on a real ticker, so advancing it and waiting for the
// next tick is how a test lets time pass.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Flow moves the clock by step every 5 ms of real time until stop is
// called, so that timers waiting on it (gap timeouts, re-sends) come due
// while a test waits for their effect.
func (c *Clock) Flow(step time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				c.Advance(step)
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

// LAN is participants on an in-memory network, in one process.
type LAN struct {
	t     *testing.T
	Hub   *memnet.Hub
	Clock *Clock
	// Policy is the DMLS policy of participants started from now on.
	Policy dmls.Config
	// Configure, when set, adjusts each participant's engine
	// configuration before it starts (fault injection).
	Configure func(nick string, c *mmls.Config)
	// NoSync: stores do not sync at commits (simulations of many days).
	NoSync bool
	dir    string

	mu      sync.Mutex
	running map[*Node]bool
	ids     map[string]mmls.ID
}

func NewLAN(t *testing.T) *LAN {
	return &LAN{t: t, Hub: memnet.New(), Clock: &Clock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}, dir: t.TempDir(),
		running: map[*Node]bool{}, ids: map[string]mmls.ID{}}
}

// Node is one participant: a real store, a real engine, a memnet endpoint.
type Node struct {
	l      *LAN
	Nick   string
	ID     mmls.ID
	st     *store.Store
	ep     *memnet.Endpoint
	Engine *mmls.Engine
	cancel context.CancelFunc
	runErr chan error
	result error // what Run returned, once stopped
	logs   chan string

	mu       sync.Mutex
	cond     *sync.Cond
	events   []mmls.Event
	logLines []string
	closed   bool
	tee      chan mmls.Event // a copy of the events for an interface (StartUI)
}

// Start runs a participant from its data directory (a restart when it
// ran before).
func (l *LAN) Start(nick string) *Node { return l.start(nick, false) }

// StartUI is Start for a participant an interface drives: the interface
// reads its events from [Node.UI], and the test still sees them.
func (l *LAN) StartUI(nick string) *Node { return l.start(nick, true) }

func (l *LAN) start(nick string, tee bool) *Node {
	l.t.Helper()
	st, err := store.Open(l.Dir(nick))
	if err != nil {
		l.t.Fatal(err)
	}
	st.SetNoSync(l.NoSync)
	env := dmls.Env{Rand: rand.Reader, Now: l.Clock.Now}
	id, err := mmls.LoadIdentity(st, env, nick, nick)
	if err != nil {
		l.t.Fatal(err)
	}
	n := &Node{l: l, Nick: nick, ID: id.Fingerprint(), st: st, runErr: make(chan error, 1), logs: make(chan string, 4096)}
	n.cond = sync.NewCond(&n.mu)
	if tee {
		n.tee = make(chan mmls.Event, 4096)
	}
	n.ep = l.Hub.Join(n.ID, nick)
	cfg := mmls.Config{Identity: id, Store: st, Net: n.ep, Env: env, Policy: l.Policy, Tick: 5 * time.Millisecond,
		ResendAfter: 30 * time.Second, Logf: n.logf, DownloadDir: l.Dir(nick) + "/downloads"}
	if l.Configure != nil {
		l.Configure(nick, &cfg)
	}
	n.Engine, err = mmls.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.runErr <- n.Engine.Run(ctx) }()
	go n.collect()
	l.mu.Lock()
	l.running[n] = true
	l.ids[nick] = n.ID
	l.mu.Unlock()
	l.t.Cleanup(n.Stop)
	n.WaitFor("ready", func(e mmls.Event) bool { _, ok := e.(*mmls.Ready); return ok })
	return n
}

func (n *Node) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.logLines = append(n.logLines, line)
	n.mu.Unlock()
	select {
	case n.logs <- line:
	default:
	}
}

// Logs returns what the participant's engine logged so far.
func (n *Node) Logs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.logLines...)
}

func (n *Node) collect() {
	for ev := range n.Engine.Events() {
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.cond.Broadcast()
		n.mu.Unlock()
		if n.tee != nil {
			n.tee <- ev
		}
	}
	if n.tee != nil {
		close(n.tee)
	}
	n.mu.Lock()
	n.closed = true
	n.cond.Broadcast()
	n.mu.Unlock()
}

// Stop stops the participant as a process would: engine, network, store;
// what the engine reported before is all in Seen when it returns.
func (n *Node) Stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	n.l.mu.Lock()
	delete(n.l.running, n)
	n.l.mu.Unlock()
	n.result = <-n.runErr
	if n.result != nil && !errors.Is(n.result, context.Canceled) {
		n.l.t.Errorf("%s: engine: %v", n.Nick, n.result)
	}
	// Everything the engine said is seen once Stop returns.
	n.mu.Lock()
	for !n.closed {
		n.cond.Wait()
	}
	n.mu.Unlock()
	n.ep.Close()
	n.st.Close()
}

// Do runs a command and fails the test on an error.
func (n *Node) Do(c mmls.Command) mmls.Event {
	n.l.t.Helper()
	ev, err := n.Try(c)
	if err != nil {
		n.l.t.Fatalf("%s: %T: %v", n.Nick, c, err)
	}
	return ev
}

func (n *Node) Try(c mmls.Command) (mmls.Event, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.Engine.Do(ctx, c)
}

// Mark is how many events the participant has reported so far, for
// WaitAfter.
func (n *Node) Mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.events)
}

// WaitAfter is WaitFor counting only events reported after mark.
func (n *Node) WaitAfter(mark int, what string, ok func(mmls.Event) bool) mmls.Event {
	n.l.t.Helper()
	seen := 0
	return n.WaitFor(what, func(e mmls.Event) bool {
		seen++
		return seen > mark && ok(e)
	})
}

// WaitFor waits for an event that matches (counting from the first one),
// failing after 10 s.
func (n *Node) WaitFor(what string, ok func(mmls.Event) bool) mmls.Event {
	n.l.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	timer := time.AfterFunc(10*time.Second, func() {
		n.mu.Lock()
		n.cond.Broadcast()
		n.mu.Unlock()
	})
	defer timer.Stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for seen := 0; ; {
		for ; seen < len(n.events); seen++ {
			if ok(n.events[seen]) {
				return n.events[seen]
			}
		}
		if n.closed || time.Now().After(deadline) {
			n.mu.Unlock()
			n.dump()
			for _, other := range n.l.runningNodes() {
				if other != n {
					other.dump() // what the others did meanwhile, labelled
				}
			}
			n.mu.Lock()
			n.l.t.Fatalf("%s: no %s within 10s", n.Nick, what)
		}
		n.cond.Wait()
	}
}

func (n *Node) dump() {
	for {
		select {
		case l := <-n.logs:
			n.l.t.Logf("%s log: %s", n.Nick, l)
		default:
			return
		}
	}
}

// Texts counts the messages shown in room, by text.
func (n *Node) Texts(room string) map[string]int {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := map[string]int{}
	for _, ev := range n.events {
		if m, ok := ev.(*mmls.Message); ok && m.Room == room {
			out[m.Text]++
		}
	}
	return out
}

// WaitText waits until n was shown text in room.
func (n *Node) WaitText(room, text string) *mmls.Message {
	n.l.t.Helper()
	return n.WaitFor(fmt.Sprintf("%q in %s", text, room), func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Room == room && m.Text == text
	}).(*mmls.Message)
}

// WaitLinked waits until n joined the send group of each other in room.
func (n *Node) WaitLinked(room string, others ...*Node) {
	n.l.t.Helper()
	for _, o := range others {
		n.WaitFor(fmt.Sprintf("a place in %s's group in %s", o.Nick, room), func(e mmls.Event) bool {
			m, ok := e.(*mmls.MemberChanged)
			return ok && m.Room == room && m.ID == n.ID && m.By == o.ID && m.Change == mmls.ChangeAdded
		})
	}
}

// WaitDelivered waits for the receipt of each other for message id.
func (n *Node) WaitDelivered(id string, others ...*Node) {
	n.l.t.Helper()
	for _, o := range others {
		n.WaitFor("receipt from "+o.Nick, func(e mmls.Event) bool {
			d, ok := e.(*mmls.Delivered)
			return ok && d.MsgID == id && d.To == o.ID
		})
	}
}

// Say writes text in room and returns the message id.
func (n *Node) Say(room, text string) string {
	n.l.t.Helper()
	n.Do(mmls.Say{Room: room, Text: text})
	return n.WaitFor("sent "+text, func(e mmls.Event) bool {
		s, ok := e.(*mmls.Sent)
		return ok && s.Text == text
	}).(*mmls.Sent).MsgID
}

// Room starts participants connected to each other, each in room (the
// lobby by default), and waits until every link is whole both ways.
func (l *LAN) Room(nicks ...string) []*Node {
	l.t.Helper()
	var nodes []*Node
	for _, nick := range nicks {
		nodes = append(nodes, l.Start(nick))
	}
	l.ConnectAll(nodes)
	l.WaitRoom("lobby", nodes)
	return nodes
}

func (l *LAN) ConnectAll(nodes []*Node) {
	l.t.Helper()
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if _, err := a.Try(mmls.Connect{Addr: memnet.Addr(b.Nick)}); err != nil {
				l.t.Fatal(err)
			}
		}
	}
}

func (l *LAN) WaitRoom(room string, nodes []*Node) {
	l.t.Helper()
	for _, a := range nodes {
		var others []*Node
		for _, b := range nodes {
			if b != a {
				others = append(others, b)
			}
		}
		a.WaitLinked(room, others...)
	}
}

// DirectRoom finds the direct room n has with other.
func (n *Node) DirectRoom(other *Node) string {
	n.l.t.Helper()
	rooms := n.Do(mmls.ListRooms{}).(*mmls.Rooms)
	for _, r := range rooms.Rooms {
		if p, ok := n.Engine.DirectPeer(r.Name); r.Direct && ok && p == other.ID {
			return r.Name
		}
	}
	n.l.t.Fatalf("%s has no direct room with %s", n.Nick, other.Nick)
	return ""
}

// UI is the participant as an interface sees its engine (ui.Engine,
// headless.Engine): events come from the copy StartUI keeps.
func (n *Node) UI() *UI { return &UI{n} }

// UI adapts a Node to the interfaces' Engine.
type UI struct{ n *Node }

// Do runs a command on the engine.
func (u *UI) Do(ctx context.Context, c mmls.Command) (mmls.Event, error) {
	return u.n.Engine.Do(ctx, c)
}

// Events is the copy of the engine's events.
func (u *UI) Events() <-chan mmls.Event { return u.n.tee }

// DirectPeer is the engine's.
func (u *UI) DirectPeer(room string) (mmls.ID, bool) { return u.n.Engine.DirectPeer(room) }

// Store is the participant's store (for fault injection).
func (n *Node) Store() *store.Store { return n.st }

// RunErr is what the engine's Run returned (after Stop).
func (n *Node) RunErr() error { return n.result }

// Seen returns the events the participant reported so far.
func (n *Node) Seen() []mmls.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]mmls.Event(nil), n.events...)
}

// Settle waits until the network is quiet: nothing on its way between the
// running participants, and each engine done with what it was doing (it
// answers a question between steps). It fails after 30 s.
func (l *LAN) Settle() {
	l.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		before, idle := l.Hub.Handed(), l.Hub.Idle()
		for _, n := range l.runningNodes() {
			n.Do(mmls.ListRooms{})
		}
		if idle && l.Hub.Idle() && l.Hub.Handed() == before {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatal("the network did not settle within 30s")
		}
	}
}

// ID is the id of the participant called nick (started at least once).
func (l *LAN) ID(nick string) mmls.ID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ids[nick]
}

// RunTimers has every running participant do its timers' work now.
func (l *LAN) RunTimers() {
	l.t.Helper()
	for _, n := range l.runningNodes() {
		n.Do(mmls.RunTimers{})
	}
}

// runningNodes lists the participants running now.
func (l *LAN) runningNodes() []*Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	nodes := make([]*Node, 0, len(l.running))
	for n := range l.running {
		nodes = append(nodes, n)
	}
	return nodes
}

// Dir is the data directory of the participant called nick.
func (l *LAN) Dir(nick string) string { return l.dir + "/" + nick }
