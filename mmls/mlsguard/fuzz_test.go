package mlsguard

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// fuzzFixture is one room (alice owns, bob and carol joined) and sample
// messages, built once per process: fuzz targets feed hostile bytes to the
// same long-lived groups, as the network would.
type fuzzFixture struct {
	alice, bob   *party
	owner        *Group
	member       *Group
	joiner       Joiner
	keyPackage   []byte
	welcome      []byte
	commit       CommitBundle
	app, app2    []byte
	proposal     []byte
	welcomeOwner Fingerprint
	// groupInfo is the plaintext GroupInfo of welcome, and seal encrypts
	// another in its place (as its owner could).
	groupInfo []byte
	seal      func(groupInfo []byte) []byte
}

var (
	fixtureOnce sync.Once
	fixture     *fuzzFixture
)

func getFixture(t testing.TB) *fuzzFixture {
	fixtureOnce.Do(func() {
		a, b, c, d := newParty(t, "alice"), newParty(t, "bob"), newParty(t, "carol"), newParty(t, "dave")
		ga, gs := room(t, a, b, c)
		fx := &fuzzFixture{alice: a, bob: b, owner: ga, member: gs[0], welcomeOwner: a.id.Fingerprint()}
		fx.joiner = d.joiner(t)
		fx.keyPackage = fx.joiner.KeyPackage.Bytes()
		// A Welcome for dave into a separate group of alice's.
		g2, err := CreateGroup(a.id, []byte("second"), a.rnd.next())
		if err != nil {
			t.Fatal(err)
		}
		if err := g2.ProposeAdd(fx.joiner.KeyPackage); err != nil {
			t.Fatal(err)
		}
		if _, fx.welcome, _, err = g2.Commit(a.rnd.next()); err != nil {
			t.Fatal(err)
		}
		if fx.groupInfo, fx.seal, err = groupInfoSealer(fx.joiner, fx.welcome, fx.welcomeOwner); err != nil {
			t.Fatal(err)
		}
		if fx.proposal, err = gs[1].ProposeUpdate(c.id, c.rnd.next()); err != nil {
			t.Fatal(err)
		}
		fx.app, _ = ga.Protect([]byte("sample one"))
		fx.app2, _ = ga.Protect([]byte("sample two"))
		// A commit alice made in a copy of the room (same members), so the
		// fixture's own groups stay at their epoch.
		ga3, gs3 := room(t, a, b, c)
		_ = gs3
		if fx.commit, _, _, err = ga3.Commit(a.rnd.next()); err != nil {
			t.Fatal(err)
		}
		fixture = fx
	})
	if fixture == nil {
		t.Fatal("fixture failed")
	}
	return fixture
}

func FuzzParseKeyPackage(f *testing.F) {
	fx := getFixture(f)
	f.Add(fx.keyPackage)
	f.Fuzz(func(t *testing.T, data []byte) {
		kp, err := ParseKeyPackage(data)
		if err == nil && FingerprintOf(kp.PublicKey()) != kp.Fingerprint() {
			t.Fatal("inconsistent key package")
		}
	})
}

func FuzzJoin(f *testing.F) {
	fx := getFixture(f)
	f.Add(fx.welcome)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = WelcomeTarget(data)
		_, _ = Join(fx.joiner, data, fx.welcomeOwner, nil)
	})
}

// groupInfoSealer joins j with welcome (to learn the epoch secret), and
// returns the GroupInfo the Welcome carries and a function that puts
// another GroupInfo in its place, encrypted as its owner would.
func groupInfoSealer(j Joiner, welcome []byte, owner Fingerprint) ([]byte, func([]byte) []byte, error) {
	g, err := Join(j, welcome, owner, nil)
	if err != nil {
		return nil, nil, err
	}
	return sealerFor(welcome, g.st.Keys.EpochSecret)
}

// sealerFor is groupInfoSealer for a Welcome whose epoch secret is known.
func sealerFor(welcome, epochSecret []byte) ([]byte, func([]byte) []byte, error) {
	var w mls.Welcome
	if err := decodeStrict(welcome, &w); err != nil {
		return nil, nil, err
	}
	cc := Suite.Constants()
	giSecret := expandLabel(epochSecret, "group info", cc.SecretSize)
	aead, err := Suite.NewAEAD(expandLabel(giSecret, "key", cc.KeySize))
	if err != nil {
		return nil, nil, err
	}
	nonce := expandLabel(giSecret, "nonce", cc.NonceSize)
	plain, err := aead.Open(nil, nonce, w.EncryptedGroupInfo, []byte{})
	if err != nil {
		return nil, nil, err
	}
	seal := func(gi []byte) []byte {
		w2 := w
		w2.EncryptedGroupInfo = aead.Seal(nil, nonce, gi, []byte{})
		raw, _ := syntax.Marshal(w2)
		return raw
	}
	return plain, seal, nil
}

// FuzzJoinGroupInfo: a hostile GroupInfo inside a Welcome that opens (its
// owner's, or anyone's who knows the epoch secret) never panics, and a
// join that succeeds gives a group at the epoch it says.
func FuzzJoinGroupInfo(f *testing.F) {
	fx := getFixture(f)
	f.Add(fx.groupInfo)
	f.Fuzz(func(t *testing.T, gi []byte) {
		g, err := Join(fx.joiner, fx.seal(gi), fx.welcomeOwner, nil)
		if err == nil && (g == nil || g.LeafCount() == 0) {
			t.Fatal("joined an empty group")
		}
	})
}

func FuzzUnprotect(f *testing.F) {
	fx := getFixture(f)
	f.Add(fx.app)
	f.Add(fx.app2)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = PeekApplication(data)
		_, _ = fx.member.Unprotect(data)
	})
}

func FuzzApplyCommit(f *testing.F) {
	fx := getFixture(f)
	var first []byte
	if len(fx.commit.Proposals) > 0 {
		first = fx.commit.Proposals[0]
	}
	f.Add(fx.commit.Commit, first)
	f.Fuzz(func(t *testing.T, commit, proposal []byte) {
		b := CommitBundle{Commit: commit}
		if len(proposal) > 0 {
			b.Proposals = [][]byte{proposal}
		}
		next, _, err := fx.member.ApplyCommit(b)
		if err == nil && next == nil {
			t.Fatal("no state and no error")
		}
	})
}

func FuzzHandleProposal(f *testing.F) {
	fx := getFixture(f)
	f.Add(fx.proposal)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = fx.owner.HandleProposal(data, fx.bob.id.Fingerprint())
		if fx.owner.PendingProposals() > 64 {
			// Keep the owner's queue bounded across iterations.
			if _, _, _, err := fx.owner.Commit(fx.alice.rnd.next()); err != nil {
				t.Fatalf("owner cannot commit what it accepted: %v", err)
			}
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz from the fixture when
// MMLS_WRITE_CORPUS is set; the files are committed.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	fx := getFixture(t)
	write := func(target string, args ...[]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n"
		for _, a := range args {
			body += fmt.Sprintf("[]byte(%q)\n", a)
		}
		n, _ := os.ReadDir(dir)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", len(n))), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("FuzzParseKeyPackage", fx.keyPackage)
	write("FuzzJoin", fx.welcome)
	write("FuzzJoinGroupInfo", fx.groupInfo)
	write("FuzzUnprotect", fx.app)
	write("FuzzUnprotect", fx.app2)
	var first []byte
	if len(fx.commit.Proposals) > 0 {
		first = fx.commit.Proposals[0]
	}
	write("FuzzApplyCommit", fx.commit.Commit, first)
	write("FuzzHandleProposal", fx.proposal)
}
