package dmls

import (
	"bytes"
	"errors"
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
	for _, e := range []*Envelope{
		{From: bytes.Repeat([]byte{3}, keySize), ID: MessageID{1, 2}, SentAt: time.Unix(1700000000, 5).UTC(), Kind: EnvelopeText,
			To: []Fingerprint{{9}}, Seq: []uint64{4}, Body: []byte("hello ✓"), Sig: bytes.Repeat([]byte{5}, sigSize)},
		{From: bytes.Repeat([]byte{3}, keySize), ID: MessageID{3}, SentAt: time.Unix(0, 0).UTC(), Kind: EnvelopeControl,
			To: []Fingerprint{}, Body: []byte{ctlInvite, 1, 'x'}, Sig: bytes.Repeat([]byte{6}, sigSize)},
	} {
		b, err := e.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
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

// FuzzUnmarshalEvidence: an evidence body decodes to what re-encodes to
// it.
func FuzzUnmarshalEvidence(f *testing.F) {
	for _, b := range evidenceSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := UnmarshalEvidence(data)
		if err != nil {
			return
		}
		again, err := ev.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func evidenceSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, ev := range []*EvidenceBody{
		{Group: []byte("group id 16 byte"), Epoch: 7},
		{Group: []byte("g"), Epoch: 1 << 40, Context: []byte("ctx"), Commit: []byte("a commit")},
		{Group: nil, Epoch: 0, Context: []byte{}, Commit: []byte{1}},
	} {
		b, err := ev.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzUnmarshalInvite(f *testing.F) {
	for _, inv := range []*Invitation{
		{Room: "lobby"},
		{Room: "lobby", Secret: make([]byte, SecretSize)},
		{Room: "plans", Secret: make([]byte, SecretSize), Roles: []byte{1, 2, 3}},
		{Room: "plans", Secret: make([]byte, SecretSize), Roles: []byte{1, 2, 3}, Update: []byte{4, 5}},
	} {
		b, err := inv.Body()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := UnmarshalInvite(data)
		if err != nil {
			return
		}
		again, err := inv.Body()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzUnmarshalResend: a re-send body decodes to what re-encodes to it,
// and never to a control message.
func FuzzUnmarshalResend(f *testing.F) {
	for _, b := range resendSeeds(f) {
		f.Add(b)
	}
	s := getResendSession(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		room, e, err := UnmarshalResend(data)
		if err != nil {
			return
		}
		if e.Kind != EnvelopeText && e.Kind != EnvelopeFile { // texts and file offers are re-sent
			t.Fatalf("a re-sent control message: %+v", e)
		}
		again, err := s.NewResend(room, e, Fingerprint{1})
		if err != nil {
			t.Fatalf("decoded re-send does not encode: %v", err)
		}
		if !bytes.Equal(again.Body, data) {
			t.Fatal("re-send round trip differs")
		}
	})
}

var (
	resendOnce sync.Once
	resendSess *Session
)

func getResendSession(t testing.TB) *Session {
	resendOnce.Do(func() {
		clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
		env := testEnv(31, clk)
		id, err := NewIdentity(env, "fuzz")
		if err != nil {
			t.Fatal(err)
		}
		if resendSess, err = NewSession(id, env, RoomIDOf("dm"), Config{}); err != nil {
			t.Fatal(err)
		}
	})
	return resendSess
}

func resendSeeds(t testing.TB) [][]byte {
	s := getResendSession(t)
	var out [][]byte
	for _, e := range []*Envelope{
		{ID: MessageID{7}, SentAt: time.Unix(1800000000, 0).UTC(), Kind: EnvelopeText, To: []Fingerprint{{1}, {2}}, Seq: []uint64{1, 9}, Body: []byte("missed")},
		{ID: MessageID{8}, SentAt: time.Unix(0, 0).UTC(), Kind: EnvelopeText, To: []Fingerprint{}, Body: nil},
	} {
		if err := e.Sign(s.id, RoomIDOf("lobby")); err != nil {
			t.Fatal(err)
		}
		r, err := s.NewResend(RoomIDOf("lobby"), e, Fingerprint{1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Body)
	}
	return out
}

// handleFixture is a two-party room whose receiving side (bob) takes
// fuzzed messages from the authenticated other side (alice). It is built
// afresh for every input and is deterministic (seeded randomness, a fixed
// clock), so a crashing input replays alone, and the samples made from
// one build are valid messages for every other.
type handleFixture struct {
	n          *simNet
	alice, bob *simNode
}

func newHandleFixture(t testing.TB) *handleFixture {
	n := newSimNet(t, 77, Config{}, "alice", "bob")
	n.flush()
	return &handleFixture{n: n, alice: n.node("alice"), bob: n.node("bob")}
}

// samples are one of each kind of message alice sends bob.
func (fx *handleFixture) samples(t testing.TB) [][]byte {
	var out [][]byte
	capture := func(o Output, err error) {
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range o.Sends {
			out = append(out, s.Data)
		}
	}
	capture(fx.alice.s.Update())
	o, _, err := fx.alice.s.Protect("sample")
	capture(o, err)
	capture(fx.alice.s.PublishDigest())
	capture(fx.alice.s.keyPackageTo(fx.bob.id.Fingerprint(), KindKeyPackage, HelloAddMe|HelloSendYours))
	capture(fx.alice.s.leaveMsg(fx.bob.id.Fingerprint()))
	return out
}

var (
	sampleOnce sync.Once
	sampleSet  [][]byte
)

func sampleMessages(t testing.TB) [][]byte {
	sampleOnce.Do(func() { sampleSet = newHandleFixture(t).samples(t) })
	return sampleSet
}

// TestHandleFixtureIsDeterministic: messages made from one build of the
// fixture are read by the bob of another. (go-mls stamps KeyPackages with
// the wall clock's second, so two builds that straddle a second differ:
// those are built again.)
func TestHandleFixtureIsDeterministic(t *testing.T) {
	t.Parallel()
	var samples [][]byte
	var fx *handleFixture
	for try := 0; ; try++ {
		start := time.Now().Unix()
		samples = newHandleFixture(t).samples(t)
		fx = newHandleFixture(t)
		if time.Now().Unix() == start || try == 5 {
			break
		}
	}
	read := 0
	for _, m := range samples {
		out, _ := fx.bob.s.Handle(fx.alice.id.Fingerprint(), m)
		for _, e := range out.Events {
			if e.Type == EventMessage && string(e.Envelope.Body) == "sample" {
				read++
			}
		}
	}
	if read != 1 {
		t.Fatalf("a fresh bob read the sample %d times", read)
	}
}

// FuzzSessionHandle: whatever alice sends, bob's session does not panic
// and fails, if at all, with one of the package's errors.
func FuzzSessionHandle(f *testing.F) {
	for _, s := range sampleMessages(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := newHandleFixture(t)
		if _, err := fx.bob.s.Handle(fx.alice.id.Fingerprint(), data); errors.Is(err, ErrInternal) {
			t.Fatalf("internal error: %v", err)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when MMLS_WRITE_CORPUS is
// set; the files are committed.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	write := func(target string, seeds [][]byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	samples := sampleMessages(t)
	write("FuzzUnmarshalMessage", samples)
	write("FuzzSessionHandle", samples)
	envelopes, digests, invites := corpusSeeds(t)
	write("FuzzUnmarshalEnvelope", envelopes)
	write("FuzzUnmarshalDigest", digests)
	write("FuzzUnmarshalInvite", invites)
	write("FuzzUnmarshalResend", resendSeeds(t))
	write("FuzzUnmarshalEvidence", evidenceSeeds(t))
}

// corpusSeeds are valid envelopes, digests and invitations of several
// shapes.
func corpusSeeds(t testing.TB) (envelopes, digests, invites [][]byte) {
	for _, e := range []*Envelope{
		{ID: MessageID{1, 2}, SentAt: time.Unix(1700000000, 5).UTC(), Kind: EnvelopeText, To: []Fingerprint{{9}}, Body: []byte("hello ✓")},
		{ID: MessageID{3}, SentAt: time.Unix(0, 0).UTC(), Kind: EnvelopeText, To: []Fingerprint{}, Body: []byte("")},
		{ID: MessageID{4}, SentAt: time.Unix(1800000000, 0).UTC(), Kind: EnvelopeControl, To: []Fingerprint{{1}, {2}, {3}}, Body: []byte{ctlInvite, 5, 'l', 'o', 'b', 'b', 'y'}},
	} {
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		envelopes = append(envelopes, b)
	}
	for _, d := range [][]DigestEntry{
		nil,
		{{Group: []byte("g"), Owner: Fingerprint{1}, Epoch: 3, Hash: [32]byte{7}}},
		{{Group: make([]byte, maxGroupID), Owner: Fingerprint{2}, Epoch: 1 << 40}, {Group: []byte("h"), Epoch: 0}},
	} {
		b, err := marshalDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, b)
	}
	for _, room := range []string{"lobby", "x", "ünïcode-room", string(make([]byte, maxInviteName))} {
		for _, secret := range [][]byte{nil, []byte("0123456789abcdef0123456789abcdef")} {
			b, err := InviteBody(room, secret)
			if err != nil {
				t.Fatal(err)
			}
			invites = append(invites, b)
		}
	}
	return envelopes, digests, invites
}
