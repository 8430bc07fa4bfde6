package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// running is a started node whose events a test reads; Run goes on until
// stop.
type running struct {
	t      *testing.T
	n      *Node
	cancel context.CancelFunc
	done   chan error
	result error

	mu     sync.Mutex
	cond   *sync.Cond
	events []mmls.Event
	closed bool
}

// run starts a node on loopback without mDNS (cfg adjusts the rest) and
// runs it until the test ends.
func run(t *testing.T, cfg Config) *running {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	n, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, n: n, cancel: cancel, done: make(chan error, 1)}
	r.cond = sync.NewCond(&r.mu)
	go func() { r.done <- n.Run(ctx) }()
	go func() {
		for ev := range n.Engine.Events() { // read, or the engine waits
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.cond.Broadcast()
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		r.cond.Broadcast()
		r.mu.Unlock()
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop ends Run (if it still runs) and closes the store; it returns
// what Run returned.
func (r *running) stop() error {
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
		r.result = <-r.done
		r.n.Close()
	}
	return r.result
}

// waitFor waits for an event that matches, failing after 20 s.
func (r *running) waitFor(what string, ok func(mmls.Event) bool) mmls.Event {
	r.t.Helper()
	timer := time.AfterFunc(20*time.Second, func() {
		r.mu.Lock()
		r.closed = true
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for seen := 0; ; {
		for ; seen < len(r.events); seen++ {
			if ok(r.events[seen]) {
				return r.events[seen]
			}
		}
		if r.closed {
			r.t.Fatalf("no %s", what)
		}
		r.cond.Wait()
	}
}

func (r *running) ready() *mmls.Ready {
	r.t.Helper()
	return r.waitFor("ready", func(e mmls.Event) bool { _, ok := e.(*mmls.Ready); return ok }).(*mmls.Ready)
}

// linked waits until r is in by's send group in room.
func (r *running) linked(room string, by *running) {
	r.t.Helper()
	me, them := r.n.Engine.ID(), by.n.Engine.ID()
	r.waitFor("a place in the group of "+them.Short(), func(e mmls.Event) bool {
		m, ok := e.(*mmls.MemberChanged)
		return ok && m.Room == room && m.ID == me && m.By == them && m.Change == mmls.ChangeAdded
	})
}

func (r *running) do(c mmls.Command) mmls.Event {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, err := r.n.Engine.Do(ctx, c)
	if err != nil {
		r.t.Fatalf("%T: %v", c, err)
	}
	return ev
}

// TestValidate: settings refused before anything is opened, each as a
// usage error naming its flag.
func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg  Config
		flag string // "" for a valid config
	}{
		{Config{}, ""},
		{Config{Nick: "alice", Room: "dev"}, ""},
		{Config{Nick: strings.Repeat("a", 33)}, "--nick"},
		{Config{Nick: "bell\a"}, "--nick"},
		{Config{Room: "two words"}, "--room"},
		{Config{Room: "dm:a:b"}, "--room"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		var usage *UsageError
		switch {
		case tc.flag == "" && err != nil:
			t.Errorf("%+v refused: %v", tc.cfg, err)
		case tc.flag != "" && (!errors.As(err, &usage) || !strings.HasPrefix(err.Error(), tc.flag)):
			t.Errorf("%+v: %v, want a usage error about %s", tc.cfg, err, tc.flag)
		}
	}
}

// TestStartRefuses: a data directory that cannot be used, an address
// that cannot be listened on or dialled: usage errors naming the flag,
// and nothing left open (the same directory starts afterwards).
func TestStartRefuses(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	notDir := data + "/file"
	if err := os.WriteFile(notDir, []byte("not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  Config
		flag string
	}{
		{Config{Data: notDir + "/data", Listen: "127.0.0.1:0"}, "--data"},
		{Config{Data: data, Listen: "nonsense"}, "--listen"},
		{Config{Data: data, Listen: "203.0.113.1:0"}, "--listen"}, // an address not ours
		{Config{Data: data, Listen: "127.0.0.1:0", Peers: []string{"no port"}}, "--peer"},
		{Config{Data: data, Nick: "bell\a"}, "--nick"},
	}
	for _, tc := range tests {
		n, err := Start(tc.cfg)
		var usage *UsageError
		if err == nil {
			n.Close()
		}
		if !errors.As(err, &usage) || !strings.HasPrefix(err.Error(), tc.flag) {
			t.Errorf("%+v: %v, want a usage error about %s", tc.cfg, err, tc.flag)
		}
	}
	r := run(t, Config{Data: data, Nick: "alice"})
	if r.ready().Nick != "alice" {
		t.Fatal("the directory does not start after the refusals")
	}
}

// TestReady: a node started without mDNS listens where it says, under
// the nick it was given (or the default one, or "anonymous" when that is
// no nick), in the room it was given; a restart keeps the nick.
func TestReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		nick     string
		room     string
		restart  Config // a second start on the same data, if Data is set
		nickThen string
	}{
		{"a nick", Config{Nick: "alice"}, "alice", "lobby", Config{Data: "same"}, "alice"},
		{"the default nick", Config{DefaultNick: "bob"}, "bob", "lobby", Config{}, ""},
		{"no usable default", Config{DefaultNick: "two\nlines"}, "anonymous", "lobby", Config{}, ""},
		{"a start room", Config{Nick: "carol", Room: "dev"}, "carol", "dev", Config{Data: "same", Nick: "caroline"}, "caroline"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.Data = t.TempDir()
			r := run(t, tc.cfg)
			ready := r.ready()
			if ready.Nick != tc.nick || ready.Room != tc.room || ready.Listen != r.n.Listen || ready.ID != r.n.Engine.ID() {
				t.Fatalf("ready %+v (listening on %s)", ready, r.n.Listen)
			}
			if r.n.MDNS != "off (--no-mdns)" || len(ready.Notes) != 0 || len(ready.Addrs) != 1 || ready.Addrs[0] != r.n.Listen {
				t.Fatalf("mDNS %q, notes %q, addrs %q", r.n.MDNS, ready.Notes, ready.Addrs)
			}
			c, err := net.Dial("tcp", r.n.Listen)
			if err != nil {
				t.Fatalf("nobody listens at %s: %v", r.n.Listen, err)
			}
			c.Close()
			if err := r.stop(); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run returned %v", err)
			}
			if tc.restart.Data == "" {
				return
			}
			tc.restart.Data = tc.cfg.Data
			r2 := run(t, tc.restart)
			if got := r2.ready(); got.Nick != tc.nickThen || got.ID != ready.ID {
				t.Fatalf("after a restart: %s (%s), want %s (%s)", got.Nick, got.ID.Short(), tc.nickThen, ready.ID.Short())
			}
		})
	}
}

