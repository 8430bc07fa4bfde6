package dmls

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestKeyPackageRequestFlood plays a member who asks alice for her
// KeyPackage 1100 times while bob is joining: alice answers a few (each
// answer is a package she must hold), defers the rest, holds no more than
// a handful for mallory, and bob's Welcome still finds the package alice
// gave him.
func TestKeyPackageRequestFlood(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 51, Config{}, "alice", "mallory")
	n.flush()
	alice, mallory := n.node("alice"), n.node("mallory")
	bob := n.addNode("bob") // his hellos are queued, not yet delivered
	answered, deferred := 0, 0
	for i := 0; i < 1100; i++ {
		ask, err := mallory.s.keyPackageTo(alice.id.Fingerprint(), KindKeyPackage, HelloSendYours)
		if err != nil {
			t.Fatal(err)
		}
		out, err := alice.s.Handle(mallory.id.Fingerprint(), ask.Sends[0].Data)
		switch {
		case err == nil && len(out.Sends) == 1:
			answered++
		case errors.Is(err, ErrRateLimited) && len(out.Sends) == 0:
			deferred++
		default:
			t.Fatalf("request %d: %d sends, %v", i, len(out.Sends), err)
		}
	}
	// (Forming the room took some of mallory's answers already.)
	if answered > answerBurst || deferred < 1100-answerBurst {
		t.Fatalf("answered %d, deferred %d", answered, deferred)
	}
	if all, forMallory := alice.id.keys.Held(mallory.id.Fingerprint()); forMallory > answerBurst+2 || all > 16 {
		t.Fatalf("alice holds %d key packages, %d for mallory", all, forMallory)
	}
	n.flush()
	if !alice.s.InSendGroup(bob.id.Fingerprint()) || !bob.s.InSendGroup(alice.id.Fingerprint()) ||
		!alice.s.HasGroupOf(bob.id.Fingerprint()) || !bob.s.HasGroupOf(alice.id.Fingerprint()) {
		t.Fatalf("alice and bob not linked after the flood: %s", n.link(alice, bob))
	}
	n.send(bob, "made it")
	n.flush()
	n.check()
}

