package transport

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// edIdentity is a plain Ed25519 identity for tests.
type edIdentity struct{ priv ed25519.PrivateKey }

func newEdIdentity(seed string) *edIdentity {
	s := sha256.Sum256([]byte(seed))
	return &edIdentity{priv: ed25519.NewKeyFromSeed(s[:])}
}

func (e *edIdentity) PublicKey() []byte { return e.priv.Public().(ed25519.PublicKey) }

func (e *edIdentity) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(e.priv, msg), nil }

func edVerify(pub, msg, sig []byte) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, msg, sig)
}

func testConfig(name string) Config {
	return Config{
		Identity: newEdIdentity(name), Nick: name,
		HandshakeTimeout: 2 * time.Second, Heartbeat: 100 * time.Millisecond, DeadAfter: time.Second,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
	}
}

// node is a transport serving on a loopback port.
type node struct {
	t    *Transport
	addr string
}

func startNode(t testing.TB, cfg Config) *node {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, cfg, l)
}

// serveOn starts a transport serving on l.
func serveOn(t testing.TB, cfg Config, l net.Listener) *node {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	// Arguments, not captured variables: the cleanup below runs on another
	// goroutine.
	go func(tr *Transport, l net.Listener) { tr.Serve(l) }(tr, l)
	t.Cleanup(func() { tr.Close() })
	return &node{t: tr, addr: l.Addr().String()}
}

// shaking counts the inbound connections still handshaking.
func (n *node) shaking() int {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	c := 0
	for conn := range n.t.conns {
		if !conn.evicted && !conn.dialer && conn.peer == nil {
			c++
		}
	}
	return c
}

// waitFor reads events until ok returns true, failing after the deadline.
func waitFor(t testing.TB, n *node, d time.Duration, ok func(Event) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e, open := <-n.t.Events():
			if !open {
				t.Fatal("events closed")
			}
			if ok(e) {
				return
			}
		case <-timeout:
			t.Fatalf("timed out after %v", d)
		}
	}
}

func waitUp(t testing.TB, n *node, peer ID) {
	t.Helper()
	waitFor(t, n, 10*time.Second, func(e Event) bool { return e.Type == PeerUp && e.Peer == peer })
}

// TestLoopbackExactlyOnceInOrder: three transports send 10,000 frames in
// every direction while connections are cut at random; every frame arrives
// exactly once and in order.
func TestLoopbackExactlyOnceInOrder(t *testing.T) {
	t.Parallel()
	const frames = 10000
	nodes := []*node{startNode(t, testConfig("a")), startNode(t, testConfig("b")), startNode(t, testConfig("c"))}
	// a knows b and c by address; b and c find each other by peer exchange.
	nodes[0].t.Connect(nodes[1].addr)
	nodes[0].t.Connect(nodes[2].addr)

	type key struct{ from, to int }
	var mu sync.Mutex
	next := map[key]uint32{}
	done := make(chan struct{})
	remaining := len(nodes) * (len(nodes) - 1) * frames
	index := map[ID]int{}
	for i, n := range nodes {
		index[n.t.ID()] = i
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cuts := 0
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range n.t.Events() {
				if e.Type != Message {
					continue
				}
				from := int(e.Payload[0])
				seq := binary.BigEndian.Uint32(e.Payload[1:5])
				mu.Lock()
				k := key{from, i}
				if seq != next[k] {
					mu.Unlock()
					t.Errorf("%d->%d: got frame %d, want %d", from, i, seq, next[k])
					return
				}
				next[k]++
				remaining--
				victim := -1
				if remaining%1500 == 0 && remaining > 0 {
					victim = rng.IntN(len(nodes))
					cuts++
				}
				finished := remaining == 0
				mu.Unlock()
				n.t.Ack(e.Peer, e.Seq)
				if victim >= 0 {
					cutRandom(nodes[victim].t)
				}
				if finished {
					close(done)
				}
			}
		}()
	}
	// Senders: every node to every other, waiting for the peer to be known.
	for i, n := range nodes {
		for j, m := range nodes {
			if i == j {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				payload := make([]byte, 64)
				payload[0] = byte(i)
				for f := uint32(0); f < frames; {
					binary.BigEndian.PutUint32(payload[1:5], f)
					_, err := n.t.Send(m.t.ID(), payload)
					switch {
					case err == nil:
						f++
					case errors.Is(err, ErrUnknownPeer), errors.Is(err, ErrBackpressure):
						runtime.Gosched() // not connected yet, or queue full: retry
					case errors.Is(err, ErrClosed):
						return
					default:
						t.Errorf("send: %v", err)
						return
					}
				}
			}()
		}
	}
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		mu.Lock()
		t.Fatalf("timed out: %d frames missing; progress %v", remaining, next)
	}
	for _, n := range nodes {
		n.t.Close()
	}
	wg.Wait()
	if cuts < 5 {
		t.Errorf("only %d connection cuts happened", cuts)
	}
	t.Logf("%d frames, %d connection cuts", len(nodes)*(len(nodes)-1)*frames, cuts)
}

