package mlsguard

import (
	"errors"
	"fmt"
	"testing"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

var kib = make([]byte, 1024)

// BenchmarkProtect1KiB compares PROTECT of 1 KiB through the boundary
// (bounds, recover, key erasure, encoding) with raw go-mls (Protect and
// encoding), in the same run.
func BenchmarkProtect1KiB(b *testing.B) {
	a, m := newParty(b, "alice"), newParty(b, "bob")
	b.Run("raw", func(b *testing.B) {
		ga, _ := room(b, a, m)
		b.SetBytes(1024)
		for i := 0; i < b.N; i++ {
			ct, err := ga.st.Protect(kib)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := syntax.Marshal(ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mlsguard", func(b *testing.B) {
		ga, _ := room(b, a, m)
		b.SetBytes(1024)
		for i := 0; i < b.N; i++ {
			if _, err := ga.Protect(kib); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUnprotect1KiB compares UNPROTECT of 1 KiB in order: the
// replacement path (transactional ratchet, own sender-data and signature
// checks) against raw go-mls (decode and Unprotect).
func BenchmarkUnprotect1KiB(b *testing.B) {
	a, m := newParty(b, "alice"), newParty(b, "bob")
	prepare := func(b *testing.B) ([][]byte, *Group) {
		b.StopTimer()
		ga, gs := room(b, a, m)
		cts := make([][]byte, b.N)
		for i := range cts {
			var err error
			if cts[i], err = ga.Protect(kib); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(1024)
		b.StartTimer()
		return cts, gs[0]
	}
	b.Run("raw", func(b *testing.B) {
		cts, g := prepare(b)
		for _, raw := range cts {
			var ct mls.MLSCiphertext
			if _, err := syntax.Unmarshal(raw, &ct); err != nil {
				b.Fatal(err)
			}
			if _, err := g.st.Unprotect(&ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mlsguard", func(b *testing.B) {
		cts, g := prepare(b)
		for _, raw := range cts {
			if _, err := g.Unprotect(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkJoinFullRoom: joining from the Welcome of a room at the leaf
// cap (the owner and MaxLeaves-1 members, all added in one commit), the
// most a Welcome under MaxWelcomeSize makes a joiner do.
func BenchmarkJoinFullRoom(b *testing.B) {
	owner := newParty(b, "owner")
	g, err := CreateGroup(owner.id, []byte("full"), owner.rnd.next())
	if err != nil {
		b.Fatal(err)
	}
	var joiner Joiner
	for i := 1; i < MaxLeaves; i++ {
		j := newParty(b, fmt.Sprint("member", i)).joiner(b)
		if i == 1 {
			joiner = j
		}
		if err := g.ProposeAdd(j.KeyPackage); err != nil {
			b.Fatal(err)
		}
	}
	_, welcome, _, err := g.Commit(owner.rnd.next())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Join(joiner, welcome, owner.id.Fingerprint(), g.GroupID()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(welcome)), "welcome-bytes")
}

// BenchmarkRefuseOversizedWelcome: what a Welcome for a tree past
// MaxLeaves costs the joiner before it is refused (compare with
// BenchmarkJoinFullRoom, the cost of a join that goes ahead).
func BenchmarkRefuseOversizedWelcome(b *testing.B) {
	owner, j, welcome := oversizedWelcome(b, MaxLeaves+8)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Join(j, welcome, owner.id.Fingerprint(), nil); !errors.Is(err, ErrRoomFull) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(welcome)), "welcome-bytes")
}
