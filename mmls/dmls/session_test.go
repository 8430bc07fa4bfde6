package dmls

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/mlsguard"
)

func TestThreePartyRoom(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 1, Config{}, "alice", "bob", "carol")
	n.flush()
	for _, node := range n.nodes {
		if got := len(node.s.Members()); got != 2 {
			t.Fatalf("%s sees %d members", node.name, got)
		}
		for _, m := range node.s.Members() {
			if !m.WeReach || !m.TheyReach {
				t.Fatalf("%s: %s not both ways: %+v", node.name, m.Nick, m)
			}
		}
	}
	for _, node := range n.nodes {
		n.send(node, "hi from "+node.name)
	}
	n.flush()
	n.check()
	for _, node := range n.nodes {
		if len(node.read) != 2 {
			t.Fatalf("%s read %d messages", node.name, len(node.read))
		}
	}
}

func TestMemberUpdateIsCommittedByOwner(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 2, Config{}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	before := alice.s.byOwner[bob.id.Fingerprint()].cur.Epoch()
	n.on(alice)(alice.s.Update())
	n.flush()
	// Bob holds Alice's proposal; his next PROTECT commits it first.
	if bob.s.send.PendingProposals() != 1 {
		t.Fatalf("bob holds %d proposals", bob.s.send.PendingProposals())
	}
	n.send(bob, "after update")
	n.flush()
	n.check()
	if after := alice.s.byOwner[bob.id.Fingerprint()].cur.Epoch(); after != before+1 {
		t.Fatalf("alice in bob's group: epoch %d -> %d", before, after)
	}
}

func TestUpdatePolicyEveryKMessagesAndTMinutes(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 3, Config{UpdateEvery: 5, UpdateInterval: time.Hour}, "alice", "bob")
	n.flush()
	alice := n.node("alice")
	start := alice.s.SendEpoch()
	for i := 0; i < 11; i++ {
		n.send(alice, fmt.Sprint(i))
	}
	if got := alice.s.SendEpoch() - start; got != 2 {
		t.Fatalf("11 messages with K=5: %d updates, want 2", got)
	}
	n.clk.t = n.clk.t.Add(time.Hour)
	n.on(alice)(alice.s.Tick())
	if got := alice.s.SendEpoch() - start; got != 3 {
		t.Fatalf("after T: %d updates, want 3", got)
	}
	n.flush()
	n.check()
}

func TestRemovalPropagates(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 4, Config{}, "alice", "bob", "carol", "dave")
	n.flush()
	alice, bob, carol, dave := n.node("alice"), n.node("bob"), n.node("carol"), n.node("dave")
	n.on(alice)(alice.s.Remove(dave.id.Fingerprint()))
	n.flush()
	for _, node := range []*simNode{alice, bob, carol} {
		if node.s.InSendGroup(dave.id.Fingerprint()) || node.s.HasGroupOf(dave.id.Fingerprint()) {
			t.Fatalf("%s still has dave", node.name)
		}
	}
	if got := len(n.events(dave, EventRemoved)); got != 3 {
		t.Fatalf("dave saw %d removals, want 3", got)
	}
	for _, node := range []*simNode{alice, bob, carol} {
		n.send(node, "without dave")
	}
	n.flush()
	n.check()
	if len(dave.read) != 0 {
		t.Fatalf("dave read %d messages after removal", len(dave.read))
	}
	// Dave's KeyPackage is refused everywhere: nobody re-adds him on its own.
	n.start(dave)
	n.flush()
	if bob.s.InSendGroup(dave.id.Fingerprint()) {
		t.Fatal("bob re-added dave on his own")
	}
	// Alice re-admits him: the re-admission propagates as the removal
	// did (bob and carol followed alice's removal, so they lift theirs)
	// and he is back everywhere.
	kp, err := dave.id.NewKeyPackage(n.env(), alice.id.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	n.on(alice)(alice.s.Add(kp.Bytes()))
	n.flush()
	for _, node := range []*simNode{alice, bob, carol} {
		if !node.s.InSendGroup(dave.id.Fingerprint()) || !dave.s.InSendGroup(node.id.Fingerprint()) {
			t.Fatalf("%s and dave not linked after the re-admission", node.name)
		}
	}
	// Each lifts once, when the owner whose removal it followed (alice, or
	// bob who had followed her) re-admits dave.
	for _, node := range []*simNode{bob, carol} {
		if lifted := n.events(node, EventKickLifted); len(lifted) != 1 || lifted[0].By == node.id.Fingerprint() {
			t.Fatalf("%s lifted %+v", node.name, lifted)
		}
	}
}

