package mlsguard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// Each test plays an attacker with access to the raw go-mls state of a
// member (an insider) or of nobody (an outsider).

func TestAttackApplicationFromNonOwnerLeaf(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	_, gs := room(t, a, b, c)
	// Bob (leaf 1) encrypts in Alice's group with the raw library.
	ct, err := gs[0].st.Protect([]byte("I am alice"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := syntax.Marshal(ct)
	if _, err := gs[1].Unprotect(raw); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("want ErrNotOwner, got %v", err)
	}
}

func TestAttackCommitFromNonOwnerLeaf(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	pt, _, _, err := gs[0].st.Commit(b.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := syntax.Marshal(pt)
	if _, _, err := gs[1].ApplyCommit(CommitBundle{Commit: raw}); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("want ErrNotOwner, got %v", err)
	}
	// Relabelled as leaf 0, the signature no longer verifies.
	pt.Sender.Sender = 0
	raw, _ = syntax.Marshal(pt)
	if _, _, err := gs[1].ApplyCommit(CommitBundle{Commit: raw}); !errors.Is(err, ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	// Carol's state of the group is intact: Alice's next message reads.
	ct, err := ga.Protect([]byte("still here"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := gs[1].Unprotect(ct); err != nil || string(got) != "still here" {
		t.Fatalf("after the forged commits: %q %v", got, err)
	}
}

func TestAttackRemoveFromNonOwner(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	// Bob forges "remove carol" in a bundle with Alice's real (empty) commit.
	rm, err := gs[0].st.Remove(2)
	if err != nil {
		t.Fatal(err)
	}
	rmRaw, _ := syntax.Marshal(rm)
	bundle, _, _, err := ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	bundle.Proposals = append(bundle.Proposals, rmRaw)
	if _, info, err := gs[1].ApplyCommit(bundle); !errors.Is(err, ErrNotOwner) || info.RemovedMe {
		t.Fatalf("want ErrNotOwner without removal, got %v %+v", err, info)
	}
}

// TestAttackForgedRemovalOfMe: a Remove of bob that alice never signed,
// relabelled as hers and attached to her genuine commit, and a Remove she
// did sign but did not commit, each make bob refuse the bundle, not drop
// the group; the genuine bundle still applies.
func TestAttackForgedRemovalOfMe(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	bob := gs[0]
	// Carol's Remove of bob (leaf 1), relabelled as from leaf 0.
	forged, err := gs[1].st.Remove(1)
	if err != nil {
		t.Fatal(err)
	}
	forged.Sender.Sender = 0
	forgedRaw, _ := syntax.Marshal(forged)
	// Alice's own, signed Remove of bob that she does not commit.
	stray, err := ga.st.Remove(1)
	if err != nil {
		t.Fatal(err)
	}
	strayRaw, _ := syntax.Marshal(stray)
	bundle, _, _, err := ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	for name, extra := range map[string][]byte{"unsigned": forgedRaw, "uncommitted": strayRaw} {
		bad := CommitBundle{Commit: bundle.Commit, Proposals: append(append([][]byte{}, bundle.Proposals...), extra)}
		if _, info, err := bob.ApplyCommit(bad); !errors.Is(err, ErrAuth) || info.RemovedMe {
			t.Fatalf("%s Remove: want ErrAuth without removal, got %v %+v", name, err, info)
		}
	}
	if _, info, err := bob.ApplyCommit(bundle); err != nil || info.RemovedMe {
		t.Fatalf("the genuine bundle after the forged ones: %v %+v", err, info)
	}
}

// TestAttackForgedCommitRemovingMe: a commit that removes bob with a
// signature that does not verify (someone on the path, or a member who
// rewrote the owner's commit) is refused before bob drops the group:
// removals of us are the one thing acted on before go-mls verifies.
func TestAttackForgedCommitRemovingMe(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	if err := ga.ProposeRemove(1); err != nil {
		t.Fatal(err)
	}
	bundle, _, _, err := ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	var commit mls.MLSPlaintext
	if err := decodeStrict(bundle.Commit, &commit); err != nil {
		t.Fatal(err)
	}
	commit.Signature.Data[0] ^= 1
	forged, _ := syntax.Marshal(commit)
	if _, info, err := gs[0].ApplyCommit(CommitBundle{Commit: forged, Proposals: bundle.Proposals}); !errors.Is(err, ErrAuth) || info.RemovedMe {
		t.Fatalf("want ErrAuth without removal, got %v %+v", err, info)
	}
	if _, info, err := gs[0].ApplyCommit(bundle); !errors.Is(err, ErrRemoved) || !info.RemovedMe {
		t.Fatalf("the genuine removal: %v %+v", err, info)
	}
}

func TestAttackForgedWelcome(t *testing.T) {
	t.Parallel()
	alice, mallory, bob := newParty(t, "alice"), newParty(t, "mallory"), newParty(t, "bob")
	// Mallory builds a group in which she is leaf 0 and adds Bob's public
	// KeyPackage; Bob expects a Welcome from Alice.
	g, err := CreateGroup(mallory.id, []byte("group-alice"), mallory.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	j := bob.joiner(t)
	if err := g.ProposeAdd(j.KeyPackage); err != nil {
		t.Fatal(err)
	}
	_, welcome, _, err := g.Commit(mallory.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(j, welcome, alice.id.Fingerprint(), nil); !errors.Is(err, ErrForgedWelcome) {
		t.Fatalf("want ErrForgedWelcome, got %v", err)
	}
	// The same Welcome is fine for someone who expects Mallory.
	if _, err := Join(j, welcome, mallory.id.Fingerprint(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestAttackWelcomeSignedByInsider: bob, a member of alice's group, uses
// his copy of its state to commit an Add of dave and signs the Welcome
// himself. Leaf 0 is still alice, but she did not sign it: refused.
func TestAttackWelcomeSignedByInsider(t *testing.T) {
	t.Parallel()
	alice, bob, carol, dave := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol"), newParty(t, "dave")
	ga, gs := room(t, alice, bob, carol)
	insider := gs[0]
	j := dave.joiner(t)
	add, err := insider.st.Add(j.KeyPackage.kp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := insider.st.Handle(add); err != nil {
		t.Fatal(err)
	}
	_, welcome, _, err := insider.st.Commit(bob.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encode(welcome)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Join(j, raw, alice.id.Fingerprint(), ga.GroupID()); !errors.Is(err, ErrForgedWelcome) {
		t.Fatalf("want ErrForgedWelcome, got %v", err)
	}
}

func TestAttackSenderIndexBeyondTree(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	bundle, _, _, err := ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	var pt mls.MLSPlaintext
	if err := decodeStrict(bundle.Commit, &pt); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint32{2, 200, 1 << 31, 0xffffffff} {
		pt.Sender.Sender = idx
		raw, _ := syntax.Marshal(&pt)
		if _, _, err := gs[0].ApplyCommit(CommitBundle{Commit: raw}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("index %d: want ErrMalformed, got %v", idx, err)
		}
	}
	// The genuine commit still applies.
	next, _, err := gs[0].ApplyCommit(bundle)
	if err != nil {
		t.Fatal(err)
	}
	// The same for a proposal sent to the owner.
	prop, err := next.ProposeUpdate(b.id, b.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if err := decodeStrict(prop, &pt); err != nil {
		t.Fatal(err)
	}
	for _, idx := range []uint32{2, 200, 0xffffffff} {
		pt.Sender.Sender = idx
		raw, _ := syntax.Marshal(&pt)
		if err := ga.HandleProposal(raw, b.id.Fingerprint()); !errors.Is(err, ErrMalformed) {
			t.Fatalf("proposal index %d: want ErrMalformed, got %v", idx, err)
		}
	}
	if err := ga.HandleProposal(prop, b.id.Fingerprint()); err != nil {
		t.Fatal(err)
	}
}

// forgeSenderData re-encrypts a ciphertext's sender data with the group's
// shared sender-data key (which every member holds), claiming leaf 0 and
// the given generation.
func forgeSenderData(t *testing.T, insider *Group, raw []byte, generation uint32) []byte {
	t.Helper()
	var ct mls.MLSCiphertext
	if err := decodeStrict(raw, &ct); err != nil {
		t.Fatal(err)
	}
	sd := make([]byte, 12)
	binary.BigEndian.PutUint32(sd[4:8], generation)
	aad, err := senderDataAAD(&ct)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := insider.st.CipherSuite.NewAEAD(insider.st.Keys.SenderDataKey)
	ct.EncryptedSenderData = aead.Seal(nil, ct.SenderDataNonce, sd, aad)
	out, _ := syntax.Marshal(&ct)
	return out
}

func TestAttackHugeGeneration(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	ct, err := ga.Protect([]byte("genuine"))
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []uint32{MaxSkip + 2, 1_000_000, 0xffffffff} {
		forged := forgeSenderData(t, gs[0], ct, gen)
		if _, err := gs[1].Unprotect(forged); !errors.Is(err, ErrTooFarAhead) {
			t.Fatalf("generation %d: want ErrTooFarAhead, got %v", gen, err)
		}
	}
	// Within the bound, a forged generation costs derivations but burns
	// nothing: the genuine message still decrypts afterwards.
	if _, err := gs[1].Unprotect(forgeSenderData(t, gs[0], ct, MaxSkip)); !errors.Is(err, ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	if pt, err := gs[1].Unprotect(ct); err != nil || string(pt) != "genuine" {
		t.Fatalf("genuine message lost: %q %v", pt, err)
	}
}

func TestAttackBadNonceLength(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	raw, _ := ga.Protect([]byte("x"))
	var ct mls.MLSCiphertext
	if err := decodeStrict(raw, &ct); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 11, 13, 255} {
		ct.SenderDataNonce = make([]byte, n)
		bad, _ := syntax.Marshal(&ct)
		if _, err := gs[0].Unprotect(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("nonce %d: want ErrMalformed, got %v", n, err)
		}
	}
	if _, err := gs[0].Unprotect(raw); err != nil {
		t.Fatal(err)
	}
}

func TestAttackForeignSuiteUpdate(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	prop, err := gs[0].ProposeUpdate(b.id, b.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	var pt mls.MLSPlaintext
	if err := decodeStrict(prop, &pt); err != nil {
		t.Fatal(err)
	}
	pt.Content.Proposal.Update.KeyPackage.CipherSuite = mls.P256_AES128GCM_SHA256_P256
	bad, _ := syntax.Marshal(&pt)
	if err := ga.HandleProposal(bad, b.id.Fingerprint()); !errors.Is(err, ErrBadProposal) {
		t.Fatalf("want ErrBadProposal, got %v", err)
	}
	// The owner can still commit (go-mls would panic in Commit had the
	// proposal been queued).
	if _, _, _, err := ga.Commit(a.rnd.next()); err != nil {
		t.Fatal(err)
	}
}

func TestRoomFull(t *testing.T) {
	t.Parallel()
	a := newParty(t, "alice")
	g, err := CreateGroup(a.id, []byte("big"), a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	var full error
	added := 0
	for i := 0; i < MaxLeaves+5 && full == nil; i++ {
		p := newParty(t, fmt.Sprintf("m%d", i))
		if full = g.ProposeAdd(p.joiner(t).KeyPackage); full == nil {
			added++
		}
	}
	if !errors.Is(full, ErrRoomFull) {
		t.Fatalf("want ErrRoomFull, got %v", full)
	}
	if added != MaxLeaves-1 {
		t.Fatalf("%d added beside the owner, want exactly %d", added, MaxLeaves-1)
	}
	if _, _, _, err := g.Commit(a.rnd.next()); err != nil {
		t.Fatalf("commit of a full room failed: %v", err)
	}
	if n := g.LeafCount(); n != MaxLeaves {
		t.Fatalf("tree of %d leaves, want %d", n, MaxLeaves)
	}
	// A path commit (rekey) still works at the cap.
	if _, _, _, err := g.Commit(a.rnd.next()); err != nil {
		t.Fatalf("rekey at the cap failed: %v", err)
	}
	// A removal leaves a blank leaf, which the next newcomer takes: one
	// more fits, and then none.
	if err := g.ProposeRemove(7); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := g.Commit(a.rnd.next()); err != nil {
		t.Fatal(err)
	}
	if err := g.ProposeAdd(newParty(t, "late").joiner(t).KeyPackage); err != nil {
		t.Fatalf("a newcomer refused with a blank leaf free: %v", err)
	}
	if err := g.ProposeAdd(newParty(t, "later").joiner(t).KeyPackage); !errors.Is(err, ErrRoomFull) {
		t.Fatalf("a second newcomer for one blank leaf: %v", err)
	}
}

func TestAttackReplay(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	ct, _ := ga.Protect([]byte("once"))
	later, _ := ga.Protect([]byte("later"))
	if _, err := gs[0].Unprotect(ct); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := gs[0].Unprotect(ct); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay %d: want ErrReplay, got %v", i, err)
		}
	}
	if pt, err := gs[0].Unprotect(later); err != nil || string(pt) != "later" {
		t.Fatalf("message after replays: %q %v", pt, err)
	}
}

// TestAttackOversizedWelcome: a Welcome over MaxWelcomeSize is refused
// before anything decrypts it.
func TestAttackOversizedWelcome(t *testing.T) {
	t.Parallel()
	bob := newParty(t, "bob")
	big := make([]byte, MaxWelcomeSize+1)
	if _, err := WelcomeTarget(big); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "welcome of") {
		t.Fatalf("WelcomeTarget: %v", err)
	}
	if _, err := Join(bob.joiner(t), big, Fingerprint{}, nil); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "welcome of") {
		t.Fatalf("Join: %v", err)
	}
}

// TestAttackUpdateFlood plays a member who sends its owner 300 Update
// proposals in one epoch: the owner queues the first and refuses the rest
// before verifying them, and the other members apply the commit carrying
// the one. Each member has one Update per epoch, then the next epoch.
func TestAttackUpdateFlood(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	refused := 0
	for i := 0; i < 300; i++ {
		prop, err := gs[0].ProposeUpdate(b.id, b.rnd.next())
		if err != nil {
			t.Fatal(err)
		}
		switch err := ga.HandleProposal(prop, b.id.Fingerprint()); {
		case i == 0 && err != nil:
			t.Fatalf("first update: %v", err)
		case i > 0 && errors.Is(err, ErrPending):
			refused++
		case i > 0:
			t.Fatalf("update %d: want ErrPending, got %v", i, err)
		}
	}
	if refused != 299 || ga.PendingProposals() != 1 {
		t.Fatalf("refused %d, pending %d", refused, ga.PendingProposals())
	}
	// carol's one update in the same epoch is hers, not refused.
	prop, err := gs[1].ProposeUpdate(c.id, c.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if err := ga.HandleProposal(prop, c.id.Fingerprint()); err != nil {
		t.Fatalf("carol's update beside the flood: %v", err)
	}
	bundle, _, info, err := ga.Commit(a.rnd.next())
	if err != nil || len(info.Updated) != 2 {
		t.Fatalf("commit: %+v %v", info, err)
	}
	// (bob's own go-mls state cached 300 secrets under 15-bit references,
	// so it may fail to find its own; that is the flooder's problem. The
	// engine proposes once per epoch and erases the rest, see below.)
	if gs[1], _, err = gs[1].ApplyCommit(bundle); err != nil {
		t.Fatalf("carol applies the commit: %v", err)
	}
	for i, want := range []error{nil, ErrPending} {
		prop, err := gs[1].ProposeUpdate(c.id, c.rnd.next())
		if err != nil {
			t.Fatal(err)
		}
		if err := ga.HandleProposal(prop, c.id.Fingerprint()); !errors.Is(err, want) {
			t.Fatalf("carol's update %d in the next epoch: want %v, got %v", i, want, err)
		}
	}
}

// TestUpdateSecretsErased: a member's cached Update secrets are gone once a
// commit is applied, whether it covered the proposal or not (a proposal is
// bound to its epoch), and the covered one became the leaf's secret.
func TestUpdateSecretsErased(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	for _, covered := range []bool{false, true, false, true} {
		prop, err := gs[0].ProposeUpdate(b.id, b.rnd.next())
		if err != nil {
			t.Fatal(err)
		}
		if n := gs[0].UpdateSecrets(); n != 1 {
			t.Fatalf("%d update secrets held after proposing", n)
		}
		if covered {
			if err := ga.HandleProposal(prop, b.id.Fingerprint()); err != nil {
				t.Fatal(err)
			}
		}
		bundle, _, info, err := ga.Commit(a.rnd.next())
		if err != nil || len(info.Updated) != map[bool]int{true: 1}[covered] {
			t.Fatalf("commit: %+v %v", info, err)
		}
		old := gs[0]
		if gs[0], _, err = gs[0].ApplyCommit(bundle); err != nil {
			t.Fatal(err)
		}
		if n, m := gs[0].UpdateSecrets(), old.UpdateSecrets(); n != 0 || m != 0 {
			t.Fatalf("covered %v: %d update secrets held after the commit (%d in the old epoch)", covered, n, m)
		}
		ct, _ := ga.Protect([]byte("after"))
		if pt, err := gs[0].Unprotect(ct); err != nil || string(pt) != "after" {
			t.Fatalf("covered %v: %q %v", covered, pt, err)
		}
	}
}

// oversizedWelcome is what a hostile owner's client can send: a Welcome,
// signed by the owner and under MaxWelcomeSize, for a tree of leaves
// leaves (past our cap, which the owner's own client simply skips).
func oversizedWelcome(tb testing.TB, leaves int) (owner *party, j Joiner, welcome []byte) {
	tb.Helper()
	owner = newParty(tb, "owner")
	g, err := CreateGroup(owner.id, []byte("huge"), owner.rnd.next())
	if err != nil {
		tb.Fatal(err)
	}
	for i := 1; i < leaves; i++ {
		m := newParty(tb, fmt.Sprint("m", i)).joiner(tb)
		if i == 1 {
			j = m
		}
		g.mu.Lock()
		err := g.queueOwn(func() (*mls.MLSPlaintext, error) { return g.st.Add(m.KeyPackage.kp) })
		g.mu.Unlock()
		if err != nil {
			tb.Fatal(err)
		}
	}
	_, welcome, _, err = g.Commit(owner.rnd.next())
	if err != nil {
		tb.Fatal(err)
	}
	// Only our secret: the Welcome is not signed, its GroupInfo is.
	var w mls.Welcome
	if err := decodeStrict(welcome, &w); err != nil {
		tb.Fatal(err)
	}
	for _, s := range w.Secrets {
		if bytes.Equal(s.KeyPackageHash, j.KeyPackage.Hash()) {
			w.Secrets = []mls.EncryptedGroupSecrets{s}
			break
		}
	}
	if welcome, err = syntax.Marshal(w); err != nil {
		tb.Fatal(err)
	}
	if len(welcome) > MaxWelcomeSize {
		tb.Fatalf("welcome of %d bytes: over the size cap, not a tree-size test", len(welcome))
	}
	return owner, j, welcome
}

// TestAttackWelcomeTreeTooBig: the tree size is judged from the GroupInfo
// we open ourselves, before go-mls hashes and verifies the tree (there is
// no check after the join: a Welcome that got past this one would join).
func TestAttackWelcomeTreeTooBig(t *testing.T) {
	t.Parallel()
	owner, j, welcome := oversizedWelcome(t, MaxLeaves+4)
	_, err := Join(j, welcome, owner.id.Fingerprint(), nil)
	if !errors.Is(err, ErrRoomFull) {
		t.Fatalf("want ErrRoomFull, got %v", err)
	}
}

// TestAttackInsiderForgesOwnerMessage: bob, a member, knows the epoch's
// application secrets, so he can encrypt as leaf 0 (the owner) with keys
// carol accepts; only the owner's signature tells them apart. Carol
// refuses it, and alice's genuine message of the same generation still
// opens afterwards.
func TestAttackInsiderForgesOwnerMessage(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	forger := gs[0].st.Clone()
	forger.ConfirmedTranscriptHash = gs[0].st.ConfirmedTranscriptHash
	forger.Keys = gs[0].st.Keys
	forger.Index = 0 // sender data and ratchet of leaf 0; bob's signing key
	ct, err := forger.Protect([]byte("I am alice"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := syntax.Marshal(ct)
	if _, err := gs[1].Unprotect(raw); !errors.Is(err, ErrAuth) {
		t.Fatalf("want ErrAuth, got %v", err)
	}
	genuine, err := ga.Protect([]byte("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := gs[1].Unprotect(genuine); err != nil || string(pt) != "alice" {
		t.Fatalf("the genuine message after the forgery: %q %v", pt, err)
	}
}

// TestAttackUpdateSwapsIdentityKey: an Update whose KeyPackage carries
// another identity key, signed by the member's current key (ProposeUpdate
// with another identity makes exactly that), would hand the leaf to
// whoever holds the new key. The owner refuses it; and a member refuses
// the commit of an owner that took it anyway (here queued past the
// owner's checks), so neither side lets a leaf change hands.
func TestAttackUpdateSwapsIdentityKey(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	mallory := newParty(t, "mallory") // another key
	ga, gs := room(t, a, b, c)
	prop, err := gs[0].ProposeUpdate(mallory.id, b.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if err := ga.HandleProposal(prop, b.id.Fingerprint()); !errors.Is(err, ErrBadProposal) {
		t.Fatalf("the owner took an update that swaps bob's key: %v", err)
	}
	// A hostile owner queues it anyway.
	var pt mls.MLSPlaintext
	if err := decodeStrict(prop, &pt); err != nil {
		t.Fatal(err)
	}
	if _, err := ga.st.Handle(&pt); err != nil {
		t.Fatal(err)
	}
	ga.pending = append(ga.pending, prop)
	if _, _, _, err := ga.Commit(a.rnd.next()); err == nil {
		t.Fatal("the owner committed an update that swaps bob's key")
	}
	// ... and commits it past its own checks, as go-mls would.
	commit, _, _, err := ga.st.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := encode(commit)
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := gs[1].ApplyCommit(CommitBundle{Proposals: ga.pending, Commit: raw})
	if err == nil {
		m, _ := next.Member(mallory.id.Fingerprint())
		t.Fatalf("carol applied a commit that gives bob's leaf to another key (leaf %d)", m.Leaf)
	}
	if m, ok := gs[1].Member(b.id.Fingerprint()); !ok || m.Leaf != 1 {
		t.Fatalf("carol lost bob after refusing the commit: %+v %v", m, ok)
	}
	// The commit's application checks the key again, whatever came before.
	enc, err := encodeProposals([]mls.MLSPlaintext{pt})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applyCommit(gs[1].st, commit, enc); err == nil {
		t.Fatal("applying the commit gave bob's leaf to another key")
	}
}

// TestWelcomeTargetAndBounds: a Welcome names the KeyPackage it is for
// (WelcomeTarget); one of another suite is refused; and the size bound is
// exact: a blob of MaxWelcomeSize bytes is decoded (and refused as
// garbage), one byte more is refused unread.
func TestWelcomeTargetAndBounds(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	g, err := CreateGroup(a.id, []byte("group-alice"), a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	j := b.joiner(t)
	if err := g.ProposeAdd(j.KeyPackage); err != nil {
		t.Fatal(err)
	}
	_, welcome, _, err := g.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := WelcomeTarget(welcome)
	if err != nil || len(hashes) != 1 || !bytes.Equal(hashes[0], j.KeyPackage.Hash()) {
		t.Fatalf("targets %x (%v), want bob's KeyPackage", hashes, err)
	}
	var w mls.Welcome
	if err := decodeStrict(welcome, &w); err != nil {
		t.Fatal(err)
	}
	w.CipherSuite = mls.P256_AES128GCM_SHA256_P256
	foreign, err := syntax.Marshal(&w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WelcomeTarget(foreign); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a welcome of another suite: %v", err)
	}
	if _, err := Join(j, foreign, a.id.Fingerprint(), g.GroupID()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("joined by a welcome of another suite: %v", err)
	}
	for _, n := range []int{MaxWelcomeSize, MaxWelcomeSize + 1} {
		blob := make([]byte, n)
		_, err1 := WelcomeTarget(blob)
		_, err2 := Join(j, blob, a.id.Fingerprint(), nil)
		for _, err := range []error{err1, err2} {
			if sized := err != nil && strings.Contains(err.Error(), "(max"); err == nil || sized != (n > MaxWelcomeSize) {
				t.Fatalf("a blob of %d bytes: %v", n, err)
			}
		}
	}
}
