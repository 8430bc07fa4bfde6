package dmls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"slices"
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

// TestAckEntryGapsAtTheBound: MaxGaps gaps are kept as they are; one more
// merges the two gaps closest together (the fewest held messages between
// them are given up), and no other.
func TestAckEntryGapsAtTheBound(t *testing.T) {
	t.Parallel()
	// Gap i is one missing message, four held between gaps, except that
	// gaps 16 and 17 are two apart (one held between): the closest pair.
	build := func(count int) (AckEntry, SeqRange) {
		missing := map[uint64]bool{}
		var pos uint64 = 2
		var pair SeqRange
		for i := 0; i < count; i++ {
			missing[pos] = true
			switch i {
			case 16:
				pair.Lo = pos
				pos += 2
			case 17:
				pair.Hi = pos
				pos += 5
			default:
				pos += 5
			}
		}
		var e AckEntry
		for s := uint64(1); s < pos; s++ {
			if !missing[s] {
				e.Add(s)
			}
		}
		return e, pair
	}
	e, _ := build(MaxGaps)
	if len(e.Gaps) != MaxGaps {
		t.Fatalf("%d gaps kept of %d, want all: %+v", len(e.Gaps), MaxGaps, e.Gaps)
	}
	e, merged := build(MaxGaps + 1)
	if len(e.Gaps) != MaxGaps {
		t.Fatalf("%d gaps, want %d", len(e.Gaps), MaxGaps)
	}
	found := false
	for _, g := range e.Gaps {
		switch {
		case g == merged:
			found = true
		case g.Lo != g.Hi:
			t.Fatalf("gap %v merged, want only %v: %+v", g, merged, e.Gaps)
		}
	}
	if !found || e.Has(merged.Lo+1) || !e.Has(merged.Lo-1) || !e.Has(merged.Hi+1) {
		t.Fatalf("want %v merged (the one between given up, those around held): %+v", merged, e.Gaps)
	}
}

// TestAckEntryValid: what a decoder takes, at each edge.
func TestAckEntryValid(t *testing.T) {
	t.Parallel()
	many := make([]SeqRange, MaxGaps+1)
	for i := range many {
		many[i] = SeqRange{uint64(3*i + 2), uint64(3*i + 2)}
	}
	tests := []struct {
		name string
		e    AckEntry
		ok   bool
	}{
		{"nothing held", AckEntry{}, true},
		{"a gap just below upto", AckEntry{Upto: 5, Gaps: []SeqRange{{2, 4}}}, true},
		{"a gap reaching upto", AckEntry{Upto: 5, Gaps: []SeqRange{{2, 5}}}, false},
		{"a gap from 0", AckEntry{Upto: 5, Gaps: []SeqRange{{0, 2}}}, false},
		{"a gap of one", AckEntry{Upto: 5, Gaps: []SeqRange{{3, 3}}}, true},
		{"a gap upside down", AckEntry{Upto: 5, Gaps: []SeqRange{{3, 2}}}, false},
		{"gaps one apart", AckEntry{Upto: 9, Gaps: []SeqRange{{2, 3}, {5, 6}}}, true},
		{"gaps touching", AckEntry{Upto: 9, Gaps: []SeqRange{{2, 3}, {4, 6}}}, false},
		{"gaps overlapping", AckEntry{Upto: 9, Gaps: []SeqRange{{2, 4}, {4, 6}}}, false},
		{"gaps out of order", AckEntry{Upto: 9, Gaps: []SeqRange{{5, 6}, {2, 3}}}, false},
		{"MaxGaps gaps", AckEntry{Upto: 200, Gaps: many[:MaxGaps]}, true},
		{"one too many", AckEntry{Upto: 200, Gaps: many}, false},
	}
	for _, tt := range tests {
		if got := tt.e.valid(); got != tt.ok {
			t.Errorf("%s: valid = %v, want %v", tt.name, got, tt.ok)
		}
		raw, err := MarshalEntry(tt.e)
		if (err == nil) != tt.ok {
			t.Errorf("%s: MarshalEntry: %v", tt.name, err)
			continue
		}
		if !tt.ok {
			continue
		}
		back, err := UnmarshalEntry(raw)
		if err != nil || back.Upto != tt.e.Upto || len(back.Gaps) != len(tt.e.Gaps) {
			t.Errorf("%s: round trip %+v %v", tt.name, back, err)
		}
	}
}