// cutRandom closes one authenticated connection of t without telling it.
func cutRandom(t *Transport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		if c.peer != nil {
			c.nc.Close()
			return
		}
	}
}

func TestSimultaneousDialKeepsOneConnection(t *testing.T) {
	t.Parallel()
	a, b := startNode(t, testConfig("a")), startNode(t, testConfig("b"))
	a.t.Connect(b.addr)
	b.t.Connect(a.addr)
	waitUp(t, a, b.t.ID())
	// Messages flow both ways over whichever connection won.
	if _, err := a.t.Send(b.t.ID(), []byte("ping")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, 10*time.Second, func(e Event) bool { return e.Type == Message && string(e.Payload) == "ping" })
	deadline := time.Now().Add(10 * time.Second)
	for {
		na, nb := authConns(a.t), authConns(b.t)
		if na == 1 && nb == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections: a has %d, b has %d", na, nb)
		}
		runtime.Gosched()
	}
}

func authConns(t *Transport) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for c := range t.conns {
		if c.peer != nil && c.peer.conn == c {
			n++
		}
	}
	return n
}

func TestConnectionToSelfIsDropped(t *testing.T) {
	t.Parallel()
	a := startNode(t, testConfig("a"))
	if err := a.t.Connect(a.addr); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.t.mu.Lock()
		_, still := a.t.targets[a.addr]
		a.t.mu.Unlock()
		if !still {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("self target never dropped")
		}
		runtime.Gosched()
	}
	if len(a.t.Peers()) != 0 {
		t.Fatal("we became our own peer")
	}
}

func TestBackpressureWhilePeerOffline(t *testing.T) {
	t.Parallel()
	cfg := testConfig("a")
	cfg.QueueLimit = 10
	a, b := startNode(t, cfg), startNode(t, testConfig("b"))
	a.t.Connect(b.addr)
	waitUp(t, a, b.t.ID())
	b.t.Close()
	for i := 0; i < 10; i++ {
		if _, err := a.t.Send(b.t.ID(), []byte{byte(i)}); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if _, err := a.t.Send(b.t.ID(), []byte("one too many")); !errors.Is(err, ErrBackpressure) {
		t.Fatalf("want ErrBackpressure, got %v", err)
	}
	if _, err := a.t.Send(ID{1}, nil); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("want ErrUnknownPeer, got %v", err)
	}
	if _, err := a.t.Send(b.t.ID(), make([]byte, DefaultMaxFrame)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
}

// TestUnackedFramesSurviveReconnect: frames the receiver did not ack are
// sent again after the connection drops; acked ones are not.
func TestUnackedFramesSurviveReconnect(t *testing.T) {
	t.Parallel()
	a, b := startNode(t, testConfig("a")), startNode(t, testConfig("b"))
	a.t.Connect(b.addr)
	waitUp(t, a, b.t.ID())
	for _, s := range []string{"one", "two"} {
		if _, err := a.t.Send(b.t.ID(), []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var firstSeq uint64
	waitFor(t, b, 10*time.Second, func(e Event) bool {
		if e.Type == Message && string(e.Payload) == "one" {
			firstSeq = e.Seq
		}
		return e.Type == Message && string(e.Payload) == "two"
	})
	b.t.Ack(a.t.ID(), firstSeq) // "two" stays unacknowledged
	// Wait until a has dropped "one" from its queue, then cut.
	deadline := time.Now().Add(10 * time.Second)
	for queued(a.t, b.t.ID()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("queue still %d", queued(a.t, b.t.ID()))
		}
		runtime.Gosched()
	}
	// b restarts with a fresh transport (same identity): its numbering state
	// is gone, so the unacknowledged "two" must come again, "one" must not.
	b.t.Close()
	b2 := startNode(t, testConfig("b"))
	a.t.Connect(b2.addr)
	waitFor(t, b2, 15*time.Second, func(e Event) bool {
		if e.Type == Message && string(e.Payload) == "one" {
			t.Fatal("acknowledged frame sent again")
		}
		return e.Type == Message && string(e.Payload) == "two"
	})
}

// TestAcknowledgementRidesOrWaits: an acknowledgement with nothing else
// to send waits AckDelay for a frame to ride with; it goes with the next
// frame to the sender, or alone once AckDelay has passed. (No heartbeat
// in these runs: a ping would carry it too.)
func TestAcknowledgementRidesOrWaits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		delay time.Duration
		reply bool
	}{
		{"with the next frame", time.Hour, true},
		{"alone after the delay", 20 * time.Millisecond, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			quiet := func(name string) Config {
				cfg := testConfig(name)
				cfg.Heartbeat, cfg.DeadAfter, cfg.AckDelay = time.Hour, time.Hour, tc.delay
				return cfg
			}
			a, b := startNode(t, quiet("a")), startNode(t, quiet("b"))
			a.t.Connect(b.addr)
			waitUp(t, a, b.t.ID())
			if _, err := a.t.Send(b.t.ID(), []byte("one")); err != nil {
				t.Fatal(err)
			}
			var seq uint64
			waitFor(t, b, 10*time.Second, func(e Event) bool {
				seq = e.Seq
				return e.Type == Message && string(e.Payload) == "one"
			})
			b.t.Ack(a.t.ID(), seq)
			if tc.reply {
				if _, err := b.t.Send(a.t.ID(), []byte("reply")); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for queued(a.t, b.t.ID()) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the acknowledgement never came: %d frames still queued", queued(a.t, b.t.ID()))
				}
				runtime.Gosched()
			}
		})
	}
}

