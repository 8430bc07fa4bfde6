package mmls

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

type peerState struct {
	id     ID
	nick   string
	skel   string // skeleton(nick), to find look-alikes
	addr   string
	online bool
	stored string               // nick and address as the store knows them
	rooms  map[dmls.RoomID]bool // the rooms we know we share with it
	// announced is its last rooms frame, to recognise the private rooms
	// we join later.
	announced *announcement
	// badHeld counts what it handed on that did not check, since it
	// connected (maxBadHeld).
	badHeld int
	// renamedAt: when it last changed its nick (at most one change per
	// RenameEvery is shown); wantNick: a later one, shown when that
	// pause is over (nick.go).
	renamedAt time.Time
	wantNick  string
	// away: why it is away ("" when it is not); awayShown: what was
	// last reported of it, at awayAt (at most one change per
	// RenameEvery is shown, as for nicks).
	away, awayShown string
	awayAt          time.Time
}

func (e *Engine) peer(id ID) *peerState {
	p := e.peers[id]
	if p == nil {
		p = &peerState{id: id, rooms: map[dmls.RoomID]bool{}}
		e.peers[id] = p
	}
	return p
}

func (e *Engine) send(to ID, payload []byte) {
	if e.commit.held != nil {
		e.commit.held = append(e.commit.held, deferred{to: to, payload: payload}) // in order, after the batch
		return
	}
	if err := e.net.Send(to, payload); err != nil {
		e.cfg.Logf("mmls: send to %s: %v", to.Short(), err)
	}
}

func (e *Engine) onNet(ev NetEvent) {
	switch ev.Kind {
	case PeerUp:
		p := e.peer(ev.Peer)
		wasOnline := p.online
		p.online = true
		if ev.Addr != "" {
			p.addr = ev.Addr
		}
		if dmls.ValidNick(ev.Nick) == nil { // else shown by its short id
			e.rename(p, ev.Nick)
		}
		if !wasOnline {
			e.emit(&PeerChanged{ID: p.id, Nick: e.nickOf(p.id, ""), Addr: p.addr, Online: true})
			e.files.SetOnline(p.id, true)
		}
		if p.stored != "" || e.known(p.id) {
			e.remember(p)
		}
		e.announceTo(p.id)
		if e.nick != e.id.Nick() {
			// Our handshake said the nick we have now; one that was up
			// before /nick may have said the old one.
			e.send(p.id, frame.New(frame.Nick, []byte(e.nick)))
		}
		if e.away != "" {
			e.send(p.id, frame.New(frame.Away, []byte(e.away)))
		}
	case PeerDown:
		p := e.peer(ev.Peer)
		if p.online {
			p.online = false
			p.badHeld = 0
			p.away, p.awayShown = "", "" // it says again when it comes back
			for _, r := range e.rooms {
				delete(r.acks.met, p.id) // the next time it comes, we meet again
			}
			e.emit(&PeerChanged{ID: p.id, Nick: e.nickOf(p.id, ""), Addr: p.addr, Online: false})
			e.files.SetOnline(p.id, false)
		}
	case DialFailed:
		e.emit(&Unreachable{Addr: ev.Addr, Reason: ev.Reason})
	case Frame:
		e.onFrame(ev.Peer, ev.Payload)
		// Everything it carried is stored (or refused for good): once
		// the batch is durable, say so.
		e.ack(ev.Peer, ev.Seq)
	}
}

// remember keeps p as a known peer: its nick names it while offline, and
// its address lets the next start reconnect without --peer. Only peers we
// share an open or private room with (or verified) are kept, so a
// stranger's flood of fresh keys cannot push our friends out of the
// known peers. A new peer or a new address is written now (a restart
// needs it); only the time it was seen waits for the tick.
func (e *Engine) remember(p *peerState) {
	e.net.Befriend(p.id)
	if p.nick == "" {
		return
	}
	k := store.KnownPeer{ID: p.id.String(), Nick: p.nick, Addr: p.addr, Seen: e.now()}
	stored := k.Nick + "\x00" + k.Addr
	if stored == p.stored {
		e.kept.peers = append(e.kept.peers, k)
		return
	}
	if err := e.st.SawPeers([]store.KnownPeer{k}); err != nil {
		e.cfg.Logf("mmls: remember peer %s: %v", p.id.Short(), err)
		return
	}
	p.stored = stored
}

