package dmls

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
	"time"
)

func TestAckEntryAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		add  []uint64
		upto uint64
		gaps []SeqRange
		news []bool
	}{
		{"in order", []uint64{1, 2, 3}, 3, nil, []bool{true, true, true}},
		{"zero counts nothing", []uint64{0, 1, 0}, 1, nil, []bool{false, true, false}},
		{"a gap", []uint64{1, 4}, 4, []SeqRange{{2, 3}}, []bool{true, true}},
		{"a gap filled from its start", []uint64{1, 4, 2}, 4, []SeqRange{{3, 3}}, []bool{true, true, true}},
		{"a gap filled from its end", []uint64{1, 4, 3}, 4, []SeqRange{{2, 2}}, []bool{true, true, true}},
		{"a gap split", []uint64{1, 6, 3}, 6, []SeqRange{{2, 2}, {4, 5}}, []bool{true, true, true}},
		{"a gap filled whole", []uint64{1, 3, 2}, 3, nil, []bool{true, true, true}},
		{"again is no news", []uint64{2, 2, 1, 1}, 2, nil, []bool{true, false, true, false}},
		{"the first is late", []uint64{3}, 3, []SeqRange{{1, 2}}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var e AckEntry
			for i, s := range tt.add {
				if got := e.Add(s); got != tt.news[i] {
					t.Fatalf("Add(%d) = %v, want %v", s, got, tt.news[i])
				}
			}
			if e.Upto != tt.upto || len(e.Gaps) != len(tt.gaps) {
				t.Fatalf("upto %d gaps %v, want %d %v", e.Upto, e.Gaps, tt.upto, tt.gaps)
			}
			for i := range tt.gaps {
				if e.Gaps[i] != tt.gaps[i] {
					t.Fatalf("gaps %v, want %v", e.Gaps, tt.gaps)
				}
			}
			if !e.valid() {
				t.Fatalf("an invalid entry: %+v", e)
			}
		})
	}
}

// An entry never claims a message that was not added, and claims every
// one that was while its gaps fit.
func TestAckEntryNeverClaimsMore(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 300; round++ {
		var e AckEntry
		held := map[uint64]bool{}
		span := uint64(rng.Intn(400) + 2)
		for i := 0; i < 250; i++ {
			s := uint64(rng.Int63n(int64(span))) + 1
			newest := s >= e.Upto
			e.Add(s)
			held[s] = true
			if !e.valid() {
				t.Fatalf("invalid after adding %d: %+v", s, e)
			}
			if newest && !e.Has(s) {
				t.Fatalf("the newest, %d, is not claimed: %+v", s, e)
			}
			for x := uint64(0); x <= span+1; x++ {
				if e.Has(x) && !held[x] {
					t.Fatalf("claims %d, never added (%+v)", x, e)
				}
			}
		}
		if span <= 2*MaxGaps+1 { // never more than MaxGaps gaps: nothing forgotten
			for x := range held {
				if !e.Has(x) {
					t.Fatalf("forgot %d with %d gaps", x, len(e.Gaps))
				}
			}
		}
	}
}