// TestAcksAtTheBounds: a record of MaxAckAuthors authors, one with MaxGaps
// gaps, signs, travels and verifies; one author more, or one gap more on
// the wire, is refused.
func TestAcksAtTheBounds(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(4)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	bob, err := NewIdentity(env, "bob")
	if err != nil {
		t.Fatal(err)
	}
	gaps := make([]SeqRange, MaxGaps)
	for i := range gaps {
		gaps[i] = SeqRange{uint64(3*i + 2), uint64(3*i + 2)}
	}
	full := &Acks{Room: RoomIDOf("lobby"), Version: 1}
	for i := 0; i < MaxAckAuthors; i++ {
		e := AckEntry{Author: Fingerprint{byte(i), byte(i >> 8), 1}, Upto: 200}
		if i == 0 {
			e.Gaps = gaps
		}
		full.Entries = append(full.Entries, e)
	}
	if err := full.Sign(bob); err != nil {
		t.Fatal(err)
	}
	raw, err := full.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalAcks(raw)
	if err != nil || got.Verify() != nil || len(got.Entries) != MaxAckAuthors || len(got.Entries[0].Gaps) != MaxGaps {
		t.Fatalf("a record at the bounds: %v", err)
	}

	over := &Acks{Room: full.Room, Version: 2, Entries: append(slices.Clone(full.Entries), AckEntry{Author: Fingerprint{9, 9, 9}, Upto: 1})}
	if err := over.Sign(bob); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d authors signed: %v", len(over.Entries), err)
	}
	// On the wire: the count of authors, then the first entry's count of
	// gaps, one past the bound.
	header := 32 + keySize + 8
	tooMany := bytes.Clone(raw)
	binary.BigEndian.PutUint16(tooMany[header:], MaxAckAuthors+1)
	if _, err := UnmarshalAcks(tooMany); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d authors decoded: %v", MaxAckAuthors+1, err)
	}
	tooManyGaps := bytes.Clone(raw)
	tooManyGaps[header+2+32+8] = MaxGaps + 1
	if _, err := UnmarshalAcks(tooManyGaps); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d gaps decoded: %v", MaxGaps+1, err)
	}
}

// TestEnvelopeAtTheBounds: each kind's body and the recipients at their
// bound are sealed and read back; one byte or one recipient more is
// refused on both sides.
func TestEnvelopeAtTheBounds(t *testing.T) {
	t.Parallel()
	env := Env{Rand: rand.New(rand.NewSource(5)), Now: func() time.Time { return time.Unix(1800000000, 0) }}
	alice, err := NewIdentity(env, "alice")
	if err != nil {
		t.Fatal(err)
	}
	room := RoomIDOf("lobby")
	recipients := func(n int) []Fingerprint {
		to := make([]Fingerprint, n)
		for i := range to {
			to[i] = Fingerprint{byte(i), 7}
		}
		return to
	}
	tests := []struct {
		name string
		kind EnvelopeKind
		body int
		to   int
		ok   bool
	}{
		{"text at its bound", EnvelopeText, MaxTextSize, 1, true},
		{"text a byte over", EnvelopeText, MaxTextSize + 1, 1, false},
		{"control at its bound", EnvelopeControl, MaxControlSize, 1, true},
		{"control a byte over", EnvelopeControl, MaxControlSize + 1, 1, false},
		{"a file offer at its bound", EnvelopeFile, MaxFileOfferSize, 1, true},
		{"a file offer a byte over", EnvelopeFile, MaxFileOfferSize + 1, 1, false},
		{"every member a recipient", EnvelopeText, 10, MaxMembers, true},
		{"one recipient too many", EnvelopeText, 10, MaxMembers + 1, false},
	}
	for _, tt := range tests {
		e := &Envelope{ID: MessageID{1}, SentAt: env.Now(), Kind: tt.kind, To: recipients(tt.to), Body: bytes.Repeat([]byte("a"), tt.body)}
		e.Seq = make([]uint64, tt.to)
		for i := range e.Seq {
			e.Seq[i] = uint64(i + 1)
		}
		err := e.Sign(alice, room)
		if (err == nil) != tt.ok {
			t.Errorf("%s: Sign: %v", tt.name, err)
			continue
		}
		if !tt.ok {
			// What another implementation could send: an envelope at the
			// bound, one byte or one recipient more on the wire.
			e.Body, e.To, e.Seq = e.Body[:min(tt.body, MaxFileOfferSize)], e.To[:1], e.Seq[:1]
			if err := e.Sign(alice, room); err != nil {
				t.Fatal(err)
			}
			raw, err := e.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if tt.to > MaxMembers {
				binary.BigEndian.PutUint16(raw[1+keySize+len(e.ID)+8+1:], uint16(tt.to))
			} else {
				at := len(raw) - sigSize - len(e.Body) - 4
				grown := binary.BigEndian.AppendUint32(bytes.Clone(raw[:at]), uint32(tt.body))
				grown = append(grown, bytes.Repeat([]byte("a"), tt.body)...)
				raw = append(grown, raw[len(raw)-sigSize:]...)
			}
			if _, err := UnmarshalEnvelope(raw); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: read: %v", tt.name, err)
			}
			continue
		}
		raw, err := e.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", tt.name, err)
		}
		back, err := UnmarshalEnvelope(raw)
		if err != nil || back.Verify(room) != nil || len(back.Body) != tt.body || len(back.To) != tt.to {
			t.Fatalf("%s: read back: %v", tt.name, err)
		}
	}
}
