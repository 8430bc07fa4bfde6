// Package memnet is an in-memory network for engine tests, in the
// engine's own terms (mmls.Network), the way raft's InmemTransport lets
// its tests run a cluster without sockets.
//
// It keeps the TCP transport's promises: a peer is known once connected;
// frames to a known peer are queued while it is away; each sender-receiver
// pair is delivered in order, exactly once per receiver instance; a frame
// stays queued until the receiver acknowledges it, and is delivered again
// when the pair reconnects (after a partition heals, or the receiver
// restarts). A sender's queue dies with it, as a process's memory does.
//
// Faults are injected on purpose: Partition and Heal cut and restore a
// pair; a Fault function may lose a frame for good (what no transport
// would do: the engine must recover on its own) or hold a pair's traffic
// for a while (later frames wait behind it, so a pair's order is kept
// while pairs overtake one another).
package memnet

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Errors of the network.
var (
	ErrRefused     = errors.New("memnet: connection refused")
	ErrUnknownPeer = errors.New("memnet: unknown peer")
	ErrClosed      = errors.New("memnet: endpoint closed")
)

// Frame is a frame about to be delivered, as a Fault sees it.
type Frame struct {
	From, To mmls.ID
	Payload  []byte
}

// Verdict is a Fault's decision about one frame.
type Verdict struct {
	// Lose drops the frame for good.
	Lose bool
	// Delay holds the frame, and every later frame of its pair, this long.
	Delay time.Duration
}

// Hub is the network: endpoints join it, connect and exchange frames.
type Hub struct {
	mu      sync.Mutex
	eps     map[mmls.ID]*Endpoint // running endpoints
	addrs   map[string]mmls.ID
	nicks   map[mmls.ID]string
	links   map[link]*linkState
	dialled map[pair]bool // pairs someone connected; they come back after a restart
	cut     map[pair]bool
	fault   func(Frame) Verdict
	handed  uint64 // events handed to engines, ever
	inc     uint64
}

type link struct{ from, to mmls.ID }

type pair [2]mmls.ID

func pairOf(a, b mmls.ID) pair {
	if string(b[:]) < string(a[:]) {
		a, b = b, a
	}
	return pair{a, b}
}

// linkState is a sender's queue to one receiver; it belongs to one
// instance of the sender.
type linkState struct {
	inc     uint64
	next    uint64
	queue   []queued
	held    bool
	heldFor *time.Timer
}

type queued struct {
	seq     uint64
	payload []byte
	judged  bool
}

// New returns an empty network.
func New() *Hub {
	return &Hub{eps: map[mmls.ID]*Endpoint{}, addrs: map[string]mmls.ID{}, nicks: map[mmls.ID]string{},
		links: map[link]*linkState{}, dialled: map[pair]bool{}, cut: map[pair]bool{}}
}

// SetFault installs f, which judges every frame once before it is
// delivered (nil: deliver everything).
func (h *Hub) SetFault(f func(Frame) Verdict) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fault = f
}

// Addr is the address an endpoint of nick listens on.
func Addr(nick string) string { return "mem:" + nick }

// Join starts an endpoint for id (a restart when id was here before: a
// new instance, whose queues start empty). Pairs connected before come
// back up, as the transport re-dials known peers.
func (h *Hub) Join(id mmls.ID, nick string) *Endpoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inc++
	ep := &Endpoint{hub: h, id: id, nick: nick, addr: Addr(nick), inc: h.inc,
		events: make(chan mmls.NetEvent), wake: make(chan struct{}, 1), done: make(chan struct{}),
		marks: map[mmls.ID]mark{}, known: map[mmls.ID]bool{}}
	if old := h.eps[id]; old != nil {
		panic("memnet: " + nick + " joined twice")
	}
	h.eps[id], h.addrs[ep.addr], h.nicks[id] = ep, id, nick
	ep.wg.Go(ep.pump)
	for p := range h.dialled {
		if p[0] == id || p[1] == id {
			h.bringUp(p)
		}
	}
	return ep
}

// Idle reports whether nothing is on its way: every event pushed to a
// running engine was handed to it, and every frame between two running
// peers that are connected was taken and acknowledged. With it, Handed
// (how many events engines were handed, ever) tells whether anything
// happened between two looks: a simulation waits for quiet by both (and
// by asking each engine something, which it answers between steps).
func (h *Hub) Idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ep := range h.eps {
		if ep.pending > 0 {
			return false
		}
	}
	for l, ls := range h.links {
		if len(ls.queue) > 0 && !ls.held && h.eps[l.to] != nil && h.up(pairOf(l.from, l.to)) {
			return false
		}
	}
	return true
}