// TestReconnectReplacesStaleConnection: a restarts (same identity, new
// instance) while its old connection to b still looks alive (no heartbeat
// to say otherwise); its new connection, dialled by the same side, is
// taken and the stale one closed, and what b sends reaches the new a.
func TestReconnectReplacesStaleConnection(t *testing.T) {
	t.Parallel()
	quiet := func(name string) Config {
		cfg := testConfig(name)
		cfg.Heartbeat, cfg.DeadAfter = time.Hour, time.Hour
		return cfg
	}
	a1, b := startNode(t, quiet("a")), startNode(t, quiet("b"))
	a1.t.Connect(b.addr)
	waitUp(t, b, a1.t.ID())
	waitUp(t, a1, b.t.ID())
	a2 := startNode(t, quiet("a"))
	a2.t.Connect(b.addr)
	waitUp(t, a2, b.t.ID())
	waitFor(t, a1, 10*time.Second, func(e Event) bool { return e.Type == PeerDown && e.Peer == b.t.ID() })
	if _, err := b.t.Send(a2.t.ID(), []byte("to the new a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a2, 10*time.Second, func(e Event) bool { return e.Type == Message && string(e.Payload) == "to the new a" })
}

func queued(t *Transport, id ID) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[id]; p != nil {
		return len(p.queue)
	}
	return -1
}

// TestHostileConnections: each bad client is refused without harm to an
// established connection.
// logBook collects a transport's log lines, for tests that check why a
// connection was closed.
type logBook struct {
	mu    sync.Mutex
	lines []string
	grew  chan struct{} // closed and replaced on every line
}

func (b *logBook) logf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, fmt.Sprintf(format, args...))
	if b.grew != nil {
		close(b.grew)
	}
	b.grew = make(chan struct{})
}

// waitCount waits until at least n lines contain s, failing after d.
func (b *logBook) waitCount(t testing.TB, s string, n int, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		b.mu.Lock()
		count := 0
		for _, l := range b.lines {
			if strings.Contains(l, s) {
				count++
			}
		}
		if b.grew == nil {
			b.grew = make(chan struct{})
		}
		grew := b.grew
		b.mu.Unlock()
		if count >= n {
			return
		}
		select {
		case <-grew:
		case <-timeout:
			t.Fatalf("%d log lines with %q after %v, want %d", count, s, d, n)
		}
	}
}

// reason returns the logged line about the connection from addr.
func (b *logBook) reason(addr string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, l := range b.lines {
		if strings.Contains(l, "handshake with "+addr+":") {
			return l
		}
	}
	return ""
}

