package dmls

import (
	"testing"
	"time"
)

// TestPrivateRoomAdmitsOnlyVouched: alice makes a private room and invites
// bob, who invites carol; mallory has the secret (so she can address the
// room) but nobody vouched for her. Alice, bob and carol link both ways
// (alice admits carol because bob's commit added her), mallory links with
// nobody, and reads nothing; her Welcomes are not taken either.
func TestPrivateRoomAdmitsOnlyVouched(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	secret := []byte("0123456789abcdef0123456789abcdef")
	room := PrivateRoomID(secret)
	r := NewRouter()
	type party struct {
		id *Identity
		s  *Session
	}
	parties := map[string]*party{}
	for i, nick := range []string{"alice", "bob", "carol", "mallory"} {
		env := testEnv(uint64(900+i), clk)
		id, err := NewIdentity(env, nick)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(id, env, room, Config{})
		if err != nil {
			t.Fatal(err)
		}
		s.MakePrivate()
		r.Attach(s)
		parties[nick] = &party{id, s}
	}
	fp := func(nick string) Fingerprint { return parties[nick].id.Fingerprint() }
	alice, bob, carol, mallory := parties["alice"], parties["bob"], parties["carol"], parties["mallory"]
	alice.s.Vouch(fp("bob"))
	bob.s.Vouch(fp("alice"), fp("carol"))
	carol.s.Vouch(fp("bob"))
	// Mallory wants in: she admits everyone to her own group, so each of
	// them gets her Welcome, which must wait like her Hello.
	mallory.s.Vouch(fp("alice"), fp("bob"), fp("carol"))
	for _, a := range parties {
		for _, b := range parties {
			if a != b {
				r.On(a.id.Fingerprint())(a.s.Hello(b.id.Fingerprint()))
			}
		}
	}
	for r.DeliverOldest() {
	}
	for _, a := range []*party{alice, bob, carol} {
		for _, b := range []*party{alice, bob, carol} {
			if a != b && (!a.s.InSendGroup(b.id.Fingerprint()) || !a.s.HasGroupOf(b.id.Fingerprint())) {
				t.Errorf("%s-%s not linked both ways", a.id.Nick(), b.id.Nick())
			}
		}
		if a.s.InSendGroup(fp("mallory")) || mallory.s.HasGroupOf(a.id.Fingerprint()) {
			t.Errorf("%s admitted mallory", a.id.Nick())
		}
		if a.s.HasGroupOf(fp("mallory")) {
			t.Errorf("%s took the Welcome of mallory, whom nobody vouched for", a.id.Nick())
		}
	}
	out, _, err := bob.s.Protect("members only")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Sends {
		if o.To == fp("mallory") {
			t.Fatal("bob sent the room's message to mallory")
		}
	}
	if _, ok := alice.s.priv.waiting[fp("mallory")]; !ok {
		t.Error("mallory's hello is not waiting at alice")
	}
}

// TestRoomTag: a tag is recognised only with the same secret, nonce and
// pair of ids, in that direction.
func TestRoomTag(t *testing.T) {
	t.Parallel()
	a, b := Fingerprint{1}, Fingerprint{2}
	s1, s2 := []byte("secret one........................"), []byte("secret two........................")
	n1, n2 := []byte("nonce-1"), []byte("nonce-2")
	tag := RoomTag(s1, n1, a, b)
	for _, other := range [][32]byte{RoomTag(s2, n1, a, b), RoomTag(s1, n2, a, b), RoomTag(s1, n1, b, a)} {
		if other == tag {
			t.Fatal("a tag matched with another secret, nonce or direction")
		}
	}
	if RoomTag(s1, n1, a, b) != tag {
		t.Fatal("tags are not deterministic")
	}
	if PrivateRoomID(s1) == PrivateRoomID(s2) || PrivateRoomID(s1) == RoomIDOf(string(s1)) {
		t.Fatal("private room ids collide")
	}
}