// Handed is how many events the engines were handed so far.
func (h *Hub) Handed() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.handed
}

// Partition cuts the pair a, b: both see the other go down; frames wait.
func (h *Hub) Partition(a, b mmls.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := pairOf(a, b)
	wasUp := h.up(p)
	h.cut[p] = true
	if wasUp {
		h.bringDown(p)
	}
}

// Heal restores the pair a, b: it comes back up if both are running and
// one had connected to the other, and what waited is delivered.
func (h *Hub) Heal(a, b mmls.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := pairOf(a, b)
	delete(h.cut, p)
	h.bringUp(p)
}

func (h *Hub) up(p pair) bool {
	return h.eps[p[0]] != nil && h.eps[p[1]] != nil && h.dialled[p] && !h.cut[p]
}

// bringUp tells both ends of a pair that is up about each other, then
// delivers what waits in both directions. It is called under h.mu.
func (h *Hub) bringUp(p pair) {
	if !h.up(p) {
		return
	}
	a, b := h.eps[p[0]], h.eps[p[1]]
	if a.online(b.id) {
		return
	}
	a.setOnline(b.id, true)
	b.setOnline(a.id, true)
	a.push(mmls.NetEvent{Kind: mmls.PeerUp, Peer: b.id, Nick: b.nick, Addr: b.addr})
	b.push(mmls.NetEvent{Kind: mmls.PeerUp, Peer: a.id, Nick: a.nick, Addr: a.addr})
	h.deliver(link{a.id, b.id})
	h.deliver(link{b.id, a.id})
}

// bringDown tells the running ends of a pair that it is down.
func (h *Hub) bringDown(p pair) {
	for i, id := range p {
		if ep := h.eps[id]; ep != nil && ep.online(p[1-i]) {
			ep.setOnline(p[1-i], false)
			ep.push(mmls.NetEvent{Kind: mmls.PeerDown, Peer: p[1-i]})
		}
	}
}

// deliver hands the receiver of l every frame it has not had yet, in
// order, while the pair is up and not held. Called under h.mu.
func (h *Hub) deliver(l link) {
	ls := h.links[l]
	rx := h.eps[l.to]
	if ls == nil || ls.held || rx == nil || !h.up(pairOf(l.from, l.to)) {
		return
	}
	m := rx.marks[l.from]
	if m.inc != ls.inc {
		m = mark{inc: ls.inc} // a new instance of the sender numbers afresh
	}
	for i := 0; i < len(ls.queue); i++ {
		q := &ls.queue[i]
		if q.seq <= m.seq {
			continue
		}
		if !q.judged && h.fault != nil {
			q.judged = true
			v := h.fault(Frame{From: l.from, To: l.to, Payload: q.payload})
			if v.Lose {
				ls.queue = append(ls.queue[:i], ls.queue[i+1:]...)
				i--
				continue
			}
			if v.Delay > 0 {
				ls.held = true
				ls.heldFor = time.AfterFunc(v.Delay, func() {
					h.mu.Lock()
					defer h.mu.Unlock()
					ls.held = false
					h.deliver(l)
				})
				break
			}
		}
		rx.push(mmls.NetEvent{Kind: mmls.Frame, Peer: l.from, Seq: ls.inc<<32 | q.seq, Payload: q.payload})
		m.seq = q.seq
	}
	rx.marks[l.from] = m
}

type mark struct{ inc, seq uint64 }

