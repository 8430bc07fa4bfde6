package transport

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmls-chat/mmls-chat/transport/wire"
)

// ID identifies a peer: the SHA-256 of its public key.
type ID [32]byte

// IDOf returns the ID of a public key.
func IDOf(pub []byte) ID { return sha256.Sum256(pub) }

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// Identity is what the transport needs of the participant's identity.
type Identity interface {
	PublicKey() []byte
	Sign(msg []byte) ([]byte, error)
}

// Errors returned to callers.
var (
	ErrClosed       = fmt.Errorf("transport: %w", net.ErrClosed)
	ErrUnknownPeer  = errors.New("transport: unknown peer")
	ErrBackpressure = errors.New("transport: peer queue full")
	ErrAuth         = errors.New("transport: handshake authentication failed")
	ErrSelf         = errors.New("transport: connection to ourselves")
)

// Config configures a Transport. Identity and Verify are required.
type Config struct {
	Identity Identity
	// Verify checks a signature by the key pub over msg.
	Verify func(pub, msg, sig []byte) bool
	Nick   string
	// ListenPort is the port peers should dial us on, advertised in the
	// handshake (and so passed on by peer exchange). Set it when dialling
	// may start before Serve; otherwise Serve's listener sets it.
	ListenPort int
	// MaxFrame bounds a frame's payload (default 1 MiB).
	MaxFrame int
	// MaxConns bounds connections, handshaking ones included (default 128).
	MaxConns int
	// QueueLimit and QueueBytes bound the frames and bytes queued for one
	// peer, sent but not yet acknowledged included (defaults 4096 frames,
	// 64 MiB).
	QueueLimit int
	QueueBytes int
	// HandshakeTimeout closes a connection that has not authenticated in
	// time (default 5 s).
	HandshakeTimeout time.Duration
	// Heartbeat is the ping interval (default 1 s); a connection silent for
	// DeadAfter (default 4 s) is closed.
	Heartbeat, DeadAfter time.Duration
	// BackoffMin and BackoffMax bound the re-dial backoff (defaults 250 ms
	// and 30 s); each wait gets up to 50% random jitter.
	BackoffMin, BackoffMax time.Duration
	// Logf receives diagnostics (default: discarded). The transport never
	// writes to the terminal.
	Logf func(format string, args ...any)
}

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = DefaultMaxFrame
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 128
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 4096
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	def(&c.HandshakeTimeout, 5*time.Second)
	def(&c.Heartbeat, time.Second)
	def(&c.DeadAfter, 4*time.Second)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// PeerUp: an authenticated connection to Peer is open.
	PeerUp EventType = iota + 1
	// PeerDown: the connection to Peer closed (frames to it stay queued).
	PeerDown
	// Message: Payload arrived from Peer with sequence number Seq; call
	// Ack(Peer, Seq) once it is safely taken.
	Message
)

// Event is what the transport reports on Events().
type Event struct {
	Type    EventType
	Peer    ID
	Nick    string
	Addr    string
	Seq     uint64
	Payload []byte
}

// PeerInfo describes a known peer.
type PeerInfo struct {
	ID          ID
	Nick        string
	Addr        string
	Online      bool
	Queued      int
	QueuedBytes int
}

// Transport is a set of authenticated, reliable connections to peers.
// Its methods are safe for concurrent use.
type Transport struct {
	cfg         Config
	pub         []byte
	me          ID
	incarnation uint64
	listenPort  atomic.Uint32
	events      chan Event
	done        chan struct{}
	kick        chan struct{}
	wg          sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	peers     map[ID]*peer
	targets   map[string]*target
	conns     map[*conn]bool
	listeners []net.Listener
}

type peer struct {
	id          ID
	nick        string
	addr        string
	conn        *conn
	nextSeq     uint64
	queue       []outFrame
	queuedBytes int
	incarnation uint64
	delivered   uint64 // last seq handed to the caller
	acked       uint64 // last seq the caller acknowledged
}

