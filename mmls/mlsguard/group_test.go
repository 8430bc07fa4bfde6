package mlsguard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// seq is a deterministic secret source for tests.
type seq struct {
	label string
	n     uint64
}

func (s *seq) next() []byte {
	s.n++
	h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(s.label), s.n))
	return h[:]
}

type party struct {
	id  *Identity
	rnd *seq
}

func newParty(t testing.TB, nick string) *party {
	t.Helper()
	r := &seq{label: nick}
	id, err := NewIdentity(r.next(), nick)
	if err != nil {
		t.Fatal(err)
	}
	return &party{id: id, rnd: r}
}

func (p *party) joiner(t testing.TB) Joiner {
	t.Helper()
	s := p.rnd.next()
	kp, err := p.id.NewKeyPackage(s)
	if err != nil {
		t.Fatal(err)
	}
	return Joiner{Identity: p.id, KeyPackage: kp, InitSecret: s}
}

// room makes owner's send group with every member joined.
func room(t testing.TB, owner *party, members ...*party) (*Group, []*Group) {
	t.Helper()
	g, err := CreateGroup(owner.id, []byte("group-"+owner.id.Nick()), owner.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	js := make([]Joiner, len(members))
	for i, m := range members {
		js[i] = m.joiner(t)
		if err := g.ProposeAdd(js[i].KeyPackage); err != nil {
			t.Fatal(err)
		}
	}
	_, welcome, _, err := g.Commit(owner.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*Group, len(members))
	for i := range members {
		if out[i], err = Join(js[i], welcome, owner.id.Fingerprint(), g.GroupID()); err != nil {
			t.Fatal(err)
		}
	}
	return g, out
}

func TestRoundTripAndOrder(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	var cts [][]byte
	for i := 0; i < 4; i++ {
		ct, err := ga.Protect([]byte(fmt.Sprintf("m%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 1, 0, 2}} {
		g := gs[0]
		if order[0] != 0 {
			g = gs[1]
		}
		for _, i := range order {
			pt, err := g.Unprotect(cts[i])
			if err != nil {
				t.Fatalf("order %v msg %d: %v", order, i, err)
			}
			if want := fmt.Sprintf("m%d", i); string(pt) != want {
				t.Fatalf("got %q want %q", pt, want)
			}
		}
		if _, err := g.Unprotect(cts[order[0]]); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay: got %v", err)
		}
	}
}

func TestCorruptedCopyFirst(t *testing.T) {
	t.Parallel()
	a, b := newParty(t, "alice"), newParty(t, "bob")
	ga, gs := room(t, a, b)
	ct, err := ga.Protect([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(ct); i += 7 {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x41
		if _, err := gs[0].Unprotect(bad); err == nil {
			t.Fatalf("corrupted byte %d accepted", i)
		}
	}
	pt, err := gs[0].Unprotect(ct)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("genuine message lost after corrupted copies: %q %v", pt, err)
	}
}

func TestUpdateAndRemove(t *testing.T) {
	t.Parallel()
	a, b, c := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol")
	ga, gs := room(t, a, b, c)
	prop, err := gs[0].ProposeUpdate(b.id, b.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if err := ga.HandleProposal(prop, c.id.Fingerprint()); !errors.Is(err, ErrBadProposal) {
		t.Fatalf("proposal attributed to the wrong key: %v", err)
	}
	if err := ga.HandleProposal(prop, b.id.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	bundle, _, info, err := ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Updated) != 1 || info.Updated[0].Nick != "bob" {
		t.Fatalf("info %+v", info)
	}
	for i := range gs {
		next, _, err := gs[i].ApplyCommit(bundle)
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		gs[i] = next
	}
	ea, _ := ga.Export("x", nil, 16)
	for _, g := range gs {
		if e, _ := g.Export("x", nil, 16); !bytes.Equal(e, ea) {
			t.Fatal("exporter differs after update")
		}
	}
	// Members by fingerprint: the index follows each new epoch.
	cfp := c.id.Fingerprint()
	if m, ok := ga.Member(cfp); !ok || m.Leaf != 2 || m.Nick != "carol" {
		t.Fatalf("carol before her removal: %+v %v", m, ok)
	}
	if _, ok := ga.Member(FingerprintOf([]byte("nobody"))); ok {
		t.Fatal("a stranger found among the members")
	}
	// Remove carol (leaf 2).
	if err := ga.ProposeRemove(2); err != nil {
		t.Fatal(err)
	}
	bundle, _, _, err = ga.Commit(a.rnd.next())
	if err != nil {
		t.Fatal(err)
	}
	if _, info, err := gs[1].ApplyCommit(bundle); !errors.Is(err, ErrRemoved) || !info.RemovedMe {
		t.Fatalf("carol: %v %+v", err, info)
	}
	nb, info, err := gs[0].ApplyCommit(bundle)
	if err != nil || len(info.Removed) != 1 || info.Removed[0].Nick != "carol" {
		t.Fatalf("bob: %v %+v", err, info)
	}
	for name, g := range map[string]*Group{"the owner": ga, "bob": nb} {
		if m, ok := g.Member(cfp); ok {
			t.Fatalf("%s still finds carol after her removal: %+v", name, m)
		}
		if m, ok := g.Member(b.id.Fingerprint()); !ok || m.Leaf != 1 {
			t.Fatalf("%s lost bob: %+v %v", name, m, ok)
		}
		if n := len(g.Members()); n != 2 {
			t.Fatalf("%s lists %d members, want 2", name, n)
		}
	}
	ct, _ := ga.Protect([]byte("after"))
	if pt, err := nb.Unprotect(ct); err != nil || string(pt) != "after" {
		t.Fatalf("bob after remove: %q %v", pt, err)
	}
	if _, err := gs[1].Unprotect(ct); err == nil {
		t.Fatal("carol read a message after removal")
	}
}

func TestValidNick(t *testing.T) {
	t.Parallel()
	tests := []struct {
		nick string
		ok   bool
	}{
		{"alice", true},
		{"Zoë Ångström", true},
		{"日本語のニック", true},
		{strings.Repeat("x", 32), true},
		{strings.Repeat("é", 32), true},
		{strings.Repeat("x", 33), false},
		{"", false},
		{"evil\x1b[31m", false},
		{"bell\x07", false},
		{"c1\u009b31m", false},
		{"rtl\u202eevil", false},
		{"zero\u200bwidth", false},
		{"tab\there", false},
		{"\xff\xfe", false},
	}
	for _, tc := range tests {
		if err := ValidNick(tc.nick); (err == nil) != tc.ok {
			t.Errorf("ValidNick(%q) = %v", tc.nick, err)
		}
	}
}
