package transport

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmls-chat/mmls-chat/transport/peerid"
)

// ID identifies a peer: the SHA-256 of its public key (peerid.ID, the
// one id every layer shares).
type ID = peerid.ID

// IDOf returns the ID of a public key.
func IDOf(pub []byte) ID { return peerid.Of(pub) }

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
	// ErrTooManyTargets: maxTargets addresses to dial, none failing.
	ErrTooManyTargets = errors.New("transport: too many addresses to dial")
	ErrSelf           = errors.New("transport: connection to ourselves")
)

// Config configures a Transport. Identity is required: an Ed25519 key,
// which is also the TLS certificate's.
type Config struct {
	Identity Identity
	Nick     string
	// ListenPort is the port peers should dial us on, advertised in the
	// handshake (and so passed on by peer exchange). Set it when dialling
	// may start before Serve; otherwise Serve's listener sets it.
	ListenPort int
	// MaxFrame bounds a frame's payload (default 1 MiB).
	MaxFrame int
	// MaxConns bounds connections, handshaking ones included (default 128).
	MaxConns int
	// MaxHandshakes bounds inbound connections still handshaking (default
	// 16): past it, a new one closes the oldest, so silent sockets cannot
	// keep a friend out. MaxHandshakesPerIP (default 4) and MaxConnsPerIP
	// (authenticated inbound connections, default 32) bound what one
	// address holds; past them its new connections are refused.
	MaxHandshakes, MaxHandshakesPerIP, MaxConnsPerIP int
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
	// AckDelay is how long an acknowledgement with nothing else to send
	// waits for a frame to ride with (default 10 ms): the engine answers
	// most frames it takes with frames of its own, and the two went as two
	// writes, each a system call and a wake-up on both sides.
	AckDelay time.Duration
	// BackoffMin and BackoffMax bound the re-dial backoff (defaults 250 ms
	// and 30 s); each wait gets up to 50% random jitter.
	BackoffMin, BackoffMax time.Duration
	// DialYield is how long we wait before dialling a peer that learned of
	// us when we learned of it (peer exchange, mDNS) and whose id is the
	// smaller: both sides keep the connection the smaller id dialled, so
	// it dials at once and we only if it has not connected by then
	// (default 1 s). One handshake per pair instead of two.
	DialYield time.Duration
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
	if c.MaxHandshakes <= 0 {
		c.MaxHandshakes = 16
	}
	if c.MaxHandshakesPerIP <= 0 {
		c.MaxHandshakesPerIP = 4
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = 32
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
	def(&c.AckDelay, 10*time.Millisecond)
	def(&c.BackoffMin, 250*time.Millisecond)
	def(&c.BackoffMax, 30*time.Second)
	def(&c.DialYield, time.Second)
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
	// Unreachable: an address given to Connect could not be reached
	// (Addr, and Reason in plain words). Said once per address until a
	// connection through it succeeds; the dials go on quietly.
	Unreachable
)

// Event is what the transport reports on Events().
type Event struct {
	Type    EventType
	Peer    ID
	Nick    string
	Addr    string
	Seq     uint64
	Payload []byte
	Reason  string
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
	cert        tls.Certificate
	me          ID
	incarnation uint64
	listenPort  atomic.Uint32
	nick        atomic.Pointer[string] // what our handshakes say; SetNick changes it
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
	// friends: peers the layer above knows (it shares rooms with them, or
	// verified them): connections to them are never left out for
	// strangers' (Befriend).
	friends map[ID]bool
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
	addr  string
	id    ID
	hasID bool
	// proven: a handshake at addr authenticated id (a binding no hint
	// replaces); otherwise id is a hint (peer exchange, mDNS, memory) or
	// the user's pin (static with hasID).
	proven  bool
	static  bool
	told    bool // Unreachable was emitted since the last connection
	dialing bool
	backoff time.Duration
	next    time.Time
}

// maxTargets bounds the addresses we dial (see Connect).
const maxTargets = 512

// maxAddrsPerID bounds the addresses hinted for one peer: several are
// dialled side by side, so a false one (an mDNS announcement or a peer
// exchange naming a dead address for a friend's id) cannot hide the true
// one.
const maxAddrsPerID = 4

// New makes a transport. Call Serve to accept connections and Connect to
// dial peers; Close stops everything.
func New(cfg Config) (*Transport, error) {
	if cfg.Identity == nil {
		return nil, errors.New("transport: Config needs an Identity")
	}
	cfg = cfg.withDefaults()
	var inc [8]byte
	if _, err := rand.Read(inc[:]); err != nil {
		return nil, fmt.Errorf("transport: randomness: %w", err)
	}
	pub := bytes.Clone(cfg.Identity.PublicKey())
	cert, err := certificate(cfg.Identity)
	if err != nil {
		return nil, err
	}
	t := &Transport{
		cfg: cfg, pub: pub, cert: cert, me: IDOf(pub), incarnation: binary.BigEndian.Uint64(inc[:]),
		events: make(chan Event, 256), done: make(chan struct{}), kick: make(chan struct{}, 1),
		peers: map[ID]*peer{}, targets: map[string]*target{}, conns: map[*conn]bool{}, friends: map[ID]bool{},
	}
	if cfg.ListenPort > 0 && cfg.ListenPort < 65536 {
		t.listenPort.Store(uint32(cfg.ListenPort))
	}
	t.nick.Store(&cfg.Nick)
	t.wg.Add(1)
	go t.maintain()
	return t, nil
}

// SetNick changes the nick our handshakes give from now on (connections
// up keep the one they were given: the layer above tells them itself).
func (t *Transport) SetNick(nick string) { t.nick.Store(&nick) }

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
			if errors.Is(err, net.ErrClosed) {
				// Closed under us, not by Close: nothing more comes.
				return fmt.Errorf("transport: listener closed: %w", err)
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
		c := t.newConn(nc, false) // counted in t.wg
		if c == nil {
			continue
		}
		go t.run(c, nil)
	}
}

