package dmls

import (
	"errors"
	"testing"
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
