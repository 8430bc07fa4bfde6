package mmls

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/transport"
)

// Network is what the engine needs of the transport.
type Network interface {
	Send(to transport.ID, payload []byte) (uint64, error)
	Ack(from transport.ID, seq uint64)
	Connect(addr string) error
	Events() <-chan transport.Event
	Peers() []transport.PeerInfo
}

// Discovery is what the engine needs of peer discovery.
type Discovery interface {
	Events() <-chan discovery.Event
}

// Config configures an Engine. Store, Net and Identity are required.
type Config struct {
	Identity  *dmls.Identity
	Store     *store.Store
	Net       Network
	Discovery Discovery // nil without mDNS
	// Room is joined on a first start (default "lobby").
	Room string
	// Listen and MDNS describe the node for ready and /info.
	Listen string
	MDNS   string
	Env    dmls.Env
	Policy dmls.Config
	// Tick drives session timers (default 1 s); ResendAfter is how long a
	// missing receipt waits before the message is protected again
	// (default 30 s).
	Tick        time.Duration
	ResendAfter time.Duration
	Logf        func(format string, args ...any)
}

// Engine runs rooms over the network. Create it with New, run it with Run
// (one goroutine owns all state), feed it with Input, read Events.
type Engine struct {
	cfg    Config
	id     *dmls.Identity
	me     dmls.Fingerprint
	st     *store.Store
	net    Network
	input  chan string
	events chan Event
	done   chan struct{}

	rooms   map[string]*room
	byID    map[dmls.RoomID]*room
	current string
	peers   map[dmls.Fingerprint]*peerState
	// resent: when each outbox message was last protected.
	resent map[string]time.Time
	// lastScan: when the outbox was last scanned for overdue receipts.
	lastScan time.Time
}

type room struct {
	name string
	id   dmls.RoomID
	s    *dmls.Session
	// with is the other person of a direct (two-person) room.
	with   dmls.Fingerprint
	direct bool
}

// HistoryLines is how many stored messages per room a history event
// carries when a room opens.
const HistoryLines = 500

// directPrefix starts the names of direct rooms; /join refuses it.
const directPrefix = "dm:"

// directRoom names the two-person room of a and b (the same on both
// sides).
func directRoom(a, b dmls.Fingerprint) string {
	x, y := hexID(a), hexID(b)
	if y < x {
		x, y = y, x
	}
	return directPrefix + x + ":" + y
}

// directPeer returns the other person of a direct room's name.
func directPeer(name string, me dmls.Fingerprint) (dmls.Fingerprint, bool) {
	ids := strings.Split(strings.TrimPrefix(name, directPrefix), ":")
	if !strings.HasPrefix(name, directPrefix) || len(ids) != 2 {
		return dmls.Fingerprint{}, false
	}
	a, okA := parseFingerprint(ids[0])
	b, okB := parseFingerprint(ids[1])
	switch {
	case !okA || !okB:
		return dmls.Fingerprint{}, false
	case a == me:
		return b, true
	case b == me:
		return a, true
	}
	return dmls.Fingerprint{}, false
}

type peerState struct {
	id     dmls.Fingerprint
	nick   string
	addr   string
	online bool
	rooms  map[dmls.RoomID]bool
}