// TestOwnKickOutlivesAnotherReadmission: bob removes dave himself; when
// alice re-admits dave, those who followed alice's removals would lift
// theirs, but bob's own kick is his, and stays.
func TestOwnKickOutlivesAnotherReadmission(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 5, Config{}, "alice", "bob", "carol", "dave")
	n.flush()
	alice, bob, dave := n.node("alice"), n.node("bob"), n.node("dave")
	n.on(bob)(bob.s.Remove(dave.id.Fingerprint()))
	n.flush()
	kp, err := dave.id.NewKeyPackage(n.env(), alice.id.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	n.on(alice)(alice.s.Add(kp.Bytes()))
	n.flush()
	if !alice.s.InSendGroup(dave.id.Fingerprint()) {
		t.Fatal("alice did not re-admit dave")
	}
	if !bob.s.Kicked(dave.id.Fingerprint()) || bob.s.InSendGroup(dave.id.Fingerprint()) {
		t.Fatal("alice's re-admission lifted bob's own kick")
	}
	if lifted := n.events(bob, EventKickLifted); len(lifted) != 0 {
		t.Fatalf("bob lifted %+v", lifted)
	}
}

// TestRemovalsFollowedByPolicy: with a policy that follows only alice, a
// removal by mallory stays in mallory's group (everyone else keeps
// bob), while alice's is followed.
func TestRemovalsFollowedByPolicy(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 5, Config{}, "alice", "bob", "carol", "mallory")
	n.flush()
	alice, bob, carol, mallory := n.node("alice"), n.node("bob"), n.node("carol"), n.node("mallory")
	for _, node := range n.nodes {
		node.s.FollowRemovals(func(remover Fingerprint) bool { return remover == alice.id.Fingerprint() })
	}
	n.on(mallory)(mallory.s.Remove(bob.id.Fingerprint()))
	n.flush()
	for _, node := range []*simNode{alice, carol} {
		if !node.s.InSendGroup(bob.id.Fingerprint()) || node.s.Kicked(bob.id.Fingerprint()) {
			t.Fatalf("%s followed mallory's removal of bob", node.name)
		}
		if ignored := n.events(node, EventRemovalIgnored); len(ignored) != 1 || ignored[0].Peer != bob.id.Fingerprint() {
			t.Fatalf("%s: ignored %+v", node.name, ignored)
		}
	}
	n.on(alice)(alice.s.Remove(carol.id.Fingerprint()))
	n.flush()
	if bob.s.InSendGroup(carol.id.Fingerprint()) {
		t.Fatal("bob did not follow alice's removal")
	}
	if by, ok := bob.s.KickedBy(carol.id.Fingerprint()); !ok || by != alice.id.Fingerprint() {
		t.Fatalf("bob's kick of carol is by %v %v", by, ok)
	}
}

func TestLostStateRejoins(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 5, Config{}, "alice", "bob", "carol")
	n.flush()
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	n.send(alice, "before")
	n.crash(bob) // bob's inbound copy is lost with his state
	n.flush()
	rejoins := 0
	for _, e := range n.events(alice, EventRejoined) {
		if e.By == alice.id.Fingerprint() && e.Peer == bob.id.Fingerprint() {
			rejoins++
		}
	}
	if rejoins != 1 {
		t.Fatalf("alice re-added bob %d times, want 1", rejoins)
	}
	if got := len(n.events(carol, EventMemberRemoved)); got != 0 {
		t.Fatalf("a rejoin was taken for a removal: %d", got)
	}
	n.send(bob, "bob is back")
	n.send(carol, "welcome back")
	n.settle()
	n.check()
	if bob.read[alice.order[0]] != 1 {
		t.Fatal("bob did not get the message lost in the crash")
	}
}