// TestKeyStoreIsFairPerPeer: a peer for whom we issue package after
// package (say over many rooms) evicts only its own, past
// MaxKeyPackagesPerPeer; over the total, the peer holding the most loses
// its oldest, so one package issued to a joiner survives any flood.
func TestKeyStoreIsFairPerPeer(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 53, Config{}, "alice")
	alice := n.node("alice")
	bob, mallory := Fingerprint{0xb0}, Fingerprint{0x66}
	bobKP, err := alice.id.NewKeyPackage(n.env(), bob)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3*MaxKeyPackagesPerPeer; i++ {
		if _, err := alice.id.NewKeyPackage(n.env(), mallory); err != nil {
			t.Fatal(err)
		}
	}
	if all, m := alice.id.keys.Held(mallory); m != MaxKeyPackagesPerPeer || all != MaxKeyPackagesPerPeer+1 {
		t.Fatalf("held %d, %d for mallory", all, m)
	}
	// Sybils: many peers, each at its cap, push the total over.
	for p := 0; p < MaxKeyPackages/MaxKeyPackagesPerPeer+2; p++ {
		for i := 0; i < MaxKeyPackagesPerPeer; i++ {
			if _, err := alice.id.NewKeyPackage(n.env(), Fingerprint{0x77, byte(p)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if all, _ := alice.id.keys.Held(mallory); all > MaxKeyPackages {
		t.Fatalf("%d held, over %d", all, MaxKeyPackages)
	}
	if e := alice.id.keys.take([][]byte{bobKP.Hash()}, n.clk.Now()); e == nil {
		t.Fatal("bob's package was evicted")
	}
}

// TestFutureEpochBufferHasAByteBudget plays an owner who sends a member
// messages for a future epoch that never comes, each near the largest a
// message may be: the member holds at most MaxBufferedBytes of them and
// refuses the rest, and still reads the owner's genuine traffic once the
// junk is discarded.
func TestFutureEpochBufferHasAByteBudget(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 55, Config{}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	a := alice.id.Fingerprint()
	junk := make([]byte, MaxMessageSize-1024)
	held, refused := 0, 0
	for i := 0; i < 64; i++ {
		m := &Message{Kind: KindApp, Room: alice.s.Room(), Group: alice.s.SendGroupID(), Epoch: alice.s.SendEpoch() + 1, Data: junk}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		switch _, err := bob.s.Handle(a, data); {
		case err == nil:
			held++
		case errors.Is(err, ErrEpochAhead):
			refused++
		default:
			t.Fatalf("junk %d: %v", i, err)
		}
	}
	budget := bob.s.cfg.MaxBufferedBytes
	if got := bob.s.BufferedBytes(); got > budget || held != budget/len(junk) || refused != 64-held {
		t.Fatalf("held %d (%d bytes of %d), refused %d", held, got, budget, refused)
	}
	// The junk never decrypts; the gap timeout discards it and bob asks to
	// be re-added, after which alice's messages reach him again.
	n.send(alice, "still readable")
	n.settle()
	n.check()
	if bob.s.BufferedBytes() != 0 {
		t.Fatalf("%d bytes still buffered", bob.s.BufferedBytes())
	}
}

// TestFutureEpochBufferBounds: what waits for a future epoch is bounded in
// count and in how far ahead it may be, whatever its size.
func TestFutureEpochBufferBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ahead    func(cfg Config) uint64 // epochs ahead of bob's copy of alice's group
		messages int
		held     func(cfg Config) int
	}{
		{"count", func(Config) uint64 { return 1 }, 300, func(c Config) int { return c.MaxBuffered }},
		{"as far ahead as allowed", func(c Config) uint64 { return c.MaxEpochAhead }, 3, func(Config) int { return 3 }},
		{"too far ahead", func(c Config) uint64 { return c.MaxEpochAhead + 1 }, 3, func(Config) int { return 0 }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := newSimNet(t, uint64(70+i), Config{}, "alice", "bob")
			n.flush()
			alice, bob := n.node("alice"), n.node("bob")
			cfg := bob.s.cfg
			held := 0
			for k := 0; k < tc.messages; k++ {
				m := &Message{Kind: KindApp, Room: alice.s.Room(), Group: alice.s.SendGroupID(), Epoch: alice.s.SendEpoch() + tc.ahead(cfg), Data: []byte{byte(k)}}
				data, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				switch _, err := bob.s.Handle(alice.id.Fingerprint(), data); {
				case err == nil:
					held++
				case !errors.Is(err, ErrEpochAhead):
					t.Fatalf("message %d: %v", k, err)
				}
			}
			if want := tc.held(cfg); held != want || bob.s.Buffered() != want {
				t.Fatalf("held %d (buffered %d), want %d", held, bob.s.Buffered(), want)
			}
		})
	}
}