// pin records which key a nick belongs to, and raises an alert when a
// nick arrives with another key than the one of someone we verified or
// share a room with. Nicks are labels: a stranger who took a nick first
// (or a nick someone we never shared a room with used) is replaced
// silently by the one we know, and never pins it.
func (e *Engine) pin(p *peerState) {
	prev, err := e.st.PinnedTo(p.nick)
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	me := p.id.String()
	if prev == me {
		return
	}
	if old, ok := ParseID(prev); ok && e.trusted(old) {
		e.raise(&Alert{Kind: KeyChanged, Nick: p.nick, ID: p.id,
			Detail: fmt.Sprintf("%s arrived with a different key (%s, was %s); check with /verify %s", p.nick, p.id.Short(), old.Short(), p.id.Short())})
		return
	}
	if e.trusted(p.id) {
		if err := e.st.SetPin(p.nick, me); err != nil {
			e.fail(storageErr(err))
		}
	}
}

// trusted reports whether we verified peer or share a room with it (now,
// or in our send group before a restart).
func (e *Engine) trusted(peer ID) bool {
	if e.known(peer) {
		return true
	}
	for _, r := range e.rooms {
		if r.direct {
			continue
		}
		if r.s.InSendGroup(peer) || r.s.HasGroupOf(peer) {
			return true
		}
		if members, err := e.st.Members(r.name); err == nil && slices.Contains(members, peer.String()) {
			return true
		}
	}
	return false
}

func (e *Engine) onFrame(from ID, payload []byte) {
	kind, body, err := frame.Split(payload)
	if err != nil {
		e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
		return
	}
	// Every kind the table (mmls/frame) has is handled here, once.
	switch kind {
	case frame.DMLS:
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
		e.in(r)(r.s.HandleMessage(from, m))
	case frame.Rooms:
		a, err := parseRooms(body)
		if err != nil {
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
			return
		}
		e.onRooms(from, a)
	case frame.Acks:
		e.onAcks(from, body)
	case frame.Ack:
		e.onAck(from, body)
	case frame.Held:
		e.onHeld(from, body)
	case frame.Nick:
		e.onNick(from, body)
	case frame.Away:
		e.onAway(from, body)
	case frame.FileRequest:
		// Parsed once, here: what we serve follows who we send to now
		// (kickedAsker), then the manager serves it.
		req, err := files.ParseRequest(body)
		switch {
		case err != nil:
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
		case e.kickedAsker(from, req):
		case !e.files.Request(from, req):
			e.cfg.Logf("mmls: from %s: file request dropped (busy); it is asked again", from.Short())
		}
	case frame.FileData:
		// Taken by the manager only from a holder it asked.
		d, err := files.ParseData(body)
		switch {
		case err != nil:
			e.cfg.Logf("mmls: from %s: %v", from.Short(), err)
		case !e.files.Data(from, d):
			e.cfg.Logf("mmls: from %s: file data dropped (busy); it is asked again", from.Short())
		}
	default: // in the table, not handled here: a new kind half added
		e.cfg.Logf("mmls: from %s: a %v frame, which this version does not handle", from.Short(), kind)
	}
}

