package mlsguard

import (
	"errors"
	"testing"
)

// TestVerifyCommitAgainstAWitness: two commits an owner signed for one
// epoch (a fork: two copies of its state) both verify against the witness
// of that epoch; a commit altered, signed by someone else, or of another
// epoch does not.
func TestVerifyCommitAgainstAWitness(t *testing.T) {
	t.Parallel()
	a1, a2, m := newParty(t, "alice"), newParty(t, "alice"), newParty(t, "mallory")
	gid := []byte("the group")
	g1, err := CreateGroup(a1.id, gid, a1.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	g2, err := CreateGroup(a2.id, gid, a2.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	gm, err := CreateGroup(m.id, gid, m.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	w, err := g1.Witness()
	if err != nil {
		t.Fatal(err)
	}
	b1, _, _, err := g1.Commit(a1.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	a2.rnd.next() // the branches part here
	b2, _, _, err := g2.Commit(a2.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if CommitHash(b1.Commit) == CommitHash(b2.Commit) {
		t.Fatal("the two branches committed the same")
	}
	forged, _, _, err := gm.Commit(m.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	next, _, _, err := g1.Commit(a1.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	altered := append([]byte(nil), b1.Commit...)
	altered[len(altered)-1] ^= 1
	for _, tc := range []struct {
		name string
		raw  []byte
		want error
	}{
		{"branch one", b1.Commit, nil},
		{"branch two", b2.Commit, nil},
		{"altered", altered, ErrAuth},
		{"signed by another key", forged.Commit, ErrAuth},
		{"of the next epoch", next.Commit, ErrWrongEpoch},
		{"garbage", []byte{1, 2, 3}, ErrMalformed},
	} {
		if err := VerifyCommit(w, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: want %v, got %v", tc.name, tc.want, err)
		}
	}
}
