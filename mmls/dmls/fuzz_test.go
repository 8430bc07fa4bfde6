package dmls

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func FuzzUnmarshalMessage(f *testing.F) {
	for _, s := range sampleMessages(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := UnmarshalMessage(data)
		if err != nil {
			return
		}
		again, err := m.Marshal()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatal("decode/encode is not the identity")
		}
	})
}

func FuzzUnmarshalEnvelope(f *testing.F) {
	e := &Envelope{ID: MessageID{1, 2}, SentAt: time.Unix(1700000000, 5).UTC(), Kind: EnvelopeText,
		To: []Fingerprint{{9}}, Body: []byte("hello ✓")}
	b, err := e.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := UnmarshalEnvelope(data)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzUnmarshalDigest(f *testing.F) {
	b, err := marshalDigest([]DigestEntry{{Group: []byte("g"), Owner: Fingerprint{1}, Epoch: 3, Hash: [32]byte{7}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := UnmarshalDigest(data)
		if err != nil {
			return
		}
		again, err := marshalDigest(entries)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzUnmarshalInvite(f *testing.F) {
	b, err := InviteBody("lobby")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		name, err := UnmarshalInvite(data)
		if err != nil {
			return
		}
		again, err := InviteBody(name)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// handleFixture is a two-party room whose receiving side takes fuzzed
// messages from the (authenticated) other side.
type handleFixture struct {
	n          *simNet
	alice, bob *simNode
	samples    [][]byte
}

var (
	handleOnce sync.Once
	handleFx   *handleFixture
)

func getHandleFixture(t testing.TB) *handleFixture {
	handleOnce.Do(func() {
		n := newSimNet(t, 77, Config{}, "alice", "bob")
		n.flush()
		fx := &handleFixture{n: n, alice: n.node("alice"), bob: n.node("bob")}
		capture := func(out Output, err error) {
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Sends {
				fx.samples = append(fx.samples, o.Data)
			}
		}
		capture(fx.alice.s.Update())
		out, _, err := fx.alice.s.Protect("sample")
		capture(out, err)
		capture(fx.alice.s.PublishDigest())
		hello, err := fx.alice.s.keyPackageTo(fx.bob.id.Fingerprint(), KindKeyPackage, HelloAddMe|HelloSendYours)
		capture(hello, err)
		capture(fx.alice.s.leaveMsg(fx.bob.id.Fingerprint()))
		handleFx = fx
	})
	if handleFx == nil {
		t.Fatal("fixture failed")
	}
	return handleFx
}

func sampleMessages(t testing.TB) [][]byte { return getHandleFixture(t).samples }

func FuzzSessionHandle(f *testing.F) {
	fx := getHandleFixture(f)
	for _, s := range fx.samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Whatever it is, it must not panic; errors are expected.
		_, _ = fx.bob.s.Handle(fx.alice.id.Fingerprint(), data)
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when MMLS_WRITE_CORPUS is
// set; the files are committed.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	fx := getHandleFixture(t)
	for _, target := range []string{"FuzzUnmarshalMessage", "FuzzSessionHandle"} {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range fx.samples {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