// New makes an engine; nothing runs until Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Identity == nil || cfg.Store == nil || cfg.Net == nil {
		return nil, errors.New("mmls: Config needs Identity, Store and Net")
	}
	if cfg.Room == "" {
		cfg.Room = "lobby"
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.ResendAfter <= 0 {
		cfg.ResendAfter = 30 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Engine{
		cfg: cfg, id: cfg.Identity, me: cfg.Identity.Fingerprint(), st: cfg.Store, net: cfg.Net,
		input: make(chan string), events: make(chan Event, 1024), done: make(chan struct{}),
		rooms: map[string]*room{}, byID: map[dmls.RoomID]*room{}, peers: map[dmls.Fingerprint]*peerState{},
		resent: map[string]time.Time{},
	}, nil
}

// LoadIdentity returns the stored identity, creating one on a first start,
// and records a changed nick.
func LoadIdentity(st *store.Store, env dmls.Env, nick string) (*dmls.Identity, error) {
	saved, err := st.Identity()
	switch {
	case errors.Is(err, store.ErrNotFound):
		id, err := dmls.NewIdentity(env, nick)
		if err != nil {
			return nil, err
		}
		return id, st.SetIdentity(store.Identity{Seed: id.Seed(), Nick: nick})
	case err != nil:
		return nil, err
	}
	if nick == "" {
		nick = saved.Nick
	}
	id, err := dmls.IdentityFromSeed(saved.Seed, nick)
	if err != nil {
		return nil, err
	}
	if nick != saved.Nick {
		err = st.SetIdentity(store.Identity{Seed: saved.Seed, Nick: nick})
	}
	return id, err
}

// Events returns the engine's events; the channel closes when Run returns.
func (e *Engine) Events() <-chan Event { return e.events }

// Input hands the engine a line typed by the user: a /command, or text
// for the current room. It returns false once the engine has stopped.
func (e *Engine) Input(line string) bool {
	select {
	case e.input <- line:
		return true
	case <-e.done:
		return false
	}
}

// Run runs the engine until ctx ends, /quit, or the network stops.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.events)
	defer close(e.done)
	if err := e.start(); err != nil {
		return err
	}
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	var disc <-chan discovery.Event
	if e.cfg.Discovery != nil {
		disc = e.cfg.Discovery.Events()
	}
	netEvents := e.net.Events()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line := <-e.input:
			if quit := e.onInput(line); quit {
				return nil
			}
		case ev, ok := <-netEvents:
			if !ok {
				return errors.New("mmls: network stopped")
			}
			e.onNet(ev)
		case ev, ok := <-disc:
			if !ok {
				disc = nil
				continue
			}
			e.onDiscovery(ev)
		case <-tick.C:
			e.onTick()
		}
	}
}

func (e *Engine) now() time.Time { return e.cfg.Env.Now() }

func (e *Engine) emit(ev Event) {
	ev.Time = e.now().UTC()
	e.events <- ev
}

func (e *Engine) fail(err error) { e.emit(Event{Type: "error", Error: err.Error()}) }

func hexID(fp dmls.Fingerprint) string { return hex.EncodeToString(fp[:]) }

// start restores the rooms from the store (or joins the default room).
func (e *Engine) start() error {
	rooms, err := e.st.Rooms()
	if err != nil {
		return err
	}
	if len(rooms) == 0 {
		if err := e.st.JoinRoom(e.cfg.Room, e.now()); err != nil {
			return err
		}
		rooms = []store.Room{{Name: e.cfg.Room}}
	}
	e.emit(Event{Type: "ready", ID: hexID(e.me), Nick: e.id.Nick(), Listen: e.cfg.Listen})
	// The room to start in opens first (interfaces show the first room).
	sort.SliceStable(rooms, func(i, j int) bool { return rooms[i].Name == e.cfg.Room && rooms[j].Name != e.cfg.Room })
	for _, r := range rooms {
		if _, err := e.openRoom(r.Name); err != nil {
			return err
		}
	}
	e.current = e.cfg.Room
	if e.rooms[e.current] == nil {
		e.current = rooms[0].Name
	}
	return nil
}

// openRoom creates the in-memory session for a stored room.
func (e *Engine) openRoom(name string) (*room, error) {
	if r := e.rooms[name]; r != nil {
		return r, nil
	}
	s, err := dmls.NewSession(e.id, e.cfg.Env, name, e.cfg.Policy)
	if err != nil {
		return nil, err
	}
	r := &room{name: name, id: dmls.RoomIDOf(name), s: s}
	if strings.HasPrefix(name, directPrefix) {
		with, ok := directPeer(name, e.me)
		if !ok {
			return nil, fmt.Errorf("mmls: %q is not a direct room of ours", name)
		}
		r.with, r.direct = with, true
		s.Restrict(with)
		// Addressed to the other person even before it is linked.
		if err := e.st.AddMember(name, hexID(with)); err != nil {
			return nil, err
		}
	}
	kicked, err := e.st.Kicked(name)
	if err != nil {
		return nil, err
	}
	for _, k := range kicked {
		if fp, ok := parseFingerprint(k); ok {
			s.MarkKicked(fp)
		}
	}
	e.rooms[name], e.byID[r.id] = r, r
	e.emit(Event{Type: "joined", Room: name})
	if hist, err := e.st.History(name, HistoryLines); err != nil {
		e.fail(err)
	} else if len(hist) > 0 {
		lines := make([]Line, len(hist))
		for i, m := range hist {
			lines[i] = Line{ID: m.ID, From: m.FromNick, FromID: m.FromID, Text: m.Text, SentAt: m.SentAt, Mine: m.Mine}
		}
		e.emit(Event{Type: "history", Room: name, History: lines})
	}
	e.announceRooms()
	for _, p := range e.peers {
		if p.online && p.rooms[r.id] {
			e.in(r)(r.s.Hello(p.id))
		}
	}
	return r, nil
}