// TestPortTaken: when the port asked for is taken, the node listens on a
// free one and says so, in Ready's notes and on Notes (or in the log).
func TestPortTaken(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, toNotes := range []bool{true, false} {
		var notes strings.Builder
		var logged []string
		var mu sync.Mutex
		cfg := Config{Data: t.TempDir(), Nick: "alice", Listen: taken.Addr().String(),
			Logf: func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				logged = append(logged, fmt.Sprintf(format, args...))
			}}
		if toNotes {
			cfg.Notes = &notes
		}
		r := run(t, cfg)
		ready := r.ready()
		want := fmt.Sprintf("port %s is taken; listening on %s instead", taken.Addr(), r.n.Listen)
		if r.n.Listen == taken.Addr().String() || len(ready.Notes) != 1 || ready.Notes[0] != want {
			t.Fatalf("listening on %s, notes %q", r.n.Listen, ready.Notes)
		}
		r.stop()
		mu.Lock()
		inLog := strings.Join(logged, "\n")
		mu.Unlock()
		if toNotes && (notes.String() != "mmls-chat: "+want+"\n" || strings.Contains(inLog, want)) {
			t.Errorf("with Notes: notes %q, log %q", notes.String(), inLog)
		}
		if !toNotes && !strings.Contains(inLog, want) {
			t.Errorf("without Notes, the log: %q", inLog)
		}
	}
}

// TestMDNSUnavailable: mDNS that cannot start is said once, plainly, and
// the node runs without it.
func TestMDNSUnavailable(t *testing.T) {
	t.Parallel()
	var notes strings.Builder
	r := run(t, Config{Data: t.TempDir(), Nick: "alice", MDNS: true, Ifaces: []string{"no-such-if0"}, Notes: &notes})
	ready := r.ready()
	if r.n.MDNS != "unavailable" || len(ready.Notes) != 1 || !strings.HasPrefix(ready.Notes[0], "mDNS is unavailable") ||
		!strings.Contains(notes.String(), "peers can still be reached with --peer and /connect") {
		t.Fatalf("mDNS %q, notes %q, written %q", r.n.MDNS, ready.Notes, notes.String())
	}
}

