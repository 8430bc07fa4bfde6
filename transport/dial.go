package transport

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"net"
	"syscall"
	"time"
)

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
	var c *conn
	if nc, err := d.Dial("tcp", tg.addr); err != nil {
		t.cfg.Logf("transport: dial %s: %v", tg.addr, err)
		t.unreachable(tg, err)
	} else {
		c = t.newConn(nc, true) // nil when over the connection limit
	}
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

// unreachable tells, once until a connection through it succeeds, that a
// static target failed.
func (t *Transport) unreachable(tg *target, err error) {
	t.mu.Lock()
	tell := tg.static && !tg.told
	tg.told = true
	t.mu.Unlock()
	if tell {
		t.emit(Event{Type: Unreachable, Addr: tg.addr, Reason: plainReason(err)})
	}
}

// plainReason says why a dial or handshake failed, in a few plain words.
func plainReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nobody is listening there"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to that address"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer"
	case errors.Is(err, ErrSelf):
		return "that is this node"
	case errors.Is(err, ErrVersion):
		return "it runs another version of mmls-chat (both need this one or later)"
	case errors.Is(err, ErrAuth):
		return "someone else answered there (not the key you gave): check the contact string"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "unknown host " + dns.Name
	}
	return "the handshake failed (see the log)"
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

// addTarget records a dial address of peer id (from peer exchange, an
// accepted connection, mDNS or a restart's memory). mutual says the peer
// learned of us at the same time (peer exchange tells both sides, mDNS
// shows both): then the larger id yields, and dials only if the smaller's
// dial has not connected within DialYield. Call with t.mu held.
//
// What others say is a hint, never a binding: an address already bound to
// an id (proven by a handshake there, pinned by the user, or hinted first)
// keeps it, and a peer's hinted addresses are dialled side by side (up to
// maxAddrsPerID), so a false hint can neither relabel a friend's address
// nor hide the friend's true one. A hint that proves false (another key
// answers) is dropped (run).
func (t *Transport) addTarget(addr string, id ID, mutual bool) {
	if id == t.me {
		return
	}
	if tg := t.targets[addr]; tg != nil {
		if !tg.hasID && !tg.static {
			tg.id, tg.hasID = id, true
		}
		return
	}
	n := 0
	var worst *target
	for _, tg := range t.targets {
		if !tg.hasID || tg.id != id {
			continue
		}
		n++
		if !tg.proven && !tg.static && !tg.dialing && (worst == nil || tg.backoff > worst.backoff) {
			worst = tg
		}
	}
	if n >= maxAddrsPerID {
		if worst == nil || worst.backoff == 0 {
			return // its addresses are all proven, given by the user, or not tried yet
		}
		delete(t.targets, worst.addr)
	}
	if !t.roomForTarget() {
		return
	}
	tg := &target{addr: addr, id: id, hasID: true}
	if mutual && bytes.Compare(id[:], t.me[:]) < 0 {
		tg.next = time.Now().Add(t.cfg.DialYield)
	}
	t.targets[addr] = tg
	t.wakeMaintenance()
}

// roomForTarget makes room for one more dial target under maxTargets,
// forgetting the one that has failed longest (not connected, not being
// dialled, its backoff the largest), and reports whether there is room.
// Addresses that never answer (a hostile announcer's, say) so give way to
// new ones. Call with t.mu held.
func (t *Transport) roomForTarget() bool {
	if len(t.targets) < maxTargets {
		return true
	}
	// The one failing longest; one being dialled again goes only when
	// none is idle (its dial finishes on its own, forgotten).
	var worst *target
	for _, tg := range t.targets {
		if tg.backoff == 0 {
			continue
		}
		if tg.hasID {
			if p := t.peers[tg.id]; p != nil && p.conn != nil {
				continue
			}
		}
		if worst == nil || worst.dialing && !tg.dialing || worst.dialing == tg.dialing && tg.backoff > worst.backoff {
			worst = tg
		}
	}
	if worst == nil {
		return false
	}
	t.cfg.Logf("transport: forgetting %s (failing, %v backoff) for a new address", worst.addr, worst.backoff)
	delete(t.targets, worst.addr)
	return true
}