func parseFingerprint(s string) (dmls.Fingerprint, bool) {
	var fp dmls.Fingerprint
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(fp) {
		return fp, false
	}
	copy(fp[:], b)
	return fp, true
}

// announceRooms tells every online peer which rooms we are in.
func (e *Engine) announceRooms() {
	frame := roomsFrame(e.roomIDs())
	for _, p := range e.peers {
		if p.online {
			e.send(p.id, frame)
		}
	}
}

func (e *Engine) roomIDs() []dmls.RoomID {
	ids := make([]dmls.RoomID, 0, len(e.rooms))
	for _, r := range e.rooms {
		ids = append(ids, r.id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}

func (e *Engine) send(to dmls.Fingerprint, payload []byte) {
	if _, err := e.net.Send(transport.ID(to), payload); err != nil {
		e.cfg.Logf("mmls: send to %s: %v", to.Short(), err)
	}
}

// in returns apply bound to r, to take a session call's two results:
// e.in(r)(r.s.Update()).
func (e *Engine) in(r *room) func(dmls.Output, error) {
	return func(out dmls.Output, err error) { e.apply(r, out, err) }
}

// apply sends a session call's messages and acts on its events.
func (e *Engine) apply(r *room, out dmls.Output, err error) {
	for _, o := range out.Sends {
		e.send(o.To, dmlsFrame(o.Data))
	}
	for _, ev := range out.Events {
		e.onSessionEvent(r, ev)
	}
	if err != nil {
		e.cfg.Logf("mmls: room %s: %v", r.name, err)
	}
}

func (e *Engine) nickOf(fp dmls.Fingerprint, fallback string) string {
	if p := e.peers[fp]; p != nil && p.nick != "" {
		return p.nick
	}
	if fallback != "" {
		return fallback
	}
	return fp.Short()
}

func (e *Engine) onSessionEvent(r *room, ev dmls.Event) {
	switch ev.Type {
	case dmls.EventMessage:
		e.received(r, ev)
	case dmls.EventMemberAdded, dmls.EventMemberRemoved, dmls.EventRejoined:
		change := map[dmls.EventType]string{dmls.EventMemberAdded: "added", dmls.EventMemberRemoved: "removed", dmls.EventRejoined: "rejoined"}[ev.Type]
		if ev.By == e.me {
			switch ev.Type {
			case dmls.EventMemberRemoved:
				if err := e.st.RemoveMember(r.name, hexID(ev.Peer)); err != nil {
					e.fail(err)
				}
				if err := e.st.DropRecipient(r.name, hexID(ev.Peer)); err != nil {
					e.fail(err)
				}
				if r.s.Kicked(ev.Peer) {
					if err := e.st.Kick(r.name, hexID(ev.Peer), e.now()); err != nil {
						e.fail(err)
					}
				}
			default:
				// The peer (re)joined our group: what it has not
				// acknowledged goes again, in the current epoch.
				if err := e.st.AddMember(r.name, hexID(ev.Peer)); err != nil {
					e.fail(err)
				}
				e.resendTo(r, ev.Peer)
			}
		}
		e.emit(Event{Type: "member", Room: r.name, ID: hexID(ev.Peer), Nick: e.nickOf(ev.Peer, ev.Nick), Change: change, By: hexID(ev.By)})
	case dmls.EventJoined:
		e.emit(Event{Type: "member", Room: r.name, ID: hexID(e.me), Nick: e.id.Nick(), Change: "added", By: hexID(ev.By)})
	case dmls.EventRemoved:
		e.emit(Event{Type: "removed", Room: r.name, ByID: hexID(ev.By), By: e.nickOf(ev.By, ev.Nick)})
	case dmls.EventEquivocation:
		e.emit(Event{Type: "alert", Kind: "equivocation", Room: r.name, ByID: hexID(ev.By), Detail: ev.Detail})
	case dmls.EventInvite:
		e.invited(r, ev)
	case dmls.EventNeedRejoin:
		e.cfg.Logf("mmls: room %s: asked %s to re-add us", r.name, ev.By.Short())
	}
}

// received stores a message (once per id for the life of the store),
// reports it, and sends a receipt.
func (e *Engine) received(r *room, ev dmls.Event) {
	env := ev.Envelope
	id := hex.EncodeToString(env.ID[:])
	m := store.Message{ID: id, Room: r.name, FromID: hexID(ev.Peer), FromNick: e.nickOf(ev.Peer, ev.Nick),
		Text: string(env.Body), SentAt: env.SentAt, ReceivedAt: e.now().UTC()}
	added, err := e.st.AddMessage(m)
	if err != nil {
		e.fail(err)
		return // not stored: no receipt, so the sender tries again
	}
	if added {
		sent := env.SentAt.UTC()
		e.emit(Event{Type: "message", Room: r.name, ID: id, From: m.FromNick, FromID: m.FromID, Text: m.Text, SentAt: &sent})
	}
	e.send(ev.Peer, receiptFrame(r.id, env.ID))
}

// ---- network ----

func (e *Engine) peer(id dmls.Fingerprint) *peerState {
	p := e.peers[id]
	if p == nil {
		p = &peerState{id: id, rooms: map[dmls.RoomID]bool{}}
		e.peers[id] = p
	}
	return p
}

func (e *Engine) onNet(ev transport.Event) {
	from := dmls.Fingerprint(ev.Peer)
	switch ev.Type {
	case transport.PeerUp:
		p := e.peer(from)
		wasOnline := p.online
		p.online, p.addr = true, ev.Addr
		if ev.Nick != "" && p.nick != ev.Nick {
			p.nick = ev.Nick
			if prev, err := e.st.Pin(ev.Nick, hexID(from)); err != nil {
				e.fail(err)
			} else if prev != "" {
				e.emit(Event{Type: "alert", Kind: "key-changed", Nick: ev.Nick, ID: hexID(from),
					Detail: fmt.Sprintf("%s arrived with a different key (%s, was %s); check with /verify %s", ev.Nick, from.Short(), prev[:8], ev.Nick)})
			}
		}
		if !wasOnline {
			e.emit(Event{Type: "peer", ID: hexID(from), Nick: p.nick, Addr: p.addr, Status: "online"})
		}
		e.send(from, roomsFrame(e.roomIDs()))
	case transport.PeerDown:
		p := e.peer(from)
		if p.online {
			p.online = false
			e.emit(Event{Type: "peer", ID: hexID(from), Nick: p.nick, Addr: p.addr, Status: "offline"})
		}
	case transport.Message:
		e.onFrame(from, ev.Payload)
		// Everything it carried is stored (or refused for good).
		e.net.Ack(ev.Peer, ev.Seq)
	}
}

func (e *Engine) onFrame(from dmls.Fingerprint, payload []byte) {
	if len(payload) == 0 {
		e.cfg.Logf("mmls: empty frame from %s", from.Short())
		return
	}
	body := payload[1:]
	switch payload[0] {
	case frameDMLS:
		m, err := dmls.UnmarshalMessage(body)
		if err != nil {
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
			return
		}
		r := e.byID[m.Room]
		if r == nil {
			e.cfg.Logf("mmls: from %s: message for a room we are not in", from.Short())
			return
		}
		e.in(r)(r.s.Handle(from, body))
	case frameRooms:
		ids, err := parseRooms(body)
		if err != nil {
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
			return
		}
		p := e.peer(from)
		p.rooms = map[dmls.RoomID]bool{}
		direct := directRoom(e.me, from)
		for _, id := range ids {
			p.rooms[id] = true
			r := e.byID[id]
			if r == nil && id == dmls.RoomIDOf(direct) {
				// The peer opened our direct room: join it.
				r = e.joinStored(direct)
				continue // openRoom said hello
			}
			if r != nil && !r.s.Kicked(from) {
				e.in(r)(r.s.Hello(from))
			}
		}
	case frameReceipt:
		roomID, msgID, err := parseReceipt(body)
		if err != nil {
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
			return
		}
		r := e.byID[roomID]
		id := hex.EncodeToString(msgID[:])
		news, _, err := e.st.Acknowledge(id, hexID(from))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			e.fail(err)
			return
		}
		if news && r != nil {
			e.emit(Event{Type: "delivered", Room: r.name, ID: id, ToID: hexID(from)})
		}
	default:
		e.cfg.Logf("mmls: from %s: unknown frame type %d", from.Short(), payload[0])
	}
}

func (e *Engine) onDiscovery(ev discovery.Event) {
	if ev.Type != discovery.Found {
		return
	}
	fp, ok := parseFingerprint(ev.Peer.ID)
	if !ok || fp == e.me {
		return
	}
	if p := e.peers[fp]; p != nil && p.online {
		return
	}
	// One address (IPv4 first): dialling each would open duplicate
	// connections that the transport then has to close.
	if len(ev.Peer.Addrs) > 0 {
		if err := e.net.Connect(ev.Peer.Addrs[0]); err != nil {
			e.cfg.Logf("mmls: connect %s: %v", ev.Peer.Addrs[0], err)
		}
	}
}

// ---- time and re-sends ----

func (e *Engine) onTick() {
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		e.in(r)(r.s.Tick())
	}
	// The outbox is read from disk: scan it a few times per ResendAfter,
	// not every tick.
	if now := e.now(); now.Sub(e.lastScan) >= e.cfg.ResendAfter/6 {
		e.lastScan = now
		e.resendDue()
	}
}

