package mlsguard

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"testing"

	mls "github.com/cisco/go-mls"
)

// referenceApply is go-mls's own way to apply a bundle (queue each
// proposal with Handle, then Handle the commit): what applyCommit must
// reproduce.
func referenceApply(t *testing.T, g *Group, b CommitBundle) *mls.State {
	t.Helper()
	keep := len(g.st.PendingProposals)
	defer func() { g.st.PendingProposals = g.st.PendingProposals[:keep] }()
	for _, raw := range b.Proposals {
		var pt mls.MLSPlaintext
		if err := decodeStrict(raw, &pt); err != nil {
			t.Fatal(err)
		}
		if _, err := g.st.Handle(&pt); err != nil {
			t.Fatalf("go-mls queueing a proposal: %v", err)
		}
	}
	var commit mls.MLSPlaintext
	if err := decodeStrict(b.Commit, &commit); err != nil {
		t.Fatal(err)
	}
	next, err := g.st.Handle(&commit)
	if err != nil {
		t.Fatalf("go-mls applying the commit: %v", err)
	}
	return next
}

// sameState compares everything a state carries into the next epoch.
func sameState(t *testing.T, want, got *mls.State) {
	t.Helper()
	switch {
	case !want.Equals(*got):
		t.Fatal("public state, transcript hashes or key schedule differ")
	case want.Index != got.Index:
		t.Fatalf("index %d, want %d", got.Index, want.Index)
	case !bytes.Equal(want.TreePriv.UpdateSecret, got.TreePriv.UpdateSecret):
		t.Fatal("commit secret differs")
	case !maps.EqualFunc(want.TreePriv.PathSecrets, got.TreePriv.PathSecrets, func(a, b mls.Bytes1) bool { return bytes.Equal(a, b) }):
		t.Fatal("path secrets differ")
	case !bytes.Equal(want.IdentityPriv.Data, got.IdentityPriv.Data):
		t.Fatal("identity key differs")
	case !maps.Equal(want.NewCredentials, got.NewCredentials):
		t.Fatalf("new credentials %v, want %v", got.NewCredentials, want.NewCredentials)
	case !bytes.Equal(want.Keys.ApplicationSecret, got.Keys.ApplicationSecret) || !bytes.Equal(want.Keys.ExporterSecret, got.Keys.ExporterSecret):
		t.Fatal("epoch secrets differ")
	}
}