// TestTwoNodes: bob, given alice's address, forms the lobby with her and
// they exchange messages both ways; restarted without it, he finds her
// again from the peers he knew, and what she wrote while he was away
// reaches him.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	alice := run(t, Config{Data: t.TempDir(), Nick: "alice"})
	alice.ready()
	bobData := t.TempDir()
	bob := run(t, Config{Data: bobData, Nick: "bob", Peers: []string{alice.n.Listen}})
	bob.ready()
	bob.linked("lobby", alice)
	alice.linked("lobby", bob)
	alice.do(mmls.Say{Room: "lobby", Text: "hello bob"})
	bob.waitFor("alice's line", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Text == "hello bob" && m.FromID == alice.n.Engine.ID()
	})
	bob.do(mmls.Say{Room: "lobby", Text: "hello alice"})
	alice.waitFor("bob's line", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Text == "hello alice" && m.FromID == bob.n.Engine.ID()
	})
	peers := alice.do(mmls.ListPeers{}).(*mmls.Peers)
	if len(peers.Peers) != 1 || peers.Peers[0].ID != bob.n.Engine.ID() || !peers.Peers[0].Online {
		t.Fatalf("alice's peers: %+v", peers.Peers)
	}

	bob.stop()
	alice.waitFor("bob gone", func(e mmls.Event) bool {
		p, ok := e.(*mmls.PeerChanged)
		return ok && p.ID == bob.n.Engine.ID() && !p.Online
	})
	alice.do(mmls.Say{Room: "lobby", Text: "while you were away"})
	bob2 := run(t, Config{Data: bobData})
	bob2.waitFor("alice's line from before the restart", func(e mmls.Event) bool {
		m, ok := e.(*mmls.Message)
		return ok && m.Text == "while you were away"
	})
}

// TestQuit: a Quit ends Run with nil, and the node stops listening.
func TestQuit(t *testing.T) {
	t.Parallel()
	r := run(t, Config{Data: t.TempDir(), Nick: "alice"})
	r.ready()
	r.do(mmls.Quit{})
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
		r.done <- err // for stop
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Quit")
	}
	if c, err := net.Dial("tcp", r.n.Listen); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections", r.n.Listen)
	}
}

// TestReachable: where others reach a listener: the address it is bound
// to, else each usable interface's (never loopback), else loopback.
func TestReachable(t *testing.T) {
	t.Parallel()
	if got := reachable(&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 7000}); len(got) != 1 || got[0] != "10.1.2.3:7000" {
		t.Errorf("bound to one address: %q", got)
	}
	for _, ip := range []net.IP{net.IPv4zero, net.IPv6unspecified} {
		got := reachable(&net.TCPAddr{IP: ip, Port: 7000})
		if len(got) == 0 {
			t.Fatalf("%s: nothing", ip)
		}
		for _, a := range got {
			host, port, err := net.SplitHostPort(a)
			if err != nil || port != "7000" {
				t.Errorf("%s: %q", ip, a)
				continue
			}
			if h := net.ParseIP(host); h.IsLoopback() && len(got) > 1 || h.IsUnspecified() {
				t.Errorf("%s: %q among %q", ip, a, got)
			}
		}
	}
}

// TestUsageError: a usage error says its cause and unwraps to it.
func TestUsageError(t *testing.T) {
	t.Parallel()
	cause := errors.New("--data x: no such folder")
	var err error = &UsageError{cause}
	if err.Error() != cause.Error() || !errors.Is(err, cause) {
		t.Fatalf("%v", err)
	}
}

// TestListenerFailure: the listener dies under a running node (closed by
// something else than the node): Run says so and returns an error, so the
// process exits non-zero, instead of running on deaf.
func TestListenerFailure(t *testing.T) {
	t.Parallel()
	r := run(t, Config{Data: t.TempDir(), Nick: "alice"})
	r.ready()
	r.n.l.Close()
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(err.Error(), "listening on") {
			t.Fatalf("Run returned %v, want the listener's failure", err)
		}
		r.done <- nil // for stop
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when its listener failed")
	}
}