func (e *Engine) roomNames() []string {
	names := make([]string, 0, len(e.rooms))
	for n := range e.rooms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// resendDue protects again the messages whose receipts are overdue from a
// recipient that is online and in our send group.
func (e *Engine) resendDue() {
	out, err := e.st.Outbox()
	if err != nil {
		e.fail(err)
		return
	}
	now := e.now()
	live := make(map[string]bool, len(out))
	for _, o := range out {
		live[o.ID] = true
	}
	for id := range e.resent {
		if !live[id] {
			delete(e.resent, id) // delivered: forget when it was last sent
		}
	}
	for _, o := range out {
		if now.Sub(o.SentAt) < e.cfg.ResendAfter || now.Sub(e.resent[o.ID]) < e.cfg.ResendAfter {
			continue
		}
		r := e.rooms[o.Room]
		if r == nil {
			continue
		}
		for _, to := range o.Pending() {
			fp, ok := parseFingerprint(to)
			if p := e.peers[fp]; ok && p != nil && p.online && r.s.InSendGroup(fp) {
				e.reprotect(r, o)
				break
			}
		}
	}
}

// resendTo protects again every message of r that peer has not
// acknowledged.
func (e *Engine) resendTo(r *room, peer dmls.Fingerprint) {
	out, err := e.st.Outbox()
	if err != nil {
		e.fail(err)
		return
	}
	me := hexID(peer)
	for _, o := range out {
		if o.Room != r.name {
			continue
		}
		for _, to := range o.Pending() {
			if to == me {
				e.reprotect(r, o)
				break
			}
		}
	}
}

func (e *Engine) reprotect(r *room, o store.Outgoing) {
	env, err := envelopeOf(o)
	if err != nil {
		e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
		return
	}
	e.resent[o.ID] = e.now()
	e.in(r)(r.s.ProtectEnvelope(env))
}

func envelopeOf(o store.Outgoing) (*dmls.Envelope, error) {
	b, err := hex.DecodeString(o.ID)
	env := &dmls.Envelope{SentAt: o.SentAt, Kind: dmls.EnvelopeText, Body: []byte(o.Text), To: []dmls.Fingerprint{}}
	if o.Kind == "invite" {
		body, ierr := dmls.InviteBody(o.Text)
		if ierr != nil {
			return nil, ierr
		}
		env.Kind, env.Body = dmls.EnvelopeControl, body
	}
	if err != nil || len(b) != len(env.ID) {
		return nil, fmt.Errorf("bad id %q", o.ID)
	}
	copy(env.ID[:], b)
	for _, to := range o.To {
		fp, ok := parseFingerprint(to)
		if !ok {
			return nil, fmt.Errorf("bad recipient %q", to)
		}
		env.To = append(env.To, fp)
	}
	return env, nil
}

// ---- sending ----

// envelope makes a text envelope addressed to our send group as it is and
// to the members it had that are not back yet (after our restart): those
// get the message when they rejoin.
func (e *Engine) envelope(r *room, text string) (*dmls.Envelope, error) {
	env := &dmls.Envelope{SentAt: e.now().UTC(), Kind: dmls.EnvelopeText, Body: []byte(text)}
	if _, err := io.ReadFull(e.cfg.Env.Rand, env.ID[:]); err != nil {
		return nil, err
	}
	to := map[dmls.Fingerprint]bool{}
	for _, m := range r.s.Members() {
		if m.WeReach {
			to[m.ID] = true
		}
	}
	stored, err := e.st.Members(r.name)
	if err != nil {
		return nil, err
	}
	for _, s := range stored {
		if fp, ok := parseFingerprint(s); ok && !r.s.Kicked(fp) && fp != e.me {
			to[fp] = true
		}
	}
	env.To = []dmls.Fingerprint{}
	for fp := range to {
		env.To = append(env.To, fp)
	}
	sort.Slice(env.To, func(i, j int) bool { return string(env.To[i][:]) < string(env.To[j][:]) })
	return env, nil
}

// say protects text in room r: stored (history and outbox) before it is
// reported sent and before anything goes on the wire.
func (e *Engine) say(r *room, text string) {
	text = strings.TrimRight(text, "\r\n")
	if strings.TrimSpace(text) == "" {
		return
	}
	env, err := e.envelope(r, text)
	if err != nil {
		e.fail(fmt.Errorf("send: %w", err))
		return
	}
	out, err := r.s.ProtectEnvelope(env)
	if err != nil {
		e.fail(fmt.Errorf("send: %w", err))
		return
	}
	id := hex.EncodeToString(env.ID[:])
	o := store.Outgoing{ID: id, Room: r.name, Text: text, SentAt: env.SentAt}
	for _, fp := range env.To {
		o.To = append(o.To, hexID(fp))
	}
	if err := e.st.AddOutgoing(o, hexID(e.me), e.id.Nick()); err != nil {
		e.fail(fmt.Errorf("send: not stored, not sent: %w", err))
		return
	}
	e.resent[id] = e.now()
	e.emit(Event{Type: "sent", Room: r.name, ID: id, Text: text, Recipients: len(env.To)})
	e.apply(r, out, nil)
}

func storeIdentity(seed []byte, nick string) store.Identity {
	return store.Identity{Seed: seed, Nick: nick}
}

// joinStored records and opens a room (or returns it if open).
func (e *Engine) joinStored(name string) *room {
	if r := e.rooms[name]; r != nil {
		return r
	}
	if err := e.st.JoinRoom(name, e.now()); err != nil {
		e.fail(err)
		return nil
	}
	r, err := e.openRoom(name)
	if err != nil {
		e.fail(err)
		return nil
	}
	return r
}

// invited reports an invitation that came in a direct room, once per id
// (it is kept in that room's history), and sends the receipt.
func (e *Engine) invited(r *room, ev dmls.Event) {
	if !r.direct || ev.Peer != r.with {
		e.cfg.Logf("mmls: invitation outside a direct room, from %s: ignored", ev.Peer.Short())
		return
	}
	env := ev.Envelope
	id := hex.EncodeToString(env.ID[:])
	nick := e.nickOf(ev.Peer, ev.Nick)
	m := store.Message{ID: id, Room: r.name, FromID: hexID(ev.Peer), FromNick: nick,
		Text: "invites you to " + ev.Detail, SentAt: env.SentAt, ReceivedAt: e.now().UTC()}
	added, err := e.st.AddMessage(m)
	if err != nil {
		e.fail(err)
		return
	}
	if added {
		e.emit(Event{Type: "invite", Room: ev.Detail, From: nick, FromID: hexID(ev.Peer)})
	}
	e.send(ev.Peer, receiptFrame(r.id, env.ID))
}

// direct opens (or returns) the direct room with peer.
func (e *Engine) direct(peer dmls.Fingerprint) *room {
	if peer == e.me {
		e.fail(fmt.Errorf("that is you"))
		return nil
	}
	return e.joinStored(directRoom(e.me, peer))
}

// invite sends peer, through our direct room, the name of room.
func (e *Engine) invite(room *room, peer dmls.Fingerprint) {
	dm := e.direct(peer)
	if dm == nil {
		return
	}
	body, err := dmls.InviteBody(room.name)
	if err != nil {
		e.fail(err)
		return
	}
	env := &dmls.Envelope{SentAt: e.now().UTC(), Kind: dmls.EnvelopeControl, Body: body, To: []dmls.Fingerprint{peer}}
	if _, err := io.ReadFull(e.cfg.Env.Rand, env.ID[:]); err != nil {
		e.fail(err)
		return
	}
	id := hex.EncodeToString(env.ID[:])
	o := store.Outgoing{ID: id, Room: dm.name, Kind: "invite", Text: room.name, SentAt: env.SentAt, To: []string{hexID(peer)}}
	if err := e.st.AddOutgoing(o, hexID(e.me), e.id.Nick()); err != nil {
		e.fail(err)
		return
	}
	e.resent[id] = e.now()
	e.in(dm)(dm.s.ProtectEnvelope(env))
	e.emit(Event{Type: "invited", Room: room.name, ID: hexID(peer), Nick: e.nickOf(peer, "")})
}