// dialTLS opens the channel to addr with cert, as a hostile client might;
// the handshake may fail on the server's side only, after it returns.
func dialTLS(t *testing.T, addr string, cert *tls.Certificate) net.Conn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := tls.Client(raw, cfg)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	_ = c.Handshake() // the server may refuse us after our side finished
	return c
}

// identityCert is the certificate of a fresh identity, as a peer makes it.
func identityCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	cert, err := certificate(newEdIdentity(name))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestHostileConnections: each hostile client is closed quickly, for its
// own reason (the handshake timeout is long, so a check that stopped
// working would leave its client hanging), while a good connection
// carries on. Some fail TLS; the others hold a key of their own and
// misbehave inside the channel.
func TestHostileConnections(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.HandshakeTimeout = time.Minute
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	good := startNode(t, testConfig("good"))
	good.t.Connect(srv.addr)
	waitUp(t, srv, good.t.ID())

	ecdsaKey, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecdsaDER, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &ecdsaKey.PublicKey, ecdsaKey)
	if err != nil {
		t.Fatal(err)
	}
	stolen := identityCert(t, "good")                            // good's certificate...
	stolen.PrivateKey = ed25519.NewKeyFromSeed(make([]byte, 32)) // ...without good's key
	raw := func(b []byte) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(b)
			return c
		}
	}
	withCert := func(cert *tls.Certificate) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn { return dialTLS(t, srv.addr, cert) }
	}
	inside := func(frames ...[]byte) func(t *testing.T) net.Conn {
		return func(t *testing.T) net.Conn {
			cert := identityCert(t, "mallory-"+t.Name())
			c := dialTLS(t, srv.addr, &cert)
			for _, f := range frames {
				c.Write(f)
			}
			return c
		}
	}
	random := make([]byte, 4096)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(r.UintN(256))
	}
	validHello := appendFrame(nil, frameHello, (&hello{nick: "evil", listenPort: 1}).marshal())
	oldVersion := bytes.Clone(validHello)
	oldVersion[0] = 1
	lastRelease := bytes.Clone(validHello)
	lastRelease[0] = 2 // the release before numbered envelopes
	cases := []struct {
		name   string
		open   func(t *testing.T) net.Conn
		reason string
	}{
		{"random bytes", raw(random), "tls: "},
		{"an old plaintext hello", raw(oldVersion), "tls: "},
		{"no certificate", withCert(nil), "certificate"},
		{"not an Ed25519 key", withCert(&tls.Certificate{Certificate: [][]byte{ecdsaDER}, PrivateKey: ecdsaKey}), "not an Ed25519 key"},
		{"someone else's certificate", withCert(&stolen), "tls: "},
		{"old frame version inside", inside(oldVersion), "unsupported frame version: 1"},
		{"the last release's frames inside", inside(lastRelease), "unsupported frame version: 2"},
		{"unknown frame type inside", inside([]byte{Version, 99, 0, 0, 0, 0}), "unknown frame type"},
		{"retired auth frame inside", inside([]byte{Version, byte(frameRetired), 0, 0, 0, 0}), "unknown frame type: 2"},
		{"oversized length inside", inside([]byte{Version, byte(frameHello), 0xff, 0xff, 0xff, 0xff}), "frame too large"},
		{"data before hello inside", inside(appendFrame(nil, frameData, seqPayload(1, []byte("x")))), "data before hello"},
		{"truncated hello inside", inside(appendFrame(nil, frameHello, []byte{40, 1, 2})), "hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.open(t)
			defer c.Close()
			// The server must close on us, quickly: reading ends with EOF,
			// an alert or a reset long before the handshake timeout.
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.Copy(io.Discard, c); err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("server kept a hostile connection open")
				}
			}
			// The server logs its reason once its handshake returns,
			// which may be just after the alert or close reached us.
			book.waitCount(t, "handshake with "+c.LocalAddr().String()+":", 1, 5*time.Second)
			why := book.reason(c.LocalAddr().String())
			if !strings.Contains(why, tc.reason) {
				t.Fatalf("closed for %q, want %q", why, tc.reason)
			}
		})
	}
	// The good connection still carries traffic.
	if _, err := good.t.Send(srv.t.ID(), []byte("still here")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, srv, 10*time.Second, func(e Event) bool {
		if e.Type == PeerUp && e.Peer != good.t.ID() {
			t.Fatalf("a hostile client authenticated as %s", e.Peer.Short())
		}
		return e.Type == Message && string(e.Payload) == "still here"
	})
}