type outFrame struct {
	seq     uint64
	payload []byte
}

type target struct {
	addr    string
	id      ID
	hasID   bool
	static  bool
	dialing bool
	backoff time.Duration
	next    time.Time
}

const maxTargets = 512

// New makes a transport. Call Serve to accept connections and Connect to
// dial peers; Close stops everything.
func New(cfg Config) (*Transport, error) {
	if cfg.Identity == nil || cfg.Verify == nil {
		return nil, errors.New("transport: Config needs Identity and Verify")
	}
	cfg = cfg.withDefaults()
	var inc [8]byte
	if _, err := rand.Read(inc[:]); err != nil {
		return nil, fmt.Errorf("transport: randomness: %w", err)
	}
	pub := bytes.Clone(cfg.Identity.PublicKey())
	t := &Transport{
		cfg: cfg, pub: pub, me: IDOf(pub), incarnation: binary.BigEndian.Uint64(inc[:]),
		events: make(chan Event, 256), done: make(chan struct{}), kick: make(chan struct{}, 1),
		peers: map[ID]*peer{}, targets: map[string]*target{}, conns: map[*conn]bool{},
	}
	if cfg.ListenPort > 0 && cfg.ListenPort < 65536 {
		t.listenPort.Store(uint32(cfg.ListenPort))
	}
	t.wg.Add(1)
	go t.maintain()
	return t, nil
}

// ID returns our own peer ID.
func (t *Transport) ID() ID { return t.me }

// Events returns the channel of events. It is closed by Close.
func (t *Transport) Events() <-chan Event { return t.events }

// Serve accepts connections on l until Close. It returns ErrClosed then.
func (t *Transport) Serve(l net.Listener) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	t.listeners = append(t.listeners, l)
	if tcp, ok := l.Addr().(*net.TCPAddr); ok {
		t.listenPort.CompareAndSwap(0, uint32(tcp.Port))
	}
	t.mu.Unlock()
	delay := 5 * time.Millisecond
	for {
		nc, err := l.Accept()
		if err != nil {
			select {
			case <-t.done:
				return ErrClosed
			default:
			}
			t.cfg.Logf("transport: accept: %v (retrying in %v)", err, delay)
			select {
			case <-time.After(delay):
			case <-t.done:
				return ErrClosed
			}
			delay = min(2*delay, time.Second)
			continue
		}
		delay = 5 * time.Millisecond
		c := t.newConn(nc, false)
		if c == nil {
			continue
		}
		t.wg.Add(1)
		go t.run(c, nil)
	}
}

// Connect adds a static peer address, dialled now and re-dialled with
// backoff whenever no connection to that peer is open.
func (t *Transport) Connect(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("transport: address %q: %w", addr, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	tg := t.targets[addr]
	if tg == nil {
		tg = &target{addr: addr}
		t.targets[addr] = tg
	}
	tg.static, tg.next, tg.backoff = true, time.Time{}, 0
	t.wakeMaintenance()
	return nil
}

// Send queues payload for peer and returns its sequence number. Frames
// queue while the peer is offline and are sent when it reconnects.
func (t *Transport) Send(to ID, payload []byte) (uint64, error) {
	if len(payload) > t.cfg.MaxFrame-8 {
		return 0, fmt.Errorf("%w: payload of %d bytes", ErrTooLarge, len(payload))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return 0, ErrClosed
	}
	p := t.peers[to]
	if p == nil {
		return 0, fmt.Errorf("%w: %s", ErrUnknownPeer, to.Short())
	}
	if len(p.queue) >= t.cfg.QueueLimit || p.queuedBytes+len(payload) > t.cfg.QueueBytes {
		return 0, fmt.Errorf("%w: %d frames (%d bytes) for %s", ErrBackpressure, len(p.queue), p.queuedBytes, to.Short())
	}
	p.nextSeq++
	p.queue = append(p.queue, outFrame{seq: p.nextSeq, payload: bytes.Clone(payload)})
	p.queuedBytes += len(payload)
	if p.conn != nil {
		p.conn.wakeUp()
	}
	return p.nextSeq, nil
}

// Ack acknowledges every frame from peer up to seq: they are taken and
// need not be sent again.
func (t *Transport) Ack(from ID, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.peers[from]
	if p == nil {
		return
	}
	seq = min(seq, p.delivered)
	if seq > p.acked {
		p.acked = seq
		if p.conn != nil {
			p.conn.wakeUp()
		}
	}
}

// Peers lists the peers we have authenticated, by nick then ID.
func (t *Transport) Peers() []PeerInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]PeerInfo, 0, len(t.peers))
	for _, p := range t.peers {
		out = append(out, PeerInfo{ID: p.id, Nick: p.nick, Addr: p.addr, Online: p.conn != nil, Queued: len(p.queue), QueuedBytes: p.queuedBytes})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Nick != out[j].Nick {
			return out[i].Nick < out[j].Nick
		}
		return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0
	})
	return out
}

