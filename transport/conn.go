package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type conn struct {
	t        *Transport
	raw      net.Conn // the TCP connection
	spoke    *spoke   // raw, counting whether the remote sent anything
	ip       string   // the remote address, for per-address limits
	started  time.Time
	evicted  bool         // closed to make room for a newer handshake (under t.mu)
	lastData atomic.Int64 // when a data frame last went either way (Unix ns)
	nc       net.Conn     // the TLS channel over it, once the handshake began
	br       *bufio.Reader
	dialer   bool
	remote   ID
	peer     *peer // set once authenticated (under t.mu)
	sentSeq  uint64
	ackSent  uint64
	pongDue  bool
	peersOut [][]byte
	wbuf     []byte // the write loop's buffer, kept between writes
	wake     chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// newConn registers a connection, or closes it when over a limit. An
// inbound one's goroutine, which Serve starts next, is counted in t.wg
// here, under the lock Close takes before it waits: counted after, a
// Close in between would not wait for it.
func (t *Transport) newConn(nc net.Conn, dialer bool) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	ip := remoteIP(nc)
	if why := t.admit(ip, dialer); why != "" {
		t.cfg.Logf("transport: refusing connection from %s: %s", nc.RemoteAddr(), why)
		nc.Close()
		return nil
	}
	sp := &spoke{Conn: nc}
	c := &conn{t: t, raw: sp, spoke: sp, nc: sp, ip: ip, started: time.Now(), dialer: dialer, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	t.conns[c] = true
	if !dialer {
		t.wg.Add(1)
	}
	return c
}

// admit applies the connection limits (under t.mu) and says why a new
// connection from ip is refused, or "". An inbound one past MaxHandshakes
// closes an inbound handshake instead: the oldest that has not sent a
// byte, else the oldest. A slot held by a silent socket goes to the
// newcomer, and a friend, whose TLS hello comes at once, keeps its own.
func (t *Transport) admit(ip string, dialer bool) string {
	if t.closed {
		return "closed"
	}
	var oldest *conn
	live, shaking, shakingIP, authedIP := 0, 0, 0, 0
	for c := range t.conns {
		if c.evicted {
			continue
		}
		live++
		if c.dialer {
			continue
		}
		if c.peer != nil {
			if c.ip == ip {
				authedIP++
			}
			continue
		}
		shaking++
		if c.ip == ip {
			shakingIP++
		}
		if oldest == nil || evictFirst(c, oldest) {
			oldest = c
		}
	}
	switch {
	case dialer && live >= t.cfg.MaxConns:
		// We dial only whom we want: a stranger's connection makes room.
		if !t.makeRoom("a dial out") {
			return fmt.Sprintf("%d connections", live)
		}
		return ""
	case live >= t.cfg.MaxConns+friendSlots:
		return fmt.Sprintf("%d connections", live)
	case dialer:
		return ""
	case shakingIP >= t.cfg.MaxHandshakesPerIP:
		return fmt.Sprintf("%d handshakes from that address", shakingIP)
	case authedIP >= t.cfg.MaxConnsPerIP:
		return fmt.Sprintf("%d connections from that address", authedIP)
	case shaking >= t.cfg.MaxHandshakes:
		t.cfg.Logf("transport: closing the oldest handshake (%s, %v old) to make room", oldest.raw.RemoteAddr(), time.Since(oldest.started).Round(time.Millisecond))
		oldest.evicted = true
		oldest.close()
	}
	return ""
}

// evictFirst reports whether handshake a goes before b: silent before
// speaking, then older first.
func evictFirst(a, b *conn) bool {
	if sa, sb := a.spoke.Load(), b.spoke.Load(); sa != sb {
		return !sa
	}
	return a.started.Before(b.started)
}

// spoke is a connection that notes whether anything was read from it.
type spoke struct {
	net.Conn
	atomic.Bool
}

func (s *spoke) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.Store(true)
	}
	return n, err
}