// TestSilentClientTimesOut: a client that says nothing is closed when the
// handshake timeout passes.
func TestSilentClientTimesOut(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.HandshakeTimeout = 200 * time.Millisecond
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("server kept a silent connection open")
		}
	}
	if why := book.reason(c.LocalAddr().String()); !strings.Contains(why, "timeout") {
		t.Fatalf("closed for %q", why)
	}
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.MaxConns = 2
	srv := startNode(t, cfg)
	// Both slots are held by clients that finish TLS and then say nothing
	// (each gets the server's hello, so its slot is taken); a third is
	// closed at once.
	for i := 0; i < 2; i++ {
		cert := identityCert(t, fmt.Sprint("holder", i))
		c := dialTLS(t, srv.addr, &cert)
		defer c.Close()
		if _, err := readFrame(c, maxHandshakeFrame); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("third connection not closed: %v", err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		a, b := startNode(t, testConfig("a")), startNode(t, testConfig("b"))
		a.t.Connect(b.addr)
		waitUp(t, a, b.t.ID())
		a.t.Send(b.t.ID(), []byte("x"))
		a.t.Close()
		b.t.Close()
		for range a.t.Events() {
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func TestFrameCodecRoundTrip(t *testing.T) {
	t.Parallel()
	h := &hello{nick: "ni", listenPort: 7420, incarnation: 9}
	got, err := parseHello(h.marshal())
	if err != nil || *got != *h {
		t.Fatalf("%+v %v", got, err)
	}
	list := []peerAddr{{id: ID{1}, addr: "10.0.0.1:7420"}, {id: ID{2}, addr: "[::1]:1"}}
	back, err := parsePeers(marshalPeers(list))
	if err != nil || fmt.Sprint(back) != fmt.Sprint(list) {
		t.Fatalf("%v %v", back, err)
	}
	// Bounds: a nick over maxNick is cut by its sender and refused from a
	// peer that did not; more than maxPeerEntries entries are refused.
	long := &hello{nick: strings.Repeat("n", 300)}
	if got, err := parseHello(long.marshal()); err != nil || len(got.nick) != maxNick {
		t.Fatalf("a long nick: %d bytes, %v", len(got.nick), err)
	}
	raw := append(append([]byte{maxNick + 1}, strings.Repeat("n", maxNick+1)...), make([]byte, 10)...)
	if _, err := parseHello(raw); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a nick of %d bytes: %v", maxNick+1, err)
	}
	many := binary.BigEndian.AppendUint16(nil, maxPeerEntries+1)
	if _, err := parsePeers(many); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d peer entries: %v", maxPeerEntries+1, err)
	}
	if _, err := parsePeers(append(marshalPeers(list), 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a byte after the entries: %v", err)
	}
}

// stallListener hands out connections that stop reading once stall is
// closed (fault injection: a peer whose socket stops draining).
type stallListener struct {
	net.Listener
	stall chan struct{}
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, stall: l.stall, closed: make(chan struct{})}, nil
}

type stallConn struct {
	net.Conn
	stall  <-chan struct{}
	closed chan struct{}
	once   sync.Once
}

func (c *stallConn) Read(p []byte) (int, error) {
	select {
	case <-c.stall:
		<-c.closed
		return 0, net.ErrClosed
	default:
		return c.Conn.Read(p)
	}
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// TestSlowPeerDoesNotStarveOthers: b's socket stops draining, and a floods
// b until its queue pushes back; meanwhile c gets frames from a without
// delay.
func TestSlowPeerDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	// A stalled peer is never declared dead here: c must be served while
	// b stalls, not after b is dropped.
	cfg := testConfig("a")
	cfg.DeadAfter = time.Minute
	a, c := startNode(t, cfg), startNode(t, testConfig("c"))
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stall := &stallListener{Listener: bl, stall: make(chan struct{})}
	bt, err := New(testConfig("b"))
	if err != nil {
		t.Fatal(err)
	}
	go func(tr *Transport, l net.Listener) { tr.Serve(l) }(bt, stall)
	t.Cleanup(func() { bt.Close() })
	b := &node{t: bt, addr: bl.Addr().String()}
	a.t.Connect(b.addr)
	a.t.Connect(c.addr)
	seen := map[ID]bool{}
	waitFor(t, a, 10*time.Second, func(e Event) bool {
		if e.Type == PeerUp {
			seen[e.Peer] = true
		}
		return seen[b.t.ID()] && seen[c.t.ID()]
	})
	close(stall.stall) // b's socket stops draining from here on
	// The flood and the sends to c run on their own goroutine: a Send
	// that blocks behind b's stalled socket must not stall this test.
	big := make([]byte, 64<<10)
	flooded := 0
	sent := make(chan error, 1)
	go func() {
		for flooded < 20000 {
			if _, err := a.t.Send(b.t.ID(), big); err != nil {
				if !errors.Is(err, ErrBackpressure) {
					sent <- err
					return
				}
				break
			}
			flooded++
		}
		// c is served while b's queue is full and its socket stalled.
		for i := 0; i < 50; i++ {
			if _, err := a.t.Send(c.t.ID(), []byte{byte(i)}); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	got := 0
	waitFor(t, c, 5*time.Second, func(e Event) bool {
		if e.Type == Message {
			c.t.Ack(e.Peer, e.Seq)
			got++
		}
		return got == 50
	})
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if flooded*len(big) > DefaultQueueBytes {
		t.Fatalf("queued %d bytes for one peer", flooded*len(big))
	}
	t.Logf("queued %d frames of 64 KiB for the stalled peer before back-pressure; the other peer got all 50", flooded)
}

// TestDialRetriesUntilThePeerListens: a peer that is not listening yet is
// dialled again, with backoff, until it is; then the pair comes up.
func TestDialRetriesUntilThePeerListens(t *testing.T) {
	t.Parallel()
	addr, listen := reservePort(t) // nobody listens there for now
	cfg := testConfig("a")
	book := &logBook{}
	cfg.Logf = book.logf
	a := startNode(t, cfg)
	if err := a.t.Connect(addr); err != nil {
		t.Fatal(err)
	}
	book.waitCount(t, "dial "+addr, 3, 10*time.Second)
	bl := listen()
	b, err := New(testConfig("b"))
	if err != nil {
		t.Fatal(err)
	}
	go func(tr *Transport, l net.Listener) { tr.Serve(l) }(b, bl)
	t.Cleanup(func() { b.Close() })
	waitUp(t, a, b.ID())
}

// reservePort binds a socket to a free loopback port without listening
// on it: dials there are refused, as where nobody listens, and yet no
// other socket can take the port before listen makes it a listener. (A
// port found free and closed could be taken by another test's socket
// meanwhile.)
func reservePort(t *testing.T) (addr string, listen func() net.Listener) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "reserved port")
	t.Cleanup(func() { f.Close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr = fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	return addr, func() net.Listener {
		t.Helper()
		if err := syscall.Listen(fd, syscall.SOMAXCONN); err != nil {
			t.Fatal(err)
		}
		l, err := net.FileListener(f) // a copy of the socket
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
}

// mitm relays TCP connections to target and, on command, tampers once with
// the bytes flowing from the dialer: an on-path attacker after the
// handshake it could only relay.
type mitm struct {
	l      net.Listener
	target string
	mode   atomic.Value // "" relays; "flip", "inject" or "drop" fire once
	fired  chan string
}

func newMITM(t *testing.T, target string) *mitm {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &mitm{l: l, target: target, fired: make(chan string, 8)}
	m.mode.Store("")
	t.Cleanup(func() { l.Close() })
	go m.serve()
	return m
}

func (m *mitm) serve() {
	for {
		in, err := m.l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", m.target)
		if err != nil {
			in.Close()
			continue
		}
		go func() { io.Copy(in, out); in.Close() }()
		go m.relay(in, out)
	}
}

// relay copies dialer bytes to the server, tampering once when asked.
func (m *mitm) relay(in, out net.Conn) {
	defer out.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if err != nil {
			return
		}
		chunk := buf[:n]
		switch mode := m.mode.Swap("").(string); mode {
		case "flip":
			chunk[n/2] ^= 0x40
		case "inject":
			record := append([]byte{23, 3, 3, 0, 40}, make([]byte, 40)...) // application data, not ours
			out.Write(record)
		case "drop":
			chunk = nil
		}
		if len(chunk) > 0 {
			if _, err := out.Write(chunk); err != nil {
				return
			}
		}
	}
}

// TestManInTheMiddleIsNoticed: an attacker on the path who relayed the
// handshake cannot alter, inject or drop a byte unnoticed: the channel
// closes, the dialer reconnects, and the frame is delivered once, intact;
// nothing else is ever delivered.
func TestManInTheMiddleIsNoticed(t *testing.T) {
	t.Parallel()
	// a does not listen, so b cannot dial it around the man in the middle.
	at, err := New(testConfig("a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { at.Close() })
	a, b := &node{t: at}, startNode(t, testConfig("b"))
	m := newMITM(t, b.addr)
	a.t.Connect(m.l.Addr().String())
	waitUp(t, b, a.t.ID())
	waitUp(t, a, b.t.ID())
	got := map[string]int{}
	for _, mode := range []string{"flip", "inject", "drop"} {
		m.mode.Store(mode)
		want := "genuine after " + mode
		if _, err := a.t.Send(b.t.ID(), []byte(want)); err != nil {
			t.Fatal(err)
		}
		down := false
		waitFor(t, b, 10*time.Second, func(e Event) bool {
			switch e.Type {
			case PeerDown:
				down = true
			case Message:
				got[string(e.Payload)]++
				b.t.Ack(e.Peer, e.Seq)
			}
			return down && got[want] == 1
		})
	}
	for text, n := range got {
		if n != 1 || !strings.HasPrefix(text, "genuine after ") {
			t.Errorf("delivered %q %d times", text, n)
		}
	}
}

// TestDialRefusesAnotherKey: an address learned with a peer's id (from
// peer exchange or mDNS) that answers with another key is refused: the
// channel's identity check is the certificate's key, nothing else.
func TestDialRefusesAnotherKey(t *testing.T) {
	t.Parallel()
	cfg := testConfig("a")
	book := &logBook{}
	cfg.Logf = book.logf
	a, b := startNode(t, cfg), startNode(t, testConfig("b"))
	expected := IDOf(newEdIdentity("someone else").PublicKey())
	a.t.mu.Lock()
	a.t.addTarget(b.addr, expected, false)
	a.t.mu.Unlock()
	a.t.wakeMaintenance()
	book.waitCount(t, "expected peer "+expected.Short()+", got "+b.t.ID().Short(), 1, 10*time.Second)
	for _, p := range a.t.Peers() {
		if p.ID == b.t.ID() {
			t.Fatalf("a knows b: %+v", p)
		}
	}
}

// TestFriendConnectsDuringSilentFlood: 140 sockets that connect and say
// nothing (or one byte), re-opened as soon as they are closed, hammer the
// port, from one address or from many; the friend connects while the
// flood goes on, before any silent socket could have timed out (the
// server's handshake timeout counts from the flood's start), so only the
// handshake limits let it in.
func TestFriendConnectsDuringSilentFlood(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		addrs int  // distinct source addresses, 127.0.0.2 onwards
		speak bool // each socket sends the first byte of a TLS record, then stalls
	}{
		{"one address", 1, false},
		{"many addresses", 35, false},
		{"one address, a byte each", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("server")
			cfg.HandshakeTimeout = 30 * time.Second
			srv := startNode(t, cfg)
			// No silent socket times out before this: the waits below end
			// by then (a failing run's deadline; the friend takes up to
			// 2 s on a loaded machine with -race).
			noTimeout := time.Now().Add(cfg.HandshakeTimeout - time.Second)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < 140; i++ {
				src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%tc.addrs))}
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := net.Dialer{LocalAddr: src, Timeout: time.Second}
					for {
						select {
						case <-stop:
							return
						default:
						}
						c, err := d.Dial("tcp", srv.addr)
						if err != nil {
							time.Sleep(time.Millisecond) // the attacker's pace, not a wait on the server
							continue
						}
						go func() { <-stop; c.Close() }()
						if tc.speak {
							c.Write([]byte{0x16})
						}
						io.Copy(io.Discard, c) // until the server closes it
						c.Close()
					}
				}()
			}
			defer func() { close(stop); wg.Wait() }()
			if tc.addrs*srv.t.cfg.MaxHandshakesPerIP >= srv.t.cfg.MaxHandshakes {
				// The flood can fill every handshake slot: the friend
				// comes once it has.
				for srv.shaking() < srv.t.cfg.MaxHandshakes {
					if time.Now().After(noTimeout) {
						t.Fatalf("the flood holds %d handshakes, never %d", srv.shaking(), srv.t.cfg.MaxHandshakes)
					}
					time.Sleep(time.Millisecond) // polling the server's state, with a deadline
				}
			}
			// The friend's own handshakes are as patient as the server's:
			// on a loaded machine one can take longer than testConfig's
			// 2 s, and giving up on it starts the handshake over.
			fcfg := testConfig("friend")
			fcfg.HandshakeTimeout = cfg.HandshakeTimeout
			friend := startNode(t, fcfg)
			if err := friend.t.Connect(srv.addr); err != nil {
				t.Fatal(err)
			}
			waitFor(t, friend, time.Until(noTimeout), func(e Event) bool { return e.Type == PeerUp })
		})
	}
}

