package dmls

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// clock is a fake clock tests advance by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func testEnv(seed uint64, clk *clock) Env {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	s[2] = byte(seed >> 16)
	return Env{Rand: rand.NewChaCha8(s), Now: clk.Now}
}

// sent is one application message in a sender's outbox, as the engine
// keeps it: the envelope and who has not acknowledged it yet.
type sent struct {
	env     *Envelope
	members map[Fingerprint]bool // in the send group when it was sent
	unacked map[Fingerprint]bool
	dropped map[Fingerprint]bool // removed from the group since: delivery cancelled
}

type simNode struct {
	name  string
	seed  []byte
	id    *Identity
	s     *Session
	read  map[MessageID]int // times shown (after dedupe this must be 1)
	raw   int               // deliveries of a text, duplicates included
	out   map[MessageID]*sent
	order []MessageID
	evs   []Event
	props int // Update proposals sent
}

type simNet struct {
	t     testing.TB
	clk   *clock
	rng   *rand.Rand
	cfg   Config
	nodes []*simNode
	byFP  map[Fingerprint]*simNode
	r     *Router
	seed  uint64
	errs  map[string]int
	// lenient: nodes whose own errors are not checked (a hostile member
	// breaks its own state).
	lenient map[Fingerprint]bool
}

func newSimNet(t testing.TB, seed uint64, cfg Config, names ...string) *simNet {
	t.Helper()
	n := &simNet{
		t: t, clk: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		rng: rand.New(rand.NewPCG(seed, 7)), cfg: cfg, byFP: map[Fingerprint]*simNode{},
		r: NewRouter(), seed: seed * 1000, errs: map[string]int{},
	}
	n.r.OnOutput = n.observe
	for _, name := range names {
		n.addNode(name)
	}
	return n
}

func (n *simNet) env() Env {
	n.seed++
	return testEnv(n.seed, n.clk)
}

func (n *simNet) addNode(name string) *simNode {
	n.t.Helper()
	id, err := NewIdentity(n.env(), name)
	if err != nil {
		n.t.Fatal(err)
	}
	node := &simNode{name: name, seed: id.Seed(), id: id, read: map[MessageID]int{}, out: map[MessageID]*sent{}}
	n.nodes = append(n.nodes, node)
	n.byFP[id.Fingerprint()] = node
	n.start(node)
	return node
}

// start gives node a fresh session (a first start, or a restart that lost
// all MLS state) and says hello to every other node.
func (n *simNet) start(node *simNode) {
	n.t.Helper()
	id, err := IdentityFromSeed(node.seed, node.name)
	if err != nil {
		n.t.Fatal(err)
	}
	node.id = id
	if node.s, err = NewSession(id, n.env(), RoomIDOf("lobby"), n.cfg); err != nil {
		n.t.Fatal(err)
	}
	n.r.Attach(node.s)
	for _, other := range n.nodes {
		if other != node {
			n.on(node)(node.s.Hello(other.id.Fingerprint()))
		}
	}
}

// on returns the function that takes the result of a call on node's
// session: on(node)(node.s.Protect(...)).
func (n *simNet) on(node *simNode) func(Output, error) { return n.r.On(node.id.Fingerprint()) }

// observe is the router's OnOutput: it checks errors, records events and
// keeps the outboxes.
func (n *simNet) observe(at Fingerprint, out Output, err error) {
	n.t.Helper()
	if !n.lenient[at] {
		n.note(err)
	}
	node := n.byFP[at]
	for _, o := range out.Sends {
		if o.Kind == KindProposal {
			node.props++
		}
	}
	for _, e := range out.Events {
		node.evs = append(node.evs, e)
		if e.Type == EventMessage {
			n.read(node, e)
		}
		if e.Type == EventMemberRemoved && e.By == node.id.Fingerprint() {
			for _, s := range node.out {
				if s.unacked[e.Peer] {
					s.dropped[e.Peer] = true // cancelled before it was read
				}
				delete(s.unacked, e.Peer)
			}
		}
	}
}

func (n *simNet) note(err error) {
	if err == nil {
		return
	}
	for _, known := range []error{ErrKicked, ErrUnknownGroup, ErrEpochOld, ErrReplay, ErrDuplicate, ErrNotMember, ErrEpochAhead, ErrRemoved, ErrNotForUs, ErrStaleWelcome, ErrRateLimited, ErrNoEvidence} {
		if errors.Is(err, known) {
			n.errs[known.Error()]++
			return
		}
	}
	n.t.Fatalf("unexpected error: %v", err)
}

func (n *simNet) read(node *simNode, e Event) {
	node.raw++
	node.read[e.Envelope.ID]++
	sender := n.byFP[e.Peer]
	if sender == nil {
		n.t.Fatalf("%s read a message from unknown %s", node.name, e.Peer.Short())
	}
	s := sender.out[e.Envelope.ID]
	if s == nil {
		n.t.Fatalf("%s read message %v that %s never sent", node.name, e.Envelope.ID, sender.name)
	}
	if !s.members[node.id.Fingerprint()] {
		n.t.Fatalf("%s read %s's message %v though not in the group when it was sent", node.name, sender.name, e.Envelope.ID)
	}
	if !bytes.Equal(e.Envelope.Body, s.env.Body) {
		n.t.Fatalf("%s read a different body", node.name)
	}
	delete(s.unacked, node.id.Fingerprint())
}