// Connect adds a static peer address, dialled now and re-dialled with
// backoff whenever no connection to that peer is open. Addresses to dial
// (these, mDNS's and those peers tell us) are bounded (maxTargets, 512):
// past it, a new one replaces the one failing longest, or is refused.
func (t *Transport) Connect(addr string) error { return t.connect(addr, nil) }

// ConnectPinned is Connect to an address where only peer id may answer
// (the user gave its fingerprint with the address: a contact string):
// another key there is refused, and reported.
func (t *Transport) ConnectPinned(addr string, id ID) error { return t.connect(addr, &id) }

func (t *Transport) connect(addr string, pin *ID) error {
	return t.withTargets(addr, func() error {
		tg := t.targets[addr]
		if tg == nil {
			if !t.roomForTarget() {
				return fmt.Errorf("%w: %d addresses, none failing", ErrTooManyTargets, maxTargets)
			}
			tg = &target{addr: addr}
			t.targets[addr] = tg
		}
		if pin != nil && (!tg.hasID || tg.id != *pin) {
			tg.id, tg.hasID, tg.proven = *pin, true, false
		}
		tg.static, tg.next, tg.backoff = true, time.Time{}, 0
		t.wakeMaintenance()
		return nil
	})
}

// Recall adds an address where peer id was reached before (a restart's
// memory): dialled like the addresses peers tell us, with backoff, and
// never reported Unreachable; a connection must prove it is id.
func (t *Transport) Recall(addr string, id ID) error {
	return t.withTargets(addr, func() error {
		t.addTarget(addr, id, false)
		return nil
	})
}

// Sighted adds an address peer id announced (mDNS): like Recall, but the
// peer sees our announcement too, so when its id is the smaller the first
// dial waits Config.DialYield for the peer's own.
func (t *Transport) Sighted(addr string, id ID) error {
	return t.withTargets(addr, func() error {
		t.addTarget(addr, id, true)
		return nil
	})
}

// withTargets runs f with t.mu held, once addr is a HOST:PORT and the
// transport is open.
func (t *Transport) withTargets(addr string, f func() error) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("transport: address %q: %w", addr, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	return f()
}

// maxFriends bounds the friends kept (the layer above knows a bounded
// number of peers; past it the set starts again).
const maxFriends = 4096

// friendSlots: connections past MaxConns a handshake may take, so that a
// friend can still prove who it is when strangers hold every slot; once
// it has, a stranger's connection makes room for it.
const friendSlots = 8

// Befriend says that peer id is known to the layer above (a member of a
// room, verified): when the connections are all taken, one of a
// stranger's goes to make room for it, inbound or when we dial it.
func (t *Transport) Befriend(id ID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.friends) >= maxFriends {
		clear(t.friends)
	}
	t.friends[id] = true
}

// makeRoom closes the idlest authenticated connection of a stranger (not
// a friend), or, with none, the oldest inbound handshake, and reports
// whether it closed one. Call with t.mu held.
func (t *Transport) makeRoom(why string) bool {
	var victim *conn
	for c := range t.conns {
		if c.evicted || c.peer != nil && t.friends[c.peer.id] {
			continue
		}
		switch {
		case victim == nil:
			victim = c
		case (c.peer != nil) != (victim.peer != nil):
			if c.peer != nil { // authenticated strangers first
				victim = c
			}
		case c.peer != nil && c.lastData.Load() < victim.lastData.Load(),
			c.peer == nil && evictFirst(c, victim):
			victim = c
		}
	}
	if victim == nil || victim.dialer && victim.peer == nil {
		return false
	}
	t.cfg.Logf("transport: closing a stranger's connection (%s) to make room for %s", victim.raw.RemoteAddr(), why)
	victim.evicted = true
	victim.close()
	return true
}

// Send queues a copy of payload for peer and returns its sequence
// number. Frames queue while the peer is offline and are sent when it
// reconnects.
func (t *Transport) Send(to ID, payload []byte) (uint64, error) {
	return t.SendOwned(to, bytes.Clone(payload))
}

// SendOwned is Send without the copy: payload is kept until the peer
// acknowledges it, and the caller must never change it (one payload may
// go to many peers). The engine sends this way: a line in a room of 20
// was copied 19 times.
func (t *Transport) SendOwned(to ID, payload []byte) (uint64, error) {
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
	p.queue = append(p.queue, outFrame{seq: p.nextSeq, payload: payload})
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

func (t *Transport) wakeMaintenance() { poke(t.kick) }

// poke wakes the goroutine waiting on ch, unless a wake-up is already
// pending.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

var _ io.Closer = (*Transport)(nil)