// TestConnectionsPerAddress plays strangers who each make a fresh key and
// connect from one address: past MaxConnsPerIP authenticated connections
// from it, the next is refused; one from another address still gets in.
func TestConnectionsPerAddress(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.MaxConnsPerIP = 2
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	for i := 0; i < 3; i++ {
		stranger := startNode(t, testConfig(fmt.Sprint("stranger", i)))
		stranger.t.Connect(srv.addr)
		if i < 2 {
			// Both sides: the server counts a connection as
			// authenticated only once its own side of the
			// handshake is done, which may come after the dialer's.
			waitUp(t, stranger, srv.t.me)
			waitUp(t, srv, stranger.t.me)
		}
	}
	book.waitCount(t, "2 connections from that address", 1, 10*time.Second)
	// From 127.0.0.2, by hand: the TLS handshake completes.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	raw, err := d.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	cert := identityCert(t, "elsewhere")
	tc := tls.Client(raw, &tls.Config{Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

// TestDialTargetsAreBounded plays a hostile announcer (mDNS, or a peer's
// address list) naming 600 addresses where nobody answers: we hold at
// most maxTargets of them, and a friend's address, given after they have
// failed, replaces one and connects.
func TestDialTargetsAreBounded(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	refused := 0
	for i := 0; i < 600; i++ {
		err := srv.t.Connect(fmt.Sprintf("127.0.0.3:%d", 40000+i))
		if errors.Is(err, ErrTooManyTargets) {
			refused++
		} else if err != nil {
			t.Fatal(err)
		}
		srv.t.mu.Lock()
		n := len(srv.t.targets)
		srv.t.mu.Unlock()
		if n > maxTargets {
			t.Fatalf("%d dial targets", n)
		}
	}
	t.Logf("%d of 600 refused while none had failed yet", refused)
	book.waitCount(t, "dial 127.0.0.3:", maxTargets, 20*time.Second)
	friend := startNode(t, testConfig("friend"))
	if err := srv.t.Connect(friend.addr); err != nil {
		t.Fatalf("the friend's address: %v", err)
	}
	waitUp(t, srv, friend.t.me)
}

// TestHandshakesPerAddress: one address that opens handshakes and stalls
// (a byte each, so none is silent) holds MaxHandshakesPerIP of them; its
// next ones are closed at once.
func TestHandshakesPerAddress(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.HandshakeTimeout = 30 * time.Second
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 4)}}
	var conns []net.Conn
	for i := 0; i < 6; i++ {
		c, err := d.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0x16})
		conns = append(conns, c)
	}
	book.waitCount(t, "4 handshakes from that address", 2, 10*time.Second)
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		open := errors.As(err, &ne) && ne.Timeout()
		if open != (i < 4) {
			t.Errorf("connection %d: open %v (%v)", i, open, err)
		}
	}
}

// TestUnreachableSaidOnce: an address given to Connect where nobody
// listens is reported once, in plain words, while the dials go on.
func TestUnreachableSaidOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig("a")
	cfg.BackoffMin, cfg.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
	book := &logBook{}
	cfg.Logf = book.logf
	a := startNode(t, cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := a.t.Connect(addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, 10*time.Second, func(e Event) bool {
		if e.Type != Unreachable {
			return false
		}
		if e.Addr != addr || e.Reason != "nobody is listening there" {
			t.Fatalf("unreachable %q: %q", e.Addr, e.Reason)
		}
		return true
	})
	// An address recalled (or announced by mDNS) is dialled quietly.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recalled := l2.Addr().String()
	l2.Close()
	if err := a.t.Recall(recalled, IDOf(newEdIdentity("gone").PublicKey())); err != nil {
		t.Fatal(err)
	}
	book.waitCount(t, "dial "+recalled+":", 3, 10*time.Second)
	// Five more failed dials, not one more event.
	book.waitCount(t, "dial "+addr+":", 6, 10*time.Second)
	select {
	case e := <-a.t.Events():
		t.Fatalf("a second event: %+v", e)
	default:
	}
}