// Endpoint is one participant's attachment to the hub: an mmls.Network.
type Endpoint struct {
	hub  *Hub
	id   mmls.ID
	nick string // under hub.mu
	addr string
	inc  uint64

	// Under hub.mu:
	marks   map[mmls.ID]mark // per sender: the last frame handed over
	known   map[mmls.ID]bool // peers met; true while the pair is up
	inbox   []mmls.NetEvent
	pending int // events pushed and not yet handed to the engine
	closed  bool

	events chan mmls.NetEvent
	wake   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

func (e *Endpoint) online(peer mmls.ID) bool        { return e.known[peer] }
func (e *Endpoint) setOnline(peer mmls.ID, up bool) { e.known[peer] = up }

// push queues an event for the engine. Called under hub.mu.
func (e *Endpoint) push(ev mmls.NetEvent) {
	e.inbox = append(e.inbox, ev)
	e.pending++
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// pump hands queued events to the engine, in order, until Close.
func (e *Endpoint) pump() {
	for {
		e.hub.mu.Lock()
		batch := e.inbox
		e.inbox = nil
		e.hub.mu.Unlock()
		for _, ev := range batch {
			select {
			case e.events <- ev:
				e.hub.mu.Lock()
				e.pending--
				e.hub.handed++
				e.hub.mu.Unlock()
			case <-e.done:
				return
			}
		}
		select {
		case <-e.wake:
		case <-e.done:
			return
		}
	}
}

// ID returns the endpoint's id.
func (e *Endpoint) ID() mmls.ID { return e.id }

// Send queues payload for a peer met before.
func (e *Endpoint) Send(to mmls.ID, payload []byte) error {
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.known[to]; !ok {
		return fmt.Errorf("%w: %s", ErrUnknownPeer, to.Short())
	}
	l := link{e.id, to}
	ls := h.links[l]
	if ls == nil || ls.inc != e.inc {
		ls = &linkState{inc: e.inc}
		h.links[l] = ls
	}
	ls.next++
	ls.queue = append(ls.queue, queued{seq: ls.next, payload: append([]byte(nil), payload...)})
	h.deliver(l)
	return nil
}

// Ack drops the frames from peer up to seq: they are taken.
func (e *Endpoint) Ack(from mmls.ID, seq uint64) {
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := h.links[link{from, e.id}]
	if ls == nil || ls.inc != seq>>32 {
		return // an ack for an instance of the sender that is gone
	}
	n := seq & (1<<32 - 1)
	i := 0
	for i < len(ls.queue) && ls.queue[i].seq <= n {
		i++
	}
	ls.queue = ls.queue[i:]
}

// Connect connects to the endpoint listening on addr (only when it is
// pin, unless pin is zero).
func (e *Endpoint) Connect(addr string, pin mmls.ID) error {
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.addrs[addr]
	if !ok || h.eps[id] == nil {
		return fmt.Errorf("%w: %s", ErrRefused, addr)
	}
	if pin != (mmls.ID{}) && pin != id {
		return fmt.Errorf("%w: %s is not %s", ErrRefused, addr, pin.Short())
	}
	if id == e.id {
		return nil
	}
	p := pairOf(e.id, id)
	h.dialled[p] = true
	h.bringUp(p)
	return nil
}

// Reach connects to the endpoint listening on addr when it is id.
func (e *Endpoint) Reach(addr string, id mmls.ID) error {
	e.hub.mu.Lock()
	there, ok := e.hub.addrs[addr]
	e.hub.mu.Unlock()
	if ok && there != id {
		return fmt.Errorf("%w: %s is not %s", ErrRefused, addr, id.Short())
	}
	return e.Connect(addr, mmls.ID{})
}

// Befriend does nothing: the in-memory network has no connection limits.
func (e *Endpoint) Befriend(mmls.ID) {}

// SetNick changes the nick the endpoint's next PeerUps give (its address
// stays the one it joined with).
func (e *Endpoint) SetNick(nick string) {
	e.hub.mu.Lock()
	defer e.hub.mu.Unlock()
	e.nick, e.hub.nicks[e.id] = nick, nick
}

// Events reports peers and frames; it closes with Close.
func (e *Endpoint) Events() <-chan mmls.NetEvent { return e.events }

// Peers lists the peers met.
func (e *Endpoint) Peers() []mmls.NetPeer {
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []mmls.NetPeer
	for id, up := range e.known {
		queued := 0
		if ls := h.links[link{e.id, id}]; ls != nil {
			queued = len(ls.queue)
		}
		out = append(out, mmls.NetPeer{ID: id, Nick: h.nicks[id], Addr: Addr(h.nicks[id]), Online: up, Queued: queued})
	}
	return out
}

// Close takes the endpoint off the network, as a process that stops: its
// peers see it go down, and what it had not delivered is gone. Call it
// after the engine's Run returned.
func (e *Endpoint) Close() {
	h := e.hub
	h.mu.Lock()
	if e.closed {
		h.mu.Unlock()
		return
	}
	e.closed = true
	for peer, up := range e.known {
		if up {
			h.bringDown(pairOf(e.id, peer))
		}
	}
	delete(h.eps, e.id)
	for l, ls := range h.links {
		if l.from == e.id {
			if ls.heldFor != nil {
				ls.heldFor.Stop()
			}
			delete(h.links, l)
		}
	}
	h.mu.Unlock()
	close(e.done)
	e.wg.Wait()
	close(e.events)
}

var _ mmls.Network = (*Endpoint)(nil)