func TestFutureEpochIsBuffered(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 6, Config{}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	commit, err := alice.s.Update()
	if err != nil {
		t.Fatal(err)
	}
	app, env, err := alice.s.Protect("after the commit")
	if err != nil {
		t.Fatal(err)
	}
	n.recordSent(alice, env, nil)
	// The application message overtakes its commit.
	a := alice.id.Fingerprint()
	n.on(bob)(bob.s.Handle(a, app.Sends[0].Data))
	if bob.s.Buffered() != 1 || len(bob.read) != 0 {
		t.Fatalf("buffered %d, read %d", bob.s.Buffered(), len(bob.read))
	}
	n.on(bob)(bob.s.Handle(a, commit.Sends[0].Data))
	if len(bob.read) != 1 || bob.s.Buffered() != 0 {
		t.Fatalf("after commit: read %d, buffered %d", len(bob.read), bob.s.Buffered())
	}
	// Late messages from the previous epoch: TestPreviousEpochGrace.
}

// TestPreviousEpochGrace: after a commit, messages of the epoch before it
// still decrypt for EpochGrace, and not from then on: by their age alone,
// before any tick drops the epoch kept for them (a tick first would hide
// a kept epoch that still decrypts past its time).
func TestPreviousEpochGrace(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 7, Config{EpochGrace: time.Minute}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	a := alice.id.Fingerprint()
	var sends [3]Output
	for i, text := range []string{"early", "edge", "late"} {
		out, env, err := alice.s.Protect(text)
		if err != nil {
			t.Fatal(err)
		}
		n.recordSent(alice, env, nil)
		sends[i] = out
	}
	early, edge, late := sends[0], sends[1], sends[2]
	commit, _ := alice.s.Update()
	n.on(bob)(bob.s.Handle(a, commit.Sends[0].Data))
	n.on(bob)(bob.s.Handle(a, early.Sends[0].Data))
	if len(bob.read) != 1 {
		t.Fatal("previous-epoch message lost within grace")
	}
	n.clk.t = n.clk.t.Add(time.Minute - time.Second)
	n.on(bob)(bob.s.Tick())
	n.on(bob)(bob.s.Handle(a, edge.Sends[0].Data))
	if len(bob.read) != 2 {
		t.Fatal("previous-epoch message lost a second before the grace ends")
	}
	n.clk.t = n.clk.t.Add(time.Second) // the grace is over
	if _, err := bob.s.Handle(a, late.Sends[0].Data); !errors.Is(err, ErrEpochOld) {
		t.Fatalf("after grace, before a tick: want ErrEpochOld, got %v", err)
	}
	n.on(bob)(bob.s.Tick())
	if bob.s.byOwner[a].prev != nil {
		t.Fatal("a tick after the grace kept the previous epoch")
	}
	if _, err := bob.s.Handle(a, late.Sends[0].Data); !errors.Is(err, ErrEpochOld) {
		t.Fatalf("after grace and a tick: want ErrEpochOld, got %v", err)
	}
	if len(bob.read) != 2 {
		t.Fatalf("bob read %d messages", len(bob.read))
	}
}

func TestUnrecoverableGapAsksRejoin(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 8, Config{GapTimeout: 10 * time.Second}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	a := alice.id.Fingerprint()
	if _, err := alice.s.Update(); err != nil { // this commit is lost
		t.Fatal(err)
	}
	n.send(alice, "after a lost commit")
	n.r.Filter(func(p Packet) bool { return p.From != a || p.Kind != KindCommit }) // only the app message survives
	n.flush()
	if bob.s.Buffered() != 1 {
		t.Fatalf("buffered %d", bob.s.Buffered())
	}
	n.clk.t = n.clk.t.Add(11 * time.Second)
	n.on(bob)(bob.s.Tick())
	if len(n.events(bob, EventNeedRejoin)) != 1 {
		t.Fatal("no rejoin request after the gap timeout")
	}
	n.settle()
	n.check()
	if len(bob.read) != 1 {
		t.Fatal("message not delivered after rejoin and re-send")
	}
}