// send makes node send a text and records it in its outbox.
func (n *simNet) send(node *simNode, text string) {
	n.t.Helper()
	out, env, err := node.s.Protect(text)
	n.recordSent(node, env, err)
	n.r.Apply(node.id.Fingerprint(), out, err)
}

func (n *simNet) recordSent(node *simNode, env *Envelope, err error) {
	if err != nil || env == nil {
		return
	}
	s := &sent{env: env, members: map[Fingerprint]bool{}, unacked: map[Fingerprint]bool{}, dropped: map[Fingerprint]bool{}}
	for _, fp := range node.s.sendRecipients() {
		s.members[fp], s.unacked[fp] = true, true
	}
	node.out[env.ID] = s
	node.order = append(node.order, env.ID)
}

// resend re-protects every message some current member has not
// acknowledged, as the engine's outbox does after reconnects and rejoins.
func (n *simNet) resend(node *simNode) {
	for _, id := range node.order {
		s := node.out[id]
		pending := false
		for fp := range s.unacked {
			// Not in the group right now (say the sender restarted and the
			// member has not rejoined yet) is not a cancellation.
			pending = pending || node.s.InSendGroup(fp)
		}
		if pending {
			n.on(node)(node.s.ProtectEnvelope(s.env))
		}
	}
}

// deliverOne delivers the head of a random non-empty queue.
func (n *simNet) deliverOne() bool { return n.r.DeliverRandom(n.rng) }

// deliverPair delivers everything queued from one node to another, in
// order, and nothing else.
func (n *simNet) deliverPair(from, to *simNode) {
	n.r.DeliverPair(from.id.Fingerprint(), to.id.Fingerprint())
}

func (n *simNet) flush() {
	for i := 0; n.deliverOne(); i++ {
		if i > 1_000_000 {
			n.t.Fatal("network does not quiesce")
		}
	}
}

func (n *simNet) tickAll() {
	for _, node := range n.nodes {
		n.on(node)(node.s.Tick())
	}
}

// crash drops node's MLS state and inbound traffic, and restarts it.
func (n *simNet) crash(node *simNode) {
	n.r.DropTo(node.id.Fingerprint())
	n.start(node)
}

// settle runs the network to quiescence with re-sends and clock steps, as
// time passing would.
func (n *simNet) settle() {
	for round := 0; round < 40; round++ {
		n.flush()
		n.clk.t = n.clk.t.Add(n.cfg.withDefaults().GapTimeout + time.Second)
		n.tickAll()
		for _, node := range n.nodes {
			n.resend(node)
		}
		n.flush()
		if n.unacked() == 0 {
			return
		}
	}
}

func (n *simNet) unacked() int {
	c := 0
	for _, node := range n.nodes {
		for _, s := range node.out {
			for fp := range s.unacked {
				if node.s.InSendGroup(fp) {
					c++
				}
			}
		}
	}
	return c
}

// check asserts the delivery invariants: every message was read by every
// member that was in its sender's group when it was sent, unless the
// delivery was cancelled before it was read (the member was removed from
// the sender's group, or one of the two kicked the other). Reads are
// counted as shows (the engine dedupes by id).
func (n *simNet) check() {
	n.t.Helper()
	pairs, read, cancelled := 0, 0, 0
	for _, sender := range n.nodes {
		for _, id := range sender.order {
			s := sender.out[id]
			for fp := range s.members {
				pairs++
				r := n.byFP[fp]
				switch {
				case r.read[id] > 0:
					read++
				case s.dropped[fp] || sender.s.Kicked(fp) || r.s.Kicked(sender.id.Fingerprint()):
					cancelled++
				default:
					n.t.Errorf("%s never read %s's message %q (unacked %v, in To %v; %s)", r.name, sender.name, s.env.Body,
						s.unacked[fp], s.env.AddressedTo(fp), n.link(sender, r))
				}
			}
		}
	}
	n.t.Logf("%d (message, member) pairs: %d read, %d cancelled by a removal or a kick before they were read", pairs, read, cancelled)
}

func (n *simNet) summary() string {
	var keys []string
	for k, v := range n.errs {
		keys = append(keys, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(keys)
	msgs, reads, raw := 0, 0, 0
	for _, node := range n.nodes {
		msgs += len(node.out)
		reads += len(node.read)
		raw += node.raw
	}
	return fmt.Sprintf("messages=%d distinct-reads=%d deliveries=%d errors=%v", msgs, reads, raw, keys)
}

func (n *simNet) node(name string) *simNode {
	for _, node := range n.nodes {
		if node.name == name {
			return node
		}
	}
	n.t.Fatalf("no node %s", name)
	return nil
}

func (n *simNet) events(node *simNode, typ EventType) []Event {
	var out []Event
	for _, e := range node.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// link describes the state of the link from a to b, for failure messages.
func (n *simNet) link(a, b *simNode) string {
	af, bf := a.id.Fingerprint(), b.id.Fingerprint()
	desc := fmt.Sprintf("%s has %s in send group: %v, kicked: %v; %s has %s's group: %v, kicked: %v, buffered %d",
		a.name, b.name, a.s.InSendGroup(bf), a.s.Kicked(bf), b.name, a.name, b.s.HasGroupOf(af), b.s.Kicked(af), b.s.Buffered())
	if rg := b.s.byOwner[af]; rg != nil {
		desc += fmt.Sprintf("; group %x epoch %d vs owner's %x epoch %d", rg.gid[:4], rg.cur.Epoch(), a.s.SendGroupID()[:4], a.s.SendEpoch())
	}
	return desc
}
