package mlsguard

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// groupInfoOf is the GroupInfo a Welcome carries, decrypted and encoded
// again, for a joiner that joined with j.
func groupInfoOf(tb testing.TB, j Joiner, welcome []byte, joined *Group) (*mls.GroupInfo, []byte) {
	tb.Helper()
	var w mls.Welcome
	if err := decodeStrict(welcome, &w); err != nil {
		tb.Fatal(err)
	}
	gi, err := w.Decrypt(Suite, joined.st.Keys.EpochSecret)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := syntax.Marshal(gi)
	if err != nil {
		tb.Fatal(err)
	}
	return gi, raw
}

// TestShapeMatchesDecode: the walk of a GroupInfo finds what go-mls's
// decode finds (nodes, leaf 0's key, group id, signer), for trees with
// parents, blank leaves and one member or many.
func TestShapeMatchesDecode(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 5, 9} {
		t.Run(fmt.Sprint(n, " members"), func(t *testing.T) {
			t.Parallel()
			owner := newParty(t, "owner")
			g, err := CreateGroup(owner.id, []byte(fmt.Sprint("shape", n)), owner.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := g.ProposeAdd(newParty(t, fmt.Sprint("m", i)).joiner(t).KeyPackage); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, _, err := g.Commit(owner.rnd.next()); err != nil {
				t.Fatal(err)
			}
			if n > 2 {
				if err := g.ProposeRemove(2); err != nil { // a blank leaf
					t.Fatal(err)
				}
			}
			j := newParty(t, "late").joiner(t)
			if err := g.ProposeAdd(j.KeyPackage); err != nil {
				t.Fatal(err)
			}
			_, welcome, _, err := g.Commit(owner.rnd.next())
			if err != nil {
				t.Fatal(err)
			}
			joined, err := Join(j, welcome, owner.id.Fingerprint(), nil)
			if err != nil {
				t.Fatal(err)
			}
			gi, raw := groupInfoOf(t, j, welcome, joined)
			shape, err := shapeOf(raw, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			kp, _ := gi.Tree.KeyPackage(0)
			if shape.nodes != len(gi.Tree.Nodes) || !bytes.Equal(shape.leaf0, kp.Credential.Basic.PublicKey.Data) ||
				!bytes.Equal(shape.groupID, gi.GroupID) || shape.signer != uint32(gi.SignerIndex) {
				t.Fatalf("walk %+v, decode: %d nodes, group %x, signer %d", shape, len(gi.Tree.Nodes), gi.GroupID, gi.SignerIndex)
			}
			for cut := range raw {
				if _, err := shapeOf(raw[:cut], 1<<20); err == nil {
					t.Fatalf("a GroupInfo cut at %d of %d bytes walked", cut, len(raw))
				}
			}
			if os.Getenv("MMLS_WRITE_CORPUS") != "" && n == 5 {
				dir := filepath.Join("testdata", "fuzz", "FuzzShapeOf")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "seed-0"), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", raw), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// FuzzShapeOf: the walk of a hostile GroupInfo never panics, never reads
// past its input, and counts no more nodes than asked (plus the one that
// tells it is too many).
func FuzzShapeOf(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := shapeOf(data, 2*MaxLeaves-1)
		if err == nil && s.nodes > 2*MaxLeaves {
			t.Fatalf("%d nodes counted", s.nodes)
		}
	})
}