// onRooms takes a peer's announcement: we say hello in the rooms we
// share (recognised by their tags), and join the direct room it opened
// with us.
func (e *Engine) onRooms(from ID, a *announcement) {
	p := e.peer(from)
	p.rooms, p.announced = map[dmls.RoomID]bool{}, a
	for _, r := range e.rooms {
		if e.recognises(r, from, a) {
			p.rooms[r.id] = true
		}
	}
	if direct := directRoom(e.me, from); a.direct && e.rooms[direct] == nil {
		// The peer opened our direct room: join it (openRoom says hello),
		// unless the user ignores it; a stranger's is a request, unless
		// enough strangers have one open.
		switch n := e.strangerRooms(); {
		case e.ignored(from):
			e.cfg.Logf("mmls: %s, ignored, opened a direct room with us: refused", from.Short())
		case e.known(from):
			if _, err := e.joinStored(store.Room{Name: direct}); err != nil {
				e.fail(err)
			}
		case n >= MaxStrangerRooms:
			e.cfg.Logf("mmls: %s opened a direct room with us; %d with strangers are open already: ignored", from.Short(), n)
		default:
			if err := e.openRequest(from); err != nil {
				e.fail(err)
			}
		}
	}
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		shared := p.rooms[r.id] || r.direct && r.with == from && a.direct
		if shared && !r.s.Kicked(from) {
			e.in(r)(r.s.Hello(from))
			e.meet(r, from)
		}
	}
}

func (e *Engine) onSighting(s Sighting) {
	if s.ID == e.me {
		return
	}
	if p := e.peers[s.ID]; p != nil && p.online {
		return
	}
	// One address (the best first): dialling each would open duplicate
	// connections that the transport then has to close.
	if len(s.Addrs) > 0 {
		if err := e.net.Reach(s.Addrs[0], s.ID); err != nil {
			e.cfg.Logf("mmls: connect %s: %v", s.Addrs[0], err)
		}
	}
}

// byNick finds a peer by nick, or by an id prefix of at least 8 hex
// digits, among the known peers.
func (e *Engine) byNick(nick string) (ID, error) {
	if name, short, ok := strings.Cut(nick, " ("); ok && strings.HasSuffix(short, ")") {
		// A look-alike as shown: "nick (short id)".
		short = strings.TrimSuffix(short, ")")
		for id, p := range e.peers {
			if p.nick == name && id.Short() == short {
				return id, nil
			}
		}
	}
	var found []ID
	for id, p := range e.peers {
		if p.nick == nick || len(nick) >= 8 && strings.HasPrefix(id.String(), strings.ToLower(nick)) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return ID{}, failf(ErrNoSuchPeer, "nobody called %q is known here (see /peers)", nick)
	case 1:
		return found[0], nil
	}
	return ID{}, failf(ErrAmbiguous, "%d peers are called %q: use an id prefix (see /peers)", len(found), nick)
}

// nickOf is how peer fp is shown: its nick, with its short id when another
// known peer's nick looks the same; fallback (or the short id) when it has
// none.
func (e *Engine) nickOf(fp ID, fallback string) string {
	if fp == e.me {
		return e.nick // we are no peer of ours
	}
	if p := e.peers[fp]; p != nil && p.nick != "" {
		if e.lookAlike(fp) {
			return p.nick + " (" + fp.Short() + ")"
		}
		return p.nick
	}
	if fallback != "" {
		return fallback
	}
	return fp.Short()
}

// lookAlike reports whether fp's nick looks like another's, so that it is
// shown with its short id (nickOf; MemberView.LookAlike).
func (e *Engine) lookAlike(fp ID) bool {
	p := e.peers[fp]
	return fp != e.me && p != nil && p.nick != "" && len(e.lookAlikes(fp)) > 0
}

// MaxStrangerRooms bounds the direct rooms that peers who share no room
// with us and whom we have not verified may open with us (we can still
// open one with anyone, and /leave makes room).
const MaxStrangerRooms = 16

// known reports whether peer shares a room with us now or was verified.
func (e *Engine) known(peer ID) bool {
	if p := e.peers[peer]; p != nil {
		for id := range p.rooms {
			if r := e.byID[id]; r != nil && !r.direct {
				return true
			}
		}
	}
	verified, err := e.st.Verified(peer.String())
	return err == nil && verified
}

// strangerRooms counts our direct rooms with peers we do not know.
func (e *Engine) strangerRooms() int {
	n := 0
	for _, r := range e.rooms {
		if r.direct && !e.known(r.with) {
			n++
		}
	}
	return n
}