// remoteIP is a connection's remote address without its port.
func remoteIP(nc net.Conn) string {
	addr := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

func (c *conn) wakeUp() { poke(c.wake) }

// setChannel makes the TLS channel the connection's stream. The remote
// id is set under t.mu: authenticated reads every connection's.
func (c *conn) setChannel(tc net.Conn, remote ID) {
	c.nc, c.br = tc, bufio.NewReaderSize(tc, 64<<10)
	c.t.mu.Lock()
	c.remote = remote
	c.t.mu.Unlock()
}

// close closes the TCP connection under the channel: no close_notify, so
// a writer blocked on a stalled peer cannot hold it up.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.raw.Close()
	})
}

// run owns a connection from handshake to close. tg is the dial target
// for connections we dialled.
func (t *Transport) run(c *conn, tg *target) {
	defer t.wg.Done()
	defer func() {
		c.close()
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
	}()
	var expect *ID
	if tg != nil {
		t.mu.Lock()
		if tg.hasID {
			id := tg.id
			expect = &id
		}
		t.mu.Unlock()
	}
	h, err := t.handshake(c, expect)
	if err != nil {
		t.cfg.Logf("transport: handshake with %s: %v", c.nc.RemoteAddr(), err)
		if tg != nil {
			t.unreachable(tg, err)
		}
		t.mu.Lock()
		if tg != nil {
			switch {
			case errors.Is(err, ErrSelf):
				delete(t.targets, tg.addr)
			case errors.Is(err, ErrAuth) && !tg.proven && !tg.static:
				// Someone else answers where a hint said this peer
				// would: the hint was false. Forget it (the peer's
				// other addresses are dialled on their own).
				t.cfg.Logf("transport: %s is not where %s is: a false hint, dropped", tg.addr, tg.id.Short())
				delete(t.targets, tg.addr)
			default:
				t.retryLater(tg)
			}
			tg.dialing = false
		}
		t.mu.Unlock()
		return
	}
	p, up, addr := t.register(c, h, tg)
	if p == nil {
		return
	}
	if up {
		t.emit(Event{Type: PeerUp, Peer: p.id, Nick: h.nick, Addr: addr})
	}
	t.wg.Add(1)
	go c.writeLoop()
	err = c.readLoop()
	var nick string
	select {
	case <-t.done:
	default:
		t.cfg.Logf("transport: connection to %s (%s) closed: %v", p.id.Short(), c.nc.RemoteAddr(), err)
	}
	c.close()
	t.mu.Lock()
	down := p.conn == c
	if down {
		p.conn = nil
	}
	nick, addr = p.nick, p.addr
	if tg != nil {
		tg.backoff = 0
		t.retryLater(tg)
	} else if a := t.targets[p.addr]; a != nil {
		a.backoff = 0
		t.retryLater(a)
	}
	t.mu.Unlock()
	if down {
		t.emit(Event{Type: PeerDown, Peer: p.id, Nick: nick, Addr: addr})
	}
}