// TestGapTimerFromTheOldest: the gap timeout counts from the oldest
// message waiting, not the newest: a member who keeps getting messages
// it cannot read does not wait for ever.
func TestGapTimerFromTheOldest(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 80, Config{GapTimeout: 10 * time.Second}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	future := func(b byte) []byte {
		m := &Message{Kind: KindApp, Room: alice.s.Room(), Group: alice.s.SendGroupID(), Epoch: alice.s.SendEpoch() + 1, Data: []byte{b}}
		data, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for step := byte(0); step < 3; step++ {
		if _, err := bob.s.Handle(alice.id.Fingerprint(), future(step)); err != nil {
			t.Fatal(err)
		}
		n.clk.t = n.clk.t.Add(4 * time.Second) // 12 s after the first, 4 s after the last
	}
	if _, err := bob.s.Tick(); err != nil {
		t.Fatal(err)
	}
	if got := bob.s.Buffered(); got != 0 {
		t.Fatalf("%d messages still wait 12 s after the first came (gap timeout 10 s)", got)
	}
}

// TestWaitingDrainedInArrivalOrder: lines that arrive before the commit
// of their epoch wait, and are read in the order they came once it does.
func TestWaitingDrainedInArrivalOrder(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 81, Config{UpdateInterval: time.Minute}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	a, b := alice.id.Fingerprint(), bob.id.Fingerprint()
	n.clk.t = n.clk.t.Add(2 * time.Minute)
	out, err := alice.s.Tick() // an UPDATE commit is due
	if err != nil {
		t.Fatal(err)
	}
	var commit []byte
	for _, o := range out.Sends {
		if o.To == b && o.Kind == KindCommit {
			commit = o.Data
		}
	}
	if commit == nil {
		t.Fatal("alice made no commit for bob")
	}
	texts := []string{"one", "two", "three", "four"}
	for _, text := range texts {
		out, _, err := alice.s.Protect(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Sends {
			if o.To != b {
				continue
			}
			if _, err := bob.s.Handle(a, o.Data); err != nil {
				t.Fatalf("%q before its commit: %v", text, err)
			}
		}
	}
	if bob.s.Buffered() != len(texts) {
		t.Fatalf("%d lines wait, want %d", bob.s.Buffered(), len(texts))
	}
	out, err = bob.s.Handle(a, commit)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, e := range out.Events {
		if e.Type == EventMessage {
			read = append(read, string(e.Envelope.Body))
		}
	}
	if !slices.Equal(read, texts) {
		t.Fatalf("read %q, want %q", read, texts)
	}
}

// TestHostileMemberSimulation: four members chat (seeded: sends, random
// deliveries, clock steps, Updates, re-sends) while a fifth, mallory, is a
// member who floods her owners with Update proposals and KeyPackage
// requests, sends junk for future epochs, forges commit digests, squats
// another's group id in a Welcome, and writes escape sequences. The four
// read everything everyone sent, raise no alert, and hold bounded buffers.
func TestHostileMemberSimulation(t *testing.T) {
	t.Parallel()
	cfg := Config{UpdateEvery: 7, UpdateInterval: 3 * time.Minute, GapTimeout: 20 * time.Second, DigestInterval: 30 * time.Second}
	n := newSimNet(t, 61, cfg, "alice", "bob", "carol", "dave", "mallory")
	n.flush()
	mallory := n.node("mallory")
	m := mallory.id.Fingerprint()
	n.lenient = map[Fingerprint]bool{m: true}
	honest := n.nodes[:4]
	// hit hands a victim mallory's crafted message directly: it must be
	// refused or absorbed without an internal error.
	hit := func(victim *simNode, data []byte) {
		out, err := victim.s.Handle(m, data)
		if errors.Is(err, ErrInternal) {
			t.Fatalf("%s: %v", victim.name, err)
		}
		n.r.Apply(victim.id.Fingerprint(), out, nil)
	}
	craft := func(kind Kind, group []byte, epoch uint64, data []byte) []byte {
		b, err := (&Message{Kind: kind, Room: mallory.s.Room(), Group: group, Epoch: epoch, Data: data}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	counts := map[string]int{}
	for step := 0; step < 400; step++ {
		node := honest[n.rng.IntN(len(honest))]
		victim := honest[n.rng.IntN(len(honest))]
		switch r := n.rng.IntN(100); {
		case r < 30:
			n.send(node, fmt.Sprintf("%s #%d", node.name, step))
		case r < 60:
			for i := n.rng.IntN(8); i >= 0; i-- {
				n.deliverOne()
			}
		case r < 66:
			n.clk.t = n.clk.t.Add(time.Duration(n.rng.IntN(30)) * time.Second)
			n.tickAll()
		case r < 70:
			n.on(node)(node.s.Update())
		case r < 74:
			n.resend(node)
		case r < 78: // a flood of Update proposals to the victim's group
			if rg := mallory.s.byOwner[victim.id.Fingerprint()]; rg != nil {
				for i := 0; i < 30; i++ {
					secret, _ := n.env().secret()
					prop, err := rg.cur.ProposeUpdate(mallory.id.mls, secret)
					if err != nil {
						break
					}
					hit(victim, craft(KindProposal, rg.gid, rg.cur.Epoch(), prop))
				}
				counts["update flood"]++
			}
		case r < 82: // a flood of KeyPackage requests
			for i := 0; i < 50; i++ {
				ask, err := mallory.s.keyPackageTo(victim.id.Fingerprint(), KindKeyPackage, HelloSendYours)
				if err != nil {
					t.Fatal(err)
				}
				hit(victim, ask.Sends[0].Data)
			}
			counts["request flood"]++
		case r < 86: // junk for future epochs of her own group
			junk := make([]byte, 200<<10)
			for i := 0; i < 20; i++ {
				hit(victim, craft(KindApp, mallory.s.SendGroupID(), mallory.s.SendEpoch()+3, junk))
			}
			if got := victim.s.BufferedBytes(); got > cfg.withDefaults().MaxBufferedBytes+1<<20 {
				t.Fatalf("%s buffers %d bytes", victim.name, got)
			}
			counts["junk"]++
		case r < 90: // a forged digest for the victim's group
			for _, e := range mallory.s.Digest() {
				if e.Owner == victim.id.Fingerprint() {
					e.Hash[0] ^= 0xff
					body, err := marshalDigest([]DigestEntry{e})
					if err != nil {
						t.Fatal(err)
					}
					id, _ := mallory.s.newMessageID()
					n.on(mallory)(mallory.s.ProtectEnvelope(&Envelope{ID: id, SentAt: n.clk.Now(), Kind: EnvelopeControl, Body: body}))
					counts["forged digest"]++
				}
			}
		case r < 93: // a Welcome whose header names someone else's group
			hit(victim, craft(KindWelcome, node.s.SendGroupID(), 1, []byte("not a welcome")))
			counts["squat"]++
		case r < 96: // escape sequences, as text
			n.send(mallory, "\x1b]52;c;cGF5bG9hZA==\x07\x1b]0;pwned\x07\u202eevil")
			counts["escapes"]++
		default:
			n.send(mallory, fmt.Sprintf("mallory #%d", step))
		}
	}
	n.settle()
	n.check()
	for _, node := range honest {
		if alerts := n.events(node, EventEquivocation); len(alerts) != 0 {
			t.Fatalf("%s raised %+v", node.name, alerts)
		}
	}
	t.Logf("hostile actions %v; %s", counts, n.summary())
}

// TestForgedDigestAsksLittle plays a member whose digest names ten epochs
// of alice's group, each with a made-up hash: bob asks her for evidence
// at most maxAsksPerDigest times (each request is a message to his whole
// send group).
func TestForgedDigestAsksLittle(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 63, Config{}, "alice", "bob", "mallory")
	n.flush()
	alice, bob, mallory := n.node("alice"), n.node("bob"), n.node("mallory")
	for i := 0; i < 10; i++ {
		n.on(alice)(alice.s.Update())
		n.flush()
	}
	var entries []DigestEntry
	top := alice.s.SendEpoch()
	for e := top - 10; e < top; e++ {
		entries = append(entries, DigestEntry{Group: alice.s.SendGroupID(), Owner: alice.id.Fingerprint(), Epoch: e, Hash: [32]byte{0xfa, byte(e)}})
	}
	body, err := marshalDigest(entries)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := mallory.s.newMessageID()
	out, err := mallory.s.ProtectEnvelope(&Envelope{ID: id, SentAt: n.clk.Now(), Kind: EnvelopeControl, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	asks := 0
	for _, o := range out.Sends {
		if o.To != bob.id.Fingerprint() {
			continue
		}
		got, err := bob.s.Handle(mallory.id.Fingerprint(), o.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got.Sends {
			if s.To == mallory.id.Fingerprint() && s.Kind == KindApp {
				asks++
			}
		}
	}
	if asks != maxAsksPerDigest {
		t.Fatalf("bob sent %d evidence requests for one digest, want %d", asks, maxAsksPerDigest)
	}
}