// Close closes every connection and listener, stops every goroutine and
// then closes the Events channel.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.done)
	for _, l := range t.listeners {
		l.Close()
	}
	for c := range t.conns {
		c.close()
	}
	t.mu.Unlock()
	t.wg.Wait()
	close(t.events)
	return nil
}

func (t *Transport) emit(e Event) bool {
	select {
	case t.events <- e:
		return true
	case <-t.done:
		return false
	}
}

func (t *Transport) wakeMaintenance() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// ---- dialling ----

// maintain dials targets that are due, until Close.
func (t *Transport) maintain() {
	defer t.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		case <-t.kick:
		}
		now := time.Now()
		t.mu.Lock()
		for _, tg := range t.targets {
			if tg.dialing || now.Before(tg.next) {
				continue
			}
			if tg.hasID {
				if tg.id == t.me {
					delete(t.targets, tg.addr)
					continue
				}
				if p := t.peers[tg.id]; p != nil && p.conn != nil {
					continue
				}
			}
			tg.dialing = true
			t.wg.Add(1)
			go t.dial(tg)
		}
		t.mu.Unlock()
	}
}

func (t *Transport) dial(tg *target) {
	d := net.Dialer{Timeout: t.cfg.HandshakeTimeout}
	nc, err := d.Dial("tcp", tg.addr)
	if err != nil {
		t.cfg.Logf("transport: dial %s: %v", tg.addr, err)
		t.mu.Lock()
		t.retryLater(tg)
		tg.dialing = false
		t.mu.Unlock()
		t.wg.Done()
		return
	}
	c := t.newConn(nc, true)
	if c == nil {
		t.mu.Lock()
		t.retryLater(tg)
		tg.dialing = false
		t.mu.Unlock()
		t.wg.Done()
		return
	}
	t.run(c, tg)
}

// retryLater schedules tg's next dial with exponential backoff and jitter.
// Call with t.mu held.
func (t *Transport) retryLater(tg *target) {
	tg.backoff = min(max(2*tg.backoff, t.cfg.BackoffMin), t.cfg.BackoffMax)
	tg.next = time.Now().Add(tg.backoff + jitter(tg.backoff/2))
}

func jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(max)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}

// addTarget records a dial address learned from a peer (peer exchange or
// an accepted connection). Call with t.mu held.
func (t *Transport) addTarget(addr string, id ID) {
	if id == t.me {
		return
	}
	if tg := t.targets[addr]; tg != nil {
		tg.id, tg.hasID = id, true
		return
	}
	for _, tg := range t.targets {
		if tg.hasID && tg.id == id {
			return // we know an address for that peer already
		}
	}
	if len(t.targets) >= maxTargets {
		return
	}
	t.targets[addr] = &target{addr: addr, id: id, hasID: true}
	t.wakeMaintenance()
}

// ---- connections ----