func TestEquivocationAlert(t *testing.T) {
	t.Parallel()
	// Mallory runs two sessions from one identity with identical randomness
	// up to this point: one group id, two diverging histories. Bob sees one
	// and Carol the other; their digests reveal it.
	n := newSimNet(t, 9, Config{DigestInterval: time.Second}, "bob", "carol")
	clk := n.clk
	mid, err := NewIdentity(testEnv(99, clk), "mallory")
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := NewSession(mid, testEnv(100, clk), RoomIDOf("lobby"), Config{})
	m2, _ := NewSession(mid, testEnv(100, clk), RoomIDOf("lobby"), Config{})
	if string(m1.SendGroupID()) != string(m2.SendGroupID()) {
		t.Fatal("forks should share a group id")
	}
	bob, carol := n.node("bob"), n.node("carol")
	mfp := mid.Fingerprint()
	join := func(m *Session, victim *simNode) {
		hello, err := victim.s.Hello(mfp)
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Handle(victim.id.Fingerprint(), hello.Sends[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Sends {
			if o.To == victim.id.Fingerprint() {
				n.on(victim)(victim.s.Handle(mfp, o.Data))
			}
		}
	}
	join(m1, bob)
	join(m2, carol)
	deliver := func(m *Session, victim *simNode) {
		out, err := m.Update()
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Sends {
			if o.To == victim.id.Fingerprint() && o.Kind == KindCommit {
				n.on(victim)(victim.s.Handle(mfp, o.Data))
			}
		}
	}
	deliver(m1, bob)
	deliver(m2, carol)
	n.flush()
	clk.t = clk.t.Add(2 * time.Second)
	n.tickAll()
	n.flush()
	for _, node := range []*simNode{bob, carol} {
		alerts := n.events(node, EventEquivocation)
		if len(alerts) != 1 || alerts[0].By != mfp {
			t.Fatalf("%s: alerts %+v", node.name, alerts)
		}
		// The alert carries both commits, each verifiably mallory's.
		ev := alerts[0].Evidence
		if ev == nil || ev.Hashes[0] == ev.Hashes[1] || ev.Epoch != alerts[0].Epoch {
			t.Fatalf("%s: evidence %+v", node.name, ev)
		}
		for i, c := range ev.Commits {
			if mlsguard.CommitHash(c) != ev.Hashes[i] {
				t.Fatalf("%s: commit %d does not match its hash", node.name, i)
			}
		}
	}
}

// TestForgedDigestRaisesNothing plays a member who gossips a digest with a
// made-up hash for alice's group, then, asked for the commit behind it,
// shows one of its own (or the genuine one): nobody raises an alert, and
// the room goes on.
func TestForgedDigestRaisesNothing(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 19, Config{}, "alice", "bob", "carol", "mallory")
	n.flush()
	alice, mallory := n.node("alice"), n.node("mallory")
	n.on(alice)(alice.s.Update())
	n.flush()
	var entry DigestEntry
	for _, e := range mallory.s.Digest() {
		if e.Owner == alice.id.Fingerprint() {
			entry = e
		}
	}
	if entry.Group == nil {
		t.Fatal("mallory applied no commit of alice's")
	}
	entry.Hash = [32]byte{0xfa, 0x4e}
	body, err := marshalDigest([]DigestEntry{entry})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := mallory.s.newMessageID()
	n.on(mallory)(mallory.s.ProtectEnvelope(&Envelope{ID: id, SentAt: n.clk.Now(), Kind: EnvelopeControl, Body: body}))
	// Asked for evidence, mallory answers with her own latest commit: a
	// commit, signed, but not alice's.
	n.flush()
	own := mallory.s.kept[forkKey{string(mallory.s.SendGroupID()), mallory.s.SendEpoch() - 1}]
	forged, err := (&EvidenceBody{Group: entry.Group, Epoch: entry.Epoch, Context: own.w.Context, Commit: own.commit}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	id, _ = mallory.s.newMessageID()
	n.on(mallory)(mallory.s.ProtectEnvelope(&Envelope{ID: id, SentAt: n.clk.Now(), Kind: EnvelopeControl, Body: forged}))
	n.flush()
	for _, node := range n.nodes {
		if alerts := n.events(node, EventEquivocation); len(alerts) != 0 {
			t.Fatalf("%s raised %+v", node.name, alerts)
		}
	}
	if n.errs[ErrNoEvidence.Error()] == 0 {
		t.Fatal("nobody checked mallory's evidence")
	}
	n.send(alice, "still fine")
	n.flush()
	n.check()
}

func TestStrangersCannotInjectIntoGroups(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 10, Config{}, "alice", "bob", "carol")
	n.flush()
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	out, _, err := alice.s.Protect("from alice")
	if err != nil {
		t.Fatal(err)
	}
	// Carol relays Alice's message to Bob as if it were hers: refused.
	if _, err := bob.s.Handle(carol.id.Fingerprint(), out.Sends[0].Data); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("want ErrNotOwner, got %v", err)
	}
	// Carol sends a KeyPackage that is Alice's (a stolen one): refused,
	// and bob's group is unchanged.
	hello, err := alice.s.keyPackageTo(bob.id.Fingerprint(), KindKeyPackage, HelloAddMe|HelloSendYours)
	if err != nil || len(hello.Sends) != 1 {
		t.Fatalf("alice's KeyPackage: %v", err)
	}
	epoch := bob.s.SendEpoch()
	if _, err := bob.s.Handle(carol.id.Fingerprint(), hello.Sends[0].Data); !errors.Is(err, ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	if bob.s.SendEpoch() != epoch {
		t.Fatal("a stolen KeyPackage changed bob's group")
	}
	// Wrong room.
	other, _ := NewSession(alice.id, n.env(), RoomIDOf("elsewhere"), Config{})
	msg := &Message{Kind: KindApp, Room: RoomIDOf("elsewhere"), Group: other.SendGroupID(), Data: []byte{1}}
	raw, _ := msg.Marshal()
	if _, err := bob.s.Handle(alice.id.Fingerprint(), raw); !errors.Is(err, ErrWrongRoom) {
		t.Fatalf("want ErrWrongRoom, got %v", err)
	}
}

func TestSafetyNumberIsSymmetric(t *testing.T) {
	t.Parallel()
	a, b := []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")
	x, y := SafetyNumber(a, b), SafetyNumber(b, a)
	if x != y || len(x) != 12*5+11 {
		t.Fatalf("%q vs %q", x, y)
	}
	if SafetyNumber(a, a) == x {
		t.Fatal("different pairs share a number")
	}
}

func TestAttackReplayThroughSession(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 11, Config{}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	out, env, err := alice.s.Protect("once")
	if err != nil {
		t.Fatal(err)
	}
	n.recordSent(alice, env, nil)
	a := alice.id.Fingerprint()
	n.on(bob)(bob.s.Handle(a, out.Sends[0].Data))
	// Replayed in the same epoch, and again after the epoch moved on.
	if _, err := bob.s.Handle(a, out.Sends[0].Data); !errors.Is(err, ErrReplay) {
		t.Fatalf("want ErrReplay, got %v", err)
	}
	n.on(alice)(alice.s.Update())
	n.flush()
	if _, err := bob.s.Handle(a, out.Sends[0].Data); !errors.Is(err, ErrReplay) {
		t.Fatalf("after an epoch: want ErrReplay, got %v", err)
	}
	if len(bob.read) != 1 || bob.raw != 1 {
		t.Fatalf("read %d, delivered %d", len(bob.read), bob.raw)
	}
}

// TestDepartureDoesNotPropagate: alice kicks carol; carol, told to leave,
// removes alice from her own group. Bob sees carol's commit before
// alice's: he must not take carol's departure for a kick of alice.
func TestDepartureDoesNotPropagate(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 12, Config{}, "alice", "bob", "carol")
	n.flush()
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	a, c := alice.id.Fingerprint(), carol.id.Fingerprint()
	n.on(alice)(alice.s.Remove(c))
	// Carol first: she processes the removal and the Leave, and commits.
	n.deliverPair(alice, carol)
	// Bob gets carol's commit before alice's.
	n.deliverPair(carol, bob)
	n.flush()
	if bob.s.Kicked(a) || !bob.s.InSendGroup(a) {
		t.Fatal("bob kicked alice because carol left her")
	}
	if !bob.s.Kicked(c) || bob.s.InSendGroup(c) {
		t.Fatal("bob did not propagate alice's kick of carol")
	}
	n.send(alice, "still talking")
	n.flush()
	if bob.read[alice.order[len(alice.order)-1]] != 1 {
		t.Fatal("bob no longer reads alice")
	}
}