func TestAcksSignedAndChecked(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(3)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	bob, err := NewIdentity(env, "bob")
	if err != nil {
		t.Fatal(err)
	}
	mallory, err := NewIdentity(env, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	a := &Acks{Room: RoomIDOf("lobby"), Version: 7, Entries: []AckEntry{
		{Author: Fingerprint{1}, Upto: 9, Gaps: []SeqRange{{2, 3}, {5, 5}}},
		{Author: Fingerprint{2}, Upto: 1},
	}}
	if err := a.Sign(bob); err != nil {
		t.Fatal(err)
	}
	raw, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalAcks(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(); err != nil || got.Member() != bob.Fingerprint() {
		t.Fatalf("a genuine record: %v, from %s", err, got.Member().Short())
	}
	if e := got.Entry(Fingerprint{1}); !e.Has(4) || e.Has(3) || !e.Has(9) || e.Has(10) {
		t.Fatalf("entry %+v", e)
	}
	if e := got.Entry(Fingerprint{9}); e.Has(1) {
		t.Fatal("an author not in the record is held")
	}
	// Every byte is covered: a holder that changes any is found out.
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x40
		if b, err := UnmarshalAcks(bad); err == nil && b.Verify() == nil {
			t.Fatalf("byte %d changed, still verifies", i)
		}
	}
	// Another key cannot sign for bob.
	forged := *got
	if err := forged.Sign(mallory); err != nil {
		t.Fatal(err)
	}
	forged.From = bob.PublicKey()
	if err := forged.Verify(); !errors.Is(err, ErrAuth) {
		t.Fatalf("a record mallory signed for bob: %v", err)
	}
}

func TestEnvelopeSignature(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(4)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	alice, err := NewIdentity(env, "alice")
	if err != nil {
		t.Fatal(err)
	}
	room := RoomIDOf("lobby")
	e := &Envelope{ID: MessageID{1}, SentAt: time.Unix(1800000000, 0).UTC(), Kind: EnvelopeText,
		To: []Fingerprint{{2}, {3}}, Seq: []uint64{5, 1}, Body: []byte("five lines")}
	if err := e.Sign(alice, room); err != nil {
		t.Fatal(err)
	}
	raw, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(room); err != nil || got.Author() != alice.Fingerprint() {
		t.Fatalf("genuine: %v", err)
	}
	if s, ok := got.SeqFor(Fingerprint{2}); !ok || s != 5 {
		t.Fatalf("seq for 2: %d %v", s, ok)
	}
	if err := got.Verify(RoomIDOf("other")); !errors.Is(err, ErrAuth) {
		t.Fatalf("moved to another room: %v", err)
	}
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if b, err := UnmarshalEnvelope(bad); err == nil && b.Verify(room) == nil {
			t.Fatalf("byte %d changed, still verifies", i)
		}
	}
}

func FuzzUnmarshalAcks(f *testing.F) {
	a := &Acks{Room: RoomIDOf("lobby"), From: bytes.Repeat([]byte{1}, keySize), Version: 3,
		Entries: []AckEntry{{Author: Fingerprint{1}, Upto: 9, Gaps: []SeqRange{{2, 3}}}}, Sig: bytes.Repeat([]byte{2}, sigSize)}
	b, err := a.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := UnmarshalAcks(data)
		if err != nil {
			return
		}
		again, err := a.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
		for _, e := range a.Entries {
			if !e.valid() {
				t.Fatalf("decoded an invalid entry %+v", e)
			}
		}
	})
}

func FuzzUnmarshalHeld(f *testing.F) {
	h := &Held{Room: RoomIDOf("lobby"), Envelope: []byte{2, 3, 4}}
	b, err := h.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := UnmarshalHeld(data)
		if err != nil {
			return
		}
		again, err := h.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzUnmarshalEntry(f *testing.F) {
	b, err := MarshalEntry(AckEntry{Author: Fingerprint{4}, Upto: 10, Gaps: []SeqRange{{1, 1}, {5, 8}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := UnmarshalEntry(data)
		if err != nil {
			return
		}
		again, err := MarshalEntry(e)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestAckEntryGapsForGood: gaps that stay for good (messages cancelled
// for us) never stop an entry from claiming what comes after them.
func TestAckEntryGapsForGood(t *testing.T) {
	t.Parallel()
	var e AckEntry
	for s := uint64(1); s <= 4*MaxGaps; s += 2 {
		e.Add(s) // every other message missing, for good
	}
	for s := uint64(4*MaxGaps + 1); s <= 4*MaxGaps+10; s++ {
		e.Add(s)
		if !e.Has(s) || len(e.Gaps) > MaxGaps {
			t.Fatalf("after %d: %+v", s, e)
		}
	}
}
