package mlsguard

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"testing"

	mls "github.com/cisco/go-mls"
)

// TestJoinMatchesGoMLS joins from Welcomes of every shape both ways
// (go-mls's NewJoinedState, and the Join that decodes the tree node by
// node) and requires the same state; then the owner's next message and
// commit work on it. Shapes: one member or many, parent nodes on the
// owner's path (a path secret in the Welcome), blank leaves from a
// removal, a tree that grows past a power of two.
func TestJoinMatchesGoMLS(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 2, 4, 6, 8} {
		t.Run(fmt.Sprint(n, " members before"), func(t *testing.T) {
			t.Parallel()
			owner := newParty(t, "owner")
			g, err := CreateGroup(owner.id, []byte(fmt.Sprint("join", n)), owner.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := g.ProposeAdd(newParty(t, fmt.Sprint("m", i)).joiner(t).KeyPackage); err != nil {
					t.Fatal(err)
				}
			}
			if n > 0 {
				if _, _, _, err := g.Commit(owner.rnd.next()); err != nil {
					t.Fatal(err)
				}
			}
			if n > 2 {
				if err := g.ProposeRemove(2); err != nil {
					t.Fatal(err)
				}
			}
			p := newParty(t, "late")
			j := p.joiner(t)
			if err := g.ProposeAdd(j.KeyPackage); err != nil {
				t.Fatal(err)
			}
			_, welcome, _, err := g.Commit(owner.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			var w mls.Welcome
			if err := decodeStrict(welcome, &w); err != nil {
				t.Fatal(err)
			}
			want, err := mls.NewJoinedState(j.InitSecret, []mls.SignaturePrivateKey{j.Identity.priv}, []mls.KeyPackage{j.KeyPackage.kp}, w)
			if err != nil {
				t.Fatal(err)
			}
			joined, err := Join(j, welcome, owner.id.Fingerprint(), g.GroupID())
			if err != nil {
				t.Fatal(err)
			}
			got := joined.st
			sameState(t, want, got)
			switch {
			case !bytes.Equal(want.Tree.RootHash(), got.Tree.RootHash()):
				t.Fatal("tree hash differs")
			case want.Scheme != got.Scheme || !reflect.DeepEqual(want.Extensions, got.Extensions):
				t.Fatal("scheme or extensions differ")
			case !maps.Equal(want.NewCredentials, got.NewCredentials):
				t.Fatal("new credentials differ")
			case len(want.Tree.Nodes) != len(got.Tree.Nodes):
				t.Fatalf("%d tree nodes, want %d", len(got.Tree.Nodes), len(want.Tree.Nodes))
			}
			for i := range want.Tree.Nodes {
				// go-mls's Tree.Equals misses extensions; compare all.
				if !reflect.DeepEqual(want.Tree.Nodes[i], got.Tree.Nodes[i]) {
					t.Fatalf("tree node %d (or its hash) differs", i)
				}
			}
			ct, err := g.Protect([]byte("welcome"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := joined.Unprotect(ct); err != nil || string(pt) != "welcome" {
				t.Fatalf("first message: %q %v", pt, err)
			}
			updateTo(t, g, joined, p)
			bundle, _, _, err := g.Commit(owner.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			next, _, err := joined.ApplyCommit(bundle)
			if err != nil {
				t.Fatalf("the owner's next commit: %v", err)
			}
			ct, err = g.Protect([]byte("next epoch"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := next.Unprotect(ct); err != nil || string(pt) != "next epoch" {
				t.Fatalf("after the commit: %q %v", pt, err)
			}
		})
	}
}

// TestAttackForgedGroupInfo: GroupInfos that open (their sender knows the
// epoch secret) but lie are refused, and nothing is joined.
func TestAttackForgedGroupInfo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// forge returns a Welcome for j into alice's group ga.
		forge func(t *testing.T, alice, bob *party, ga *Group, insider *Group, j Joiner) []byte
	}{
		{"an insider's GroupInfo relabelled as signed by the owner", func(t *testing.T, alice, bob *party, ga, insider *Group, j Joiner) []byte {
			add, err := insider.st.Add(j.KeyPackage.kp)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := insider.st.Handle(add); err != nil {
				t.Fatal(err)
			}
			_, welcome, next, err := insider.st.Commit(bob.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			raw, err := encode(welcome)
			if err != nil {
				t.Fatal(err)
			}
			plain, seal, err := sealerFor(raw, next.Keys.EpochSecret)
			if err != nil {
				t.Fatal(err)
			}
			var gi mls.GroupInfo
			if err := decodeStrict(plain, &gi); err != nil {
				t.Fatal(err)
			}
			gi.SignerIndex = 0 // bob's signature, alice's leaf
			forged, err := encode(&gi)
			if err != nil {
				t.Fatal(err)
			}
			return seal(forged)
		}},
		{"the owner's GroupInfo with a confirmation tag of another epoch", func(t *testing.T, alice, bob *party, ga, insider *Group, j Joiner) []byte {
			if err := ga.ProposeAdd(j.KeyPackage); err != nil {
				t.Fatal(err)
			}
			_, welcome, _, err := ga.Commit(alice.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			plain, seal, err := groupInfoSealer(j, welcome, alice.id.Fingerprint())
			if err != nil {
				t.Fatal(err)
			}
			var gi mls.GroupInfo
			if err := decodeStrict(plain, &gi); err != nil {
				t.Fatal(err)
			}
			gi.Confirmation[0] ^= 1
			unsigned, err := encode(&gi)
			if err != nil {
				t.Fatal(err)
			}
			shape, err := shapeOf(unsigned, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if gi.Signature, err = ga.st.Scheme.Sign(&ga.st.IdentityPriv, shape.tbs); err != nil {
				t.Fatal(err)
			}
			forged, err := encode(&gi)
			if err != nil {
				t.Fatal(err)
			}
			return seal(forged)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alice, bob, carol, dave := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol"), newParty(t, "dave")
			ga, gs := room(t, alice, bob, carol)
			j := dave.joiner(t)
			welcome := tc.forge(t, alice, bob, ga, gs[0], j)
			if g, err := Join(j, welcome, alice.id.Fingerprint(), ga.GroupID()); err == nil || g != nil {
				t.Fatalf("joined from a forged GroupInfo: %v", err)
			}
		})
	}
}
