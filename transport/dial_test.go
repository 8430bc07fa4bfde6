package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// startCounted is startNode with a listener that counts what it accepts.
func startCounted(t testing.TB, cfg Config) (*node, *countingListener) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: raw}
	return serveOn(t, cfg, l), l
}

// calmConfig is testConfig with timeouts no busy machine reaches: these
// tests count connections, and a handshake timed out or a connection
// declared dead would be dialled again.
func calmConfig(name string) Config {
	c := testConfig(name)
	c.HandshakeTimeout, c.Heartbeat, c.DeadAfter = 30*time.Second, time.Second, time.Minute
	return c
}

// smallerFirst orders two configs by their identities' ids.
func smallerFirst(x, y Config) (Config, Config) {
	ix, iy := IDOf(x.Identity.PublicKey()), IDOf(y.Identity.PublicKey())
	if bytes.Compare(ix[:], iy[:]) < 0 {
		return x, y
	}
	return y, x
}

// TestExchangeOneHandshakePerPair: b and c dial only a; peer exchange
// tells each of them about the other at the same moment. Only the smaller
// id dials: b and c get one connection between them, not two of which
// one is closed as a duplicate. (Before, both dialled: a room of 20
// forming on one machine opened about 50 connections too many.)
func TestExchangeOneHandshakePerPair(t *testing.T) {
	t.Parallel()
	a := startNode(t, calmConfig("a"))
	small, large := smallerFirst(calmConfig("b"), calmConfig("c"))
	bookS, bookL := &logBook{}, &logBook{}
	small.Logf, large.Logf = bookS.logf, bookL.logf
	small.DialYield, large.DialYield = time.Minute, time.Minute // never over in this test
	s, ls := startCounted(t, small)
	l, ll := startCounted(t, large)
	if err := s.t.Connect(a.addr); err != nil {
		t.Fatal(err)
	}
	if err := l.t.Connect(a.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, s, l.t.ID())
	waitUp(t, l, s.t.ID())
	// The larger's dial, had it dialled on hearing of the smaller, would
	// have been accepted before either handshake ended.
	if got := ls.accepted.Load() + ll.accepted.Load(); got != 1 {
		t.Errorf("%d connections accepted between the two, want 1", got)
	}
	if ll.accepted.Load() != 1 {
		t.Errorf("the larger id accepted %d connections; the smaller should have dialled it", ll.accepted.Load())
	}
	for _, b := range []*logBook{bookS, bookL} {
		b.mu.Lock()
		for _, line := range b.lines {
			if strings.Contains(line, "duplicate connection") {
				t.Errorf("log: %s", line)
			}
		}
		b.mu.Unlock()
	}
}

// TestExchangeYieldThenDial: the larger id yields to the smaller, but not
// for ever: when the smaller cannot reach it (here a tells the smaller a
// port where the larger does not listen), the larger dials once its
// DialYield is over, and not before.
func TestExchangeYieldThenDial(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("a"))
	small, large := smallerFirst(testConfig("exchange x"), testConfig("exchange y"))
	const yield = 300 * time.Millisecond
	small.DialYield, large.DialYield = yield, yield
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	large.ListenPort = dead.Addr().(*net.TCPAddr).Port // what a passes on
	dead.Close()
	s := startNode(t, small)
	l := startNode(t, large)
	if err := s.t.Connect(a.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, s, a.t.ID())
	start := time.Now()
	if err := l.t.Connect(a.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, l, s.t.ID())
	if waited := time.Since(start); waited < yield {
		t.Errorf("the larger dialled %v after it could learn of the smaller, within its yield of %v", waited, yield)
	}
}

// TestSightedDialYield: two peers that see each other's mDNS
// announcements connect once, dialled by the smaller id at once; when only
// the larger sees the other (the smaller's multicast is lost, say), it
// dials once DialYield is over, not before.
func TestSightedDialYield(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                    string
		toldSmaller, toldLarger bool
		yield                   time.Duration
	}{
		// The yield is never over here: the connection is the smaller's.
		{"both see each other", true, true, time.Minute},
		{"only the smaller sees", true, false, time.Minute},
		// Here it must be, and the larger dials.
		{"only the larger sees", false, true, 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			small, large := smallerFirst(calmConfig(tc.name+" x"), calmConfig(tc.name+" y"))
			small.DialYield, large.DialYield = tc.yield, tc.yield
			s, ls := startCounted(t, small)
			l, ll := startCounted(t, large)
			start := time.Now()
			if tc.toldSmaller {
				if err := s.t.Sighted(l.addr, l.t.ID()); err != nil {
					t.Fatal(err)
				}
			}
			if tc.toldLarger {
				if err := l.t.Sighted(s.addr, s.t.ID()); err != nil {
					t.Fatal(err)
				}
			}
			waitUp(t, s, l.t.ID())
			waitUp(t, l, s.t.ID())
			if got := ls.accepted.Load() + ll.accepted.Load(); got != 1 {
				t.Errorf("%d connections accepted, want 1", got)
			}
			if !tc.toldSmaller {
				if waited := time.Since(start); waited < tc.yield {
					t.Errorf("the larger dialled after %v, before its yield of %v", waited, tc.yield)
				}
				if ls.accepted.Load() != 1 {
					t.Errorf("the smaller accepted %d connections, want the larger's 1", ls.accepted.Load())
				}
			}
		})
	}
}

// TestRecallDoesNotYield: an address remembered from before a restart is
// dialled at once whichever id is smaller: the peer may be deep in its
// backoff and not dial us for a long while.
func TestRecallDoesNotYield(t *testing.T) {
	t.Parallel()
	small, large := smallerFirst(testConfig("recall x"), testConfig("recall y"))
	small.DialYield, large.DialYield = time.Minute, time.Minute
	s := startNode(t, small)
	l := startNode(t, large)
	if err := l.t.Recall(s.addr, s.t.ID()); err != nil {
		t.Fatal(err)
	}
	waitUp(t, l, s.t.ID())
}

// TestPlainReason: why a dial failed, in the words the interface shows.
func TestPlainReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "nobody is listening there"},
		{fmt.Errorf("dial: %w", syscall.EHOSTUNREACH), "no route to that address"},
		{ErrSelf, "that is this node"},
		{fmt.Errorf("handshake: %w: 2", ErrVersion), "another version of mmls-chat"},
		{&net.DNSError{Name: "nowhere.lan"}, "unknown host nowhere.lan"},
		{errors.New("something else"), "the handshake failed"},
	}
	for _, tt := range tests {
		if got := plainReason(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("plainReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