func (c *conn) readLoop() error {
	t := c.t
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(t.cfg.DeadAfter)); err != nil {
			return err
		}
		f, err := readFrame(c.br, t.cfg.MaxFrame)
		if err != nil {
			return err
		}
		switch f.typ {
		case frameData:
			seq, payload, err := parseSeq(f.payload)
			if err != nil {
				return err
			}
			c.lastData.Store(time.Now().UnixNano())
			t.mu.Lock()
			p := c.peer
			fresh, nick := seq > p.delivered, p.nick
			if fresh {
				p.delivered = seq
			} else {
				c.ackSent = 0 // the sender missed our ack: send it again
				c.wakeUp()
			}
			t.mu.Unlock()
			if fresh && !t.emit(Event{Type: Message, Peer: p.id, Nick: nick, Seq: seq, Payload: payload}) {
				return ErrClosed
			}
		case frameAck:
			seq, rest, err := parseSeq(f.payload)
			if err != nil || len(rest) != 0 {
				return fmt.Errorf("%w: ack", ErrMalformed)
			}
			t.mu.Lock()
			q := c.peer.queue
			i := sort.Search(len(q), func(i int) bool { return q[i].seq > seq })
			for j := range q[:i] {
				c.peer.queuedBytes -= len(q[j].payload)
				q[j].payload = nil // let the acknowledged payloads go
			}
			c.peer.queue = q[i:]
			t.mu.Unlock()
		case framePing:
			t.mu.Lock()
			c.pongDue = true
			t.mu.Unlock()
			c.wakeUp()
		case framePong:
		case framePeers:
			list, err := parsePeers(f.payload)
			if err != nil {
				return err
			}
			t.mu.Lock()
			for _, e := range list {
				if _, _, err := net.SplitHostPort(e.addr); err == nil {
					t.addTarget(e.addr, e.id, true)
				}
			}
			t.mu.Unlock()
		default:
			return fmt.Errorf("%w: %v after the handshake", ErrMalformed, f.typ)
		}
	}
}

const maxBatch = 256 << 10

// keptWriteBuffer: a connection keeps a write buffer up to this size for
// its next write (a fresh one per write was a tenth of a delivery's
// allocations).
const keptWriteBuffer = 64 << 10

func (c *conn) writeLoop() {
	t := c.t
	defer t.wg.Done()
	defer c.close()
	tick := time.NewTicker(t.cfg.Heartbeat)
	defer tick.Stop()
	ackTimer := time.NewTimer(time.Hour)
	ackTimer.Stop()
	defer ackTimer.Stop()
	ackWaits := false
	for {
		ping, ackNow := false, false
		select {
		case <-c.closed:
			return
		case <-t.done:
			return
		case <-c.wake:
		case <-tick.C:
			ping = true
		case <-ackTimer.C:
			ackNow, ackWaits = true, false
		}
		t.mu.Lock()
		buf := c.wbuf[:0]
		p := c.peer
		for _, f := range p.queue {
			if f.seq <= c.sentSeq {
				continue
			}
			if len(buf) > maxBatch {
				c.wakeUp() // more next round
				break
			}
			var seq [8]byte
			binary.BigEndian.PutUint64(seq[:], f.seq)
			buf = appendFrame(buf, frameData, seq[:], f.payload)
			c.sentSeq = f.seq
			c.lastData.Store(time.Now().UnixNano())
		}
		// An acknowledgement alone waits AckDelay for something to ride
		// with; with anything else to send, it goes now.
		alone := len(buf) == 0 && !c.pongDue && len(c.peersOut) == 0 && !ping
		switch {
		case p.acked <= c.ackSent:
		case alone && !ackNow:
			if !ackWaits {
				ackTimer.Reset(t.cfg.AckDelay)
				ackWaits = true
			}
		default:
			buf = appendFrame(buf, frameAck, seqPayload(p.acked, nil))
			c.ackSent = p.acked
		}
		if c.pongDue {
			buf = appendFrame(buf, framePong, nil)
			c.pongDue = false
		}
		for _, pl := range c.peersOut {
			buf = appendFrame(buf, framePeers, pl)
		}
		c.peersOut = nil
		t.mu.Unlock()
		if ping {
			buf = appendFrame(buf, framePing, nil)
		}
		if len(buf) == 0 {
			continue
		}
		if err := c.nc.SetWriteDeadline(time.Now().Add(t.cfg.DeadAfter)); err != nil {
			return
		}
		if _, err := c.nc.Write(buf); err != nil {
			t.cfg.Logf("transport: write to %s: %v", c.remote.Short(), err)
			return
		}
		if cap(buf) <= keptWriteBuffer {
			c.wbuf = buf // a batch's buffer is let go
		}
	}
}