// TestRestrictedSessionAndInvite: a two-person session refuses a third
// party that knows its name, and carries an invitation to another room.
func TestRestrictedSessionAndInvite(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 13, Config{}, "alice", "bob", "carol")
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	a, b, c := alice.id.Fingerprint(), bob.id.Fingerprint(), carol.id.Fingerprint()
	for _, node := range n.nodes {
		node.s.Restrict(a, b) // the "room name" is public; the restriction is what keeps carol out
	}
	n.flush()
	if !alice.s.InSendGroup(b) || !bob.s.InSendGroup(a) {
		t.Fatal("alice and bob are not linked")
	}
	if alice.s.InSendGroup(c) || bob.s.InSendGroup(c) || carol.s.HasGroupOf(a) {
		t.Fatal("carol got into a direct conversation")
	}
	// A client that tries anyway (its own session lets it) is refused.
	carol.s.limits.asked = map[Fingerprint]time.Time{}
	hello, err := carol.s.Hello(a)
	if err != nil || len(hello.Sends) != 1 {
		t.Fatalf("carol's hello: %v", err)
	}
	if _, err := alice.s.Handle(c, hello.Sends[0].Data); !errors.Is(err, ErrNotMember) {
		t.Fatalf("alice took carol's hello: %v", err)
	}
	inv, err := alice.s.NewInvite("secret-room", nil, b)
	if err != nil {
		t.Fatal(err)
	}
	n.on(alice)(alice.s.ProtectEnvelope(inv))
	n.flush()
	invites := n.events(bob, EventInvite)
	if len(invites) != 1 || invites[0].Detail != "secret-room" || invites[0].Peer != a {
		t.Fatalf("invites %+v", invites)
	}
}

