package transport

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// stranger connects to srv with a fresh key of its own, says hello, and
// sends a peer-exchange frame with the entries given.
func strangerSays(t *testing.T, srv *node, entries []peerAddr) net.Conn {
	t.Helper()
	cert := identityCert(t, "stranger-"+t.Name())
	c := dialTLS(t, srv.addr, &cert)
	c.Write(appendFrame(nil, frameHello, (&hello{nick: "stranger", listenPort: 1}).marshal()))
	c.Write(appendFrame(nil, framePeers, marshalPeers(entries)))
	t.Cleanup(func() { c.Close() })
	// A ping after it: once its pong is back, the peers frame was handled.
	c.Write(appendFrame(nil, framePing))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for {
		f, err := readFrame(br, DefaultMaxFrame)
		if err != nil {
			t.Fatalf("the stranger's connection: %v", err)
		}
		if f.typ == framePong {
			return c
		}
	}
}

// targetOf returns the id a dial address is bound to (and whether it is).
func targetOf(n *node, addr string) (ID, bool, bool) {
	n.t.mu.Lock()
	defer n.t.mu.Unlock()
	tg := n.t.targets[addr]
	if tg == nil {
		return ID{}, false, false
	}
	return tg.id, tg.hasID, tg.proven
}

// TestAttackStrangerRelabelsAddress: a stranger's peer exchange says a
// friend's address is its own id. The binding a handshake proved stays,
// and after an ordinary glitch alice and bob connect again.
func TestAttackStrangerRelabelsAddress(t *testing.T) {
	t.Parallel()
	alice, bob := startNode(t, testConfig("alice")), startNode(t, testConfig("bob"))
	if err := alice.t.Connect(bob.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, alice, bob.t.ID())
	liar := IDOf(newEdIdentity("liar").PublicKey())
	strangerSays(t, alice, []peerAddr{{id: liar, addr: bob.addr}})
	id, bound, proven := targetOf(alice, bob.addr)
	if !bound || id != bob.t.ID() || !proven {
		t.Fatalf("bob's address is bound to %s (bound %v, proven %v)", id.Short(), bound, proven)
	}
	// An ordinary glitch: bob's connection closes; alice dials him again
	// where he was proven to be, and he answers.
	alice.t.mu.Lock()
	for c := range alice.t.conns {
		if c.peer != nil && c.peer.id == bob.t.ID() {
			c.nc.Close()
		}
	}
	alice.t.mu.Unlock()
	waitFor(t, alice, 10*time.Second, func(e Event) bool { return e.Type == PeerDown && e.Peer == bob.t.ID() })
	waitUp(t, alice, bob.t.ID())
}

// TestAttackFalseAnnouncementFirst: an mDNS announcement claims bob's id
// at a dead address before bob's own: both addresses are dialled, and
// alice and bob connect.
func TestAttackFalseAnnouncementFirst(t *testing.T) {
	t.Parallel()
	alice, bob := startNode(t, testConfig("alice")), startNode(t, testConfig("bob"))
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nobody listens there
	if err := alice.t.Sighted(deadAddr, bob.t.ID()); err != nil {
		t.Fatal(err)
	}
	if err := alice.t.Sighted(bob.addr, bob.t.ID()); err != nil {
		t.Fatal(err)
	}
	waitUp(t, alice, bob.t.ID())
}

// TestFalseHintIsDropped: a hint that names the wrong id for an address
// is dropped when another key answers there, and the true peer's own hint
// then connects.
func TestFalseHintIsDropped(t *testing.T) {
	t.Parallel()
	cfg := testConfig("alice")
	book := &logBook{}
	cfg.Logf = book.logf
	alice, bob := startNode(t, cfg), startNode(t, testConfig("bob"))
	liar := IDOf(newEdIdentity("liar").PublicKey())
	if err := alice.t.Sighted(bob.addr, liar); err != nil {
		t.Fatal(err)
	}
	book.waitCount(t, "a false hint, dropped", 1, 10*time.Second)
	if _, bound, _ := targetOf(alice, bob.addr); bound {
		t.Fatal("the false hint is still there")
	}
	if err := alice.t.Sighted(bob.addr, bob.t.ID()); err != nil {
		t.Fatal(err)
	}
	waitUp(t, alice, bob.t.ID())
}

// TestContactStringPinsFirstContact: a contact string (fingerprint and
// address) is answered only by its key: another key there is refused and
// said in plain words; the right one connects.
func TestContactStringPinsFirstContact(t *testing.T) {
	t.Parallel()
	alice, bob, mallory := startNode(t, testConfig("alice")), startNode(t, testConfig("bob")), startNode(t, testConfig("mallory"))
	// alice was given bob's fingerprint, but mallory answers at the address.
	if err := alice.t.ConnectPinned(mallory.addr, bob.t.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, alice, 10*time.Second, func(e Event) bool {
		return e.Type == Unreachable && e.Addr == mallory.addr && strings.Contains(e.Reason, "someone else answered")
	})
	for _, p := range alice.t.Peers() {
		if p.ID == mallory.t.ID() {
			t.Fatal("alice took mallory for bob")
		}
	}
	if err := alice.t.ConnectPinned(bob.addr, bob.t.ID()); err != nil {
		t.Fatal(err)
	}
	waitUp(t, alice, bob.t.ID())
}

// TestAttackStrangersHoldEverySlot: strangers with fresh keys hold every
// authenticated connection the server allows. A friend (someone the
// layer above knows) still connects, inbound, and the server can still
// dial another friend: a stranger's connection makes room each time.
func TestAttackStrangersHoldEverySlot(t *testing.T) {
	t.Parallel()
	cfg := testConfig("server")
	cfg.MaxConns = 6
	book := &logBook{}
	cfg.Logf = book.logf
	srv := startNode(t, cfg)
	for i := range cfg.MaxConns {
		s := startNode(t, testConfig(fmt.Sprint("stranger", i)))
		if err := s.t.Connect(srv.addr); err != nil {
			t.Fatal(err)
		}
		waitUp(t, srv, s.t.ID())
	}
	friend, other := startNode(t, testConfig("friend")), startNode(t, testConfig("other friend"))
	srv.t.Befriend(friend.t.ID())
	srv.t.Befriend(other.t.ID())
	if err := friend.t.Connect(srv.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, srv, friend.t.ID())
	if err := srv.t.Connect(other.addr); err != nil {
		t.Fatal(err)
	}
	waitUp(t, srv, other.t.ID())
	// Strangers keep coming (the ones that made room dial again, and a
	// new one): they take what is free, never a friend's connection.
	late := startNode(t, testConfig("late stranger"))
	if err := late.t.Connect(srv.addr); err != nil {
		t.Fatal(err)
	}
	book.waitCount(t, "refusing ", 1, 10*time.Second)
	online := map[ID]bool{}
	for _, p := range srv.t.Peers() {
		online[p.ID] = p.Online
	}
	if !online[friend.t.ID()] || !online[other.t.ID()] {
		t.Fatalf("a friend lost its connection to strangers: %v", online)
	}
}