type conn struct {
	t        *Transport
	nc       net.Conn
	br       *bufio.Reader
	dialer   bool
	remote   ID
	peer     *peer // set once authenticated (under t.mu)
	sentSeq  uint64
	ackSent  uint64
	pongDue  bool
	peersOut [][]byte
	wake     chan struct{}
	closed   chan struct{}
	once     sync.Once
}

// newConn registers a connection, or closes it when over the limit.
func (t *Transport) newConn(nc net.Conn, dialer bool) *conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.conns) >= t.cfg.MaxConns {
		t.cfg.Logf("transport: refusing connection from %s: %d connections", nc.RemoteAddr(), len(t.conns))
		nc.Close()
		return nil
	}
	c := &conn{t: t, nc: nc, br: bufio.NewReaderSize(nc, 64<<10), dialer: dialer,
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	t.conns[c] = true
	return c
}

func (c *conn) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.nc.Close()
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
	h, err := t.handshake(c)
	if err != nil {
		t.cfg.Logf("transport: handshake with %s: %v", c.nc.RemoteAddr(), err)
		t.mu.Lock()
		if tg != nil {
			if errors.Is(err, ErrSelf) {
				delete(t.targets, tg.addr)
			} else {
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

func transcript(role byte, dialerNonce, acceptorNonce [32]byte, dialerKey, acceptorKey []byte) []byte {
	b := []byte("mmls-chat transport v1\x00")
	b = append(b, role)
	b = append(b, dialerNonce[:]...)
	b = append(b, acceptorNonce[:]...)
	b = append(b, dialerKey...)
	return append(b, acceptorKey...)
}

const maxHandshakeFrame = 4096

func (t *Transport) handshake(c *conn) (*hello, error) {
	deadline := time.Now().Add(t.cfg.HandshakeTimeout)
	if err := c.nc.SetDeadline(deadline); err != nil {
		return nil, err
	}
	mine := &hello{key: t.pub, nick: t.cfg.Nick, listenPort: uint16(t.listenPort.Load()), incarnation: t.incarnation}
	if _, err := rand.Read(mine.nonce[:]); err != nil {
		return nil, err
	}
	if _, err := c.nc.Write(appendFrame(nil, frameHello, mine.marshal())); err != nil {
		return nil, fmt.Errorf("send hello: %w", err)
	}
	f, err := readFrame(c.br, maxHandshakeFrame)
	if err != nil {
		return nil, fmt.Errorf("read hello: %w", err)
	}
	if f.typ != frameHello {
		return nil, fmt.Errorf("%w: %v before hello", ErrMalformed, f.typ)
	}
	theirs, err := parseHello(f.payload)
	if err != nil {
		return nil, err
	}
	c.remote = IDOf(theirs.key)
	if c.remote == t.me {
		return nil, ErrSelf
	}
	dn, an, dk, ak := mine.nonce, theirs.nonce, mine.key, theirs.key
	myRole, theirRole := byte(0), byte(1)
	if !c.dialer {
		dn, an, dk, ak = theirs.nonce, mine.nonce, theirs.key, mine.key
		myRole, theirRole = 1, 0
	}
	sig, err := t.cfg.Identity.Sign(transcript(myRole, dn, an, dk, ak))
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	auth := binary.BigEndian.AppendUint16(nil, uint16(len(sig)))
	if _, err := c.nc.Write(appendFrame(nil, frameAuth, append(auth, sig...))); err != nil {
		return nil, fmt.Errorf("send auth: %w", err)
	}
	f, err = readFrame(c.br, maxHandshakeFrame)
	if err != nil {
		return nil, fmt.Errorf("read auth: %w", err)
	}
	if f.typ != frameAuth {
		return nil, fmt.Errorf("%w: %v instead of auth", ErrMalformed, f.typ)
	}
	r := wire.NewReader(f.payload)
	theirSig := r.Bytes16(1024)
	if err := r.Done(); err != nil {
		return nil, wireErr(err)
	}
	if !t.cfg.Verify(theirs.key, transcript(theirRole, dn, an, dk, ak), theirSig) {
		return nil, ErrAuth
	}
	if err := c.nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return theirs, nil
}

// register binds an authenticated connection to its peer, resolving
// duplicates: of two connections between the same pair, both sides keep
// the one dialled by the smaller ID. It reports whether the peer came up,
// and its dial address.
func (t *Transport) register(c *conn, h *hello, tg *target) (*peer, bool, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false, ""
	}
	if tg != nil {
		tg.id, tg.hasID, tg.dialing, tg.backoff = c.remote, true, false, 0
	}
	p := t.peers[c.remote]
	if p == nil {
		p = &peer{id: c.remote}
		t.peers[c.remote] = p
	}
	p.nick = h.nick
	if old := p.conn; old != nil {
		if !keepNew(t.me, c, old) {
			t.cfg.Logf("transport: duplicate connection to %s: keeping the older one", c.remote.Short())
			return nil, false, ""
		}
		old.close()
	}
	up := p.conn == nil
	p.conn = c
	if h.incarnation != p.incarnation {
		// A new instance of the peer: its numbering restarts.
		p.incarnation, p.delivered, p.acked = h.incarnation, 0, 0
	}
	c.peer = p
	// The dial address: the one we dialled, or the remote IP with the port
	// it listens on.
	if tg != nil {
		p.addr = tg.addr
	} else if host, _, err := net.SplitHostPort(c.nc.RemoteAddr().String()); err == nil && h.listenPort != 0 {
		p.addr = net.JoinHostPort(host, strconv.Itoa(int(h.listenPort)))
		t.addTarget(p.addr, p.id)
	}
	// Peer exchange: tell the new peer whom we know, and the others about it.
	var known []peerAddr
	for _, other := range t.peers {
		if other != p && other.conn != nil && other.addr != "" {
			known = append(known, peerAddr{id: other.id, addr: other.addr})
			if p.addr != "" {
				other.conn.peersOut = append(other.conn.peersOut, marshalPeers([]peerAddr{{id: p.id, addr: p.addr}}))
				other.conn.wakeUp()
			}
		}
	}
	if len(known) > 0 {
		c.peersOut = append(c.peersOut, marshalPeers(known))
	}
	return p, up, p.addr
}

// keepNew decides between a new and an existing connection to one peer.
func keepNew(me ID, fresh, old *conn) bool {
	dialerOf := func(c *conn) ID {
		if c.dialer {
			return me
		}
		return c.remote
	}
	smaller := me
	if bytes.Compare(fresh.remote[:], me[:]) < 0 {
		smaller = fresh.remote
	}
	newOK, oldOK := dialerOf(fresh) == smaller, dialerOf(old) == smaller
	if newOK != oldOK {
		return newOK
	}
	return true // both dialled by the same side: the old one is stale
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
					t.addTarget(e.addr, e.id)
				}
			}
			t.mu.Unlock()
		default:
			return fmt.Errorf("%w: %v after the handshake", ErrMalformed, f.typ)
		}
	}
}

const maxBatch = 256 << 10

func (c *conn) writeLoop() {
	t := c.t
	defer t.wg.Done()
	defer c.close()
	tick := time.NewTicker(t.cfg.Heartbeat)
	defer tick.Stop()
	for {
		ping := false
		select {
		case <-c.closed:
			return
		case <-t.done:
			return
		case <-c.wake:
		case <-tick.C:
			ping = true
		}
		t.mu.Lock()
		var buf []byte
		p := c.peer
		for _, f := range p.queue {
			if f.seq <= c.sentSeq {
				continue
			}
			if len(buf) > maxBatch {
				c.wakeUp() // more next round
				break
			}
			buf = append(buf, Version, byte(frameData))
			buf = binary.BigEndian.AppendUint32(buf, uint32(8+len(f.payload)))
			buf = binary.BigEndian.AppendUint64(buf, f.seq)
			buf = append(buf, f.payload...)
			c.sentSeq = f.seq
		}
		if p.acked > c.ackSent {
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
	}
}

var _ io.Closer = (*Transport)(nil)