// TestRejoinIsRateLimited: a member that keeps saying it lost its state
// cannot make the owner commit again and again.
func TestRejoinIsRateLimited(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 14, Config{GapTimeout: 30 * time.Second}, "alice", "bob")
	n.flush()
	alice, bob := n.node("alice"), n.node("bob")
	b := bob.id.Fingerprint()
	epoch := alice.s.SendEpoch()
	for i := 0; i < 5; i++ {
		out, err := bob.s.keyPackageTo(alice.id.Fingerprint(), KindRejoin, HelloAddMe)
		if err != nil {
			t.Fatal(err)
		}
		_, err = alice.s.Handle(b, out.Sends[0].Data)
		if i > 0 && !errors.Is(err, ErrRateLimited) {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := alice.s.SendEpoch() - epoch; got != 1 {
		t.Fatalf("alice committed %d times for 5 requests", got)
	}
	// The last request waited; it is served once the pause is over, with
	// one more commit, and bob joins from it.
	n.on(alice)(alice.s.Tick())
	if got := alice.s.SendEpoch() - epoch; got != 1 {
		t.Fatalf("re-admitted before the pause was over (%d commits)", got)
	}
	n.clk.t = n.clk.t.Add(6 * time.Second)
	n.on(alice)(alice.s.Tick())
	if got := alice.s.SendEpoch() - epoch; got != 2 {
		t.Fatalf("the deferred request: %d commits", got)
	}
	n.flush()
	n.send(alice, "after the deferred rejoin")
	n.flush()
	n.check()
	n.clk.t = n.clk.t.Add(6 * time.Second)
	out, _ := bob.s.keyPackageTo(alice.id.Fingerprint(), KindRejoin, HelloAddMe)
	if _, err := alice.s.Handle(b, out.Sends[0].Data); err != nil {
		t.Fatalf("after the pause: %v", err)
	}
}

// TestGroupIDSquatting: carol, a member of alice's group, makes her own
// send group with alice's group id. Receive groups are keyed by owner, so
// bob still reads both of them; and a Welcome whose header names a group
// other than the one it holds is refused.
func TestGroupIDSquatting(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 21, Config{}, "alice", "bob", "carol")
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	secret := make([]byte, mlsguard.SecretSize)
	g, err := mlsguard.CreateGroup(carol.id.mls, alice.s.SendGroupID(), secret)
	if err != nil {
		t.Fatal(err)
	}
	carol.s.send = g // before any link forms
	n.flush()
	n.send(alice, "from alice")
	n.send(carol, "from carol")
	n.flush()
	n.check()
	if len(bob.read) != 2 {
		t.Fatalf("bob read %d of 2 messages", len(bob.read))
	}
	// Welcomes from alice to dave (not in the room) with a wrong or no
	// group id in the header.
	daveID, err := NewIdentity(n.env(), "dave")
	if err != nil {
		t.Fatal(err)
	}
	dave, err := NewSession(daveID, n.env(), RoomIDOf("lobby"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := daveID.NewKeyPackage(n.env(), alice.id.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	out, err := alice.s.Add(kp.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	welcomes := 0
	for _, o := range out.Sends {
		if o.Kind != KindWelcome {
			continue
		}
		welcomes++
		m, err := UnmarshalMessage(o.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			group []byte
			want  error
		}{{nil, ErrMalformed}, {bob.s.SendGroupID(), ErrForged}} {
			m.Group = tc.group
			raw, _ := m.Marshal()
			if _, err := dave.Handle(alice.id.Fingerprint(), raw); !errors.Is(err, tc.want) {
				t.Fatalf("a Welcome with group id %x: want %v, got %v", tc.group, tc.want, err)
			}
		}
	}
	if welcomes != 1 {
		t.Fatalf("%d Welcomes to dave", welcomes)
	}
}

// TestLeaveCountsOnlyForItsSender: a Leave is authenticated by the channel
// it arrives on, so mallory's Leave, whatever it claims, unlinks mallory
// alone; bob's links with alice are untouched.
func TestLeaveCountsOnlyForItsSender(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 23, Config{}, "alice", "bob", "mallory")
	n.flush()
	alice, bob, mallory := n.node("alice"), n.node("bob"), n.node("mallory")
	leave, err := bob.s.leaveMsg(alice.id.Fingerprint()) // a Leave as bob would send it
	if err != nil {
		t.Fatal(err)
	}
	n.on(alice)(alice.s.Handle(mallory.id.Fingerprint(), leave.Sends[0].Data))
	n.flush()
	if alice.s.InSendGroup(mallory.id.Fingerprint()) {
		t.Fatal("mallory's Leave did not unlink mallory")
	}
	if !alice.s.InSendGroup(bob.id.Fingerprint()) || !alice.s.HasGroupOf(bob.id.Fingerprint()) {
		t.Fatal("mallory's Leave unlinked bob")
	}
	n.send(bob, "still linked")
	n.flush()
	n.check()
}

// TestAttackOwnerPassesOnAnothersEnvelope: carol takes alice's signed
// envelope (she is a recipient, she can read it) and protects it in her
// own send group, as her own message to bob: bob refuses it, whatever the
// signature, since its author is not the group's owner.
func TestAttackOwnerPassesOnAnothersEnvelope(t *testing.T) {
	t.Parallel()
	n := newSimNet(t, 12, Config{}, "alice", "bob", "carol")
	n.flush()
	alice, bob, carol := n.node("alice"), n.node("bob"), n.node("carol")
	_, env, err := alice.s.Protect("alice's words")
	if err != nil {
		t.Fatal(err)
	}
	out, err := carol.s.ProtectEnvelope(env) // signed by alice: kept as it is
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Sends {
		if o.To != bob.id.Fingerprint() || o.Kind != KindApp {
			continue
		}
		res, err := bob.s.Handle(carol.id.Fingerprint(), o.Data)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("alice's envelope in carol's group: %v", err)
		}
		for _, ev := range res.Events {
			if ev.Type == EventMessage {
				t.Fatal("shown")
			}
		}
		return
	}
	t.Fatal("carol sent bob nothing")
}
