package transport

import (
	"bytes"
	"net"
	"strconv"
)

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
	if authed := t.authenticated(); authed > t.cfg.MaxConns && !c.dialer {
		// Past the bound, only while a stranger's connection makes room
		// for a friend's (the handshake took one of friendSlots).
		if !t.friends[c.remote] || !t.makeRoom("a friend, "+c.remote.Short()) {
			t.cfg.Logf("transport: refusing %s: %d connections", c.remote.Short(), authed-1)
			return nil, false, ""
		}
	}
	if tg != nil {
		// Who answered here is who is here: a binding no hint replaces.
		tg.id, tg.hasID, tg.proven, tg.dialing, tg.backoff, tg.told = c.remote, true, true, false, 0, false
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
		t.addTarget(p.addr, p.id, false)
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

// authenticated counts the live authenticated connections, c's own (it
// has its remote id by now) included. Call with t.mu held.
func (t *Transport) authenticated() int {
	n := 0
	for c := range t.conns {
		if !c.evicted && (c.peer != nil || c.remote != ID{}) {
			n++
		}
	}
	return n
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