// TestApplyCommitMatchesGoMLS applies commits of every shape both ways
// (go-mls's Handle, and the linear applyCommit that ApplyCommit uses) and
// requires the same next state from each member's point of view, then
// checks that the members and the owner still talk.
func TestApplyCommitMatchesGoMLS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// make queues proposals at the owner (members[i] proposes through
		// its group gs[i]) and returns the parties added.
		make func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party
	}{
		{"empty commit", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party { return nil }},
		{"adds", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party {
			e, f := newParty(t, "erin"), newParty(t, "frank")
			for _, p := range []*party{e, f} {
				if err := owner.ProposeAdd(p.joiner(t).KeyPackage); err != nil {
					t.Fatal(err)
				}
			}
			return []*party{e, f}
		}},
		{"updates by every member", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party {
			for i, g := range gs {
				updateTo(t, owner, g, ps[i])
			}
			return nil
		}},
		{"remove", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party {
			if err := owner.ProposeRemove(3); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"update and removal of the same member", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party {
			updateTo(t, owner, gs[2], ps[2])
			if err := owner.ProposeRemove(3); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"update, remove and add", func(t *testing.T, owner *Group, ps []*party, gs []*Group) []*party {
			updateTo(t, owner, gs[1], ps[1])
			if err := owner.ProposeRemove(3); err != nil {
				t.Fatal(err)
			}
			e := newParty(t, "erin")
			if err := owner.ProposeAdd(e.joiner(t).KeyPackage); err != nil {
				t.Fatal(err)
			}
			return []*party{e}
		}},
	}
	for _, tc := range cases {
		// Trees of 4, 5 and 8 leaves: full, one past full (the root moves
		// as adds grow it), and full again.
		for _, n := range []int{3, 4, 7} {
			t.Run(fmt.Sprintf("%s/%d members", tc.name, n), func(t *testing.T) {
				t.Parallel()
				a := newParty(t, "alice")
				var ps []*party
				for i := range n {
					ps = append(ps, newParty(t, fmt.Sprint("member", i)))
				}
				owner, gs := room(t, a, ps...)
				tc.make(t, owner, ps, gs)
				bundle, _, info, err := owner.Commit(a.rnd.next())
				if err != nil {
					t.Fatal(err)
				}
				ct, err := owner.Protect([]byte("next epoch"))
				if err != nil {
					t.Fatal(err)
				}
				for i, g := range gs {
					removed := false
					for _, m := range info.Removed {
						removed = removed || m.Leaf == g.Index()
					}
					if removed {
						continue
					}
					want := referenceApply(t, g, bundle)
					next, _, err := g.ApplyCommit(bundle)
					if err != nil {
						t.Fatalf("%s: %v", ps[i].id.Nick(), err)
					}
					sameState(t, want, next.st)
					if pt, err := next.Unprotect(ct); err != nil || string(pt) != "next epoch" {
						t.Fatalf("%s after the commit: %q %v", ps[i].id.Nick(), pt, err)
					}
				}
			})
		}
	}
}

// resign signs a commit again with the owner's key over ctx (the group
// context of the epoch it commits from): what an owner who builds a bad
// commit on purpose sends.
func resign(t *testing.T, owner *Group, ctx []byte, commit *mls.MLSPlaintext) []byte {
	t.Helper()
	tbs, err := signedContent(ctx, commit)
	if err != nil {
		t.Fatal(err)
	}
	if commit.Signature.Data, err = owner.st.Scheme.Sign(&owner.st.IdentityPriv, tbs); err != nil {
		t.Fatal(err)
	}
	raw, err := encode(commit)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAttackMisbehavingOwnerCommits: an owner (who signs what it likes)
// sends commits that are well signed but wrong; every member refuses each
// with ErrAuth and stays where it was.
func TestAttackMisbehavingOwnerCommits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// bad returns the bundle to send, built from a member's update
		// (prop, raw) and the owner's group before its commit.
		bad func(t *testing.T, owner *Group, ctx, prop []byte, a *party) CommitBundle
	}{
		{"confirmation tag that does not match the epoch", func(t *testing.T, owner *Group, ctx, prop []byte, a *party) CommitBundle {
			if err := owner.HandleProposal(prop, owner.Members()[1].Fingerprint()); err != nil {
				t.Fatal(err)
			}
			bundle, _, _, err := owner.Commit(a.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			var commit mls.MLSPlaintext
			if err := decodeStrict(bundle.Commit, &commit); err != nil {
				t.Fatal(err)
			}
			commit.Content.Commit.Confirmation.Data[0] ^= 1
			return CommitBundle{Proposals: bundle.Proposals, Commit: resign(t, owner, ctx, &commit)}
		}},
		{"a member's update whose signature does not verify", func(t *testing.T, owner *Group, ctx, prop []byte, a *party) CommitBundle {
			// The owner queues the proposal past its own checks, then
			// commits it like any other (confirmation and all).
			var pt mls.MLSPlaintext
			if err := decodeStrict(prop, &pt); err != nil {
				t.Fatal(err)
			}
			pt.Signature.Data[0] ^= 1
			raw, err := encode(&pt)
			if err != nil {
				t.Fatal(err)
			}
			owner.st.PendingProposals = append(owner.st.PendingProposals, pt)
			owner.pending = append(owner.pending, raw)
			bundle, _, _, err := owner.Commit(a.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			return bundle
		}},
		// The owner's own proposals are signed through the commit, which
		// lists their digests: a byte changed after the commit, even in
		// the proposal's own signature (no longer checked by itself), is
		// a proposal the commit does not cover.
		{"the owner's Add with its signature changed after the commit", func(t *testing.T, owner *Group, ctx, prop []byte, a *party) CommitBundle {
			return alterOwnAdd(t, owner, a, func(pt *mls.MLSPlaintext) { pt.Signature.Data[0] ^= 1 })
		}},
		{"the owner's Add swapped for another newcomer's after the commit", func(t *testing.T, owner *Group, ctx, prop []byte, a *party) CommitBundle {
			other := newParty(t, "mallory").joiner(t).KeyPackage
			return alterOwnAdd(t, owner, a, func(pt *mls.MLSPlaintext) { pt.Content.Proposal.Add.KeyPackage = other.kp })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
			owner, gs := room(t, a, b, c)
			ctx, err := owner.context()
			if err != nil {
				t.Fatal(err)
			}
			prop, err := gs[0].ProposeUpdate(b.id, b.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			bundle := tc.bad(t, owner, ctx, prop, a)
			for i, g := range gs {
				epoch := g.Epoch()
				if next, _, err := g.ApplyCommit(bundle); !errors.Is(err, ErrAuth) || next != nil {
					t.Fatalf("member %d: want ErrAuth and no next epoch, got %v", i, err)
				}
				if g.Epoch() != epoch {
					t.Fatalf("member %d moved to epoch %d", i, g.Epoch())
				}
			}
		})
	}
}

// alterOwnAdd has the owner add a newcomer and commit it, then changes
// the Add proposal in the bundle (after the commit listed its digest).
func alterOwnAdd(t *testing.T, owner *Group, a *party, change func(*mls.MLSPlaintext)) CommitBundle {
	t.Helper()
	if err := owner.ProposeAdd(newParty(t, "dave").joiner(t).KeyPackage); err != nil {
		t.Fatal(err)
	}
	bundle, _, _, err := owner.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if len(bundle.Proposals) != 1 {
		t.Fatalf("%d proposals in the bundle", len(bundle.Proposals))
	}
	var pt mls.MLSPlaintext
	if err := decodeStrict(bundle.Proposals[0], &pt); err != nil {
		t.Fatal(err)
	}
	change(&pt)
	raw, err := encode(&pt)
	if err != nil {
		t.Fatal(err)
	}
	return CommitBundle{Proposals: [][]byte{raw}, Commit: bundle.Commit}
}

// updateTo has member (p's group) propose an Update, and owner take it.
func updateTo(t *testing.T, owner, member *Group, p *party) {
	t.Helper()
	prop, err := member.ProposeUpdate(p.id, p.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.HandleProposal(prop, p.id.Fingerprint()); err != nil {
		t.Fatal(err)
	}
}
