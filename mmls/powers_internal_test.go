package mmls

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// TestRemovedMemberNoLongerRecognisesRoom: after an admin's removal the
// room's tags are keyed by a fresh secret. A member (bob) is still sent
// tags it knows from before, until it is given the fresh secret; the
// member removed (carol) is sent only the fresh one, so she recognises
// neither the room nor, later, who joins it.
func TestRemovedMemberNoLongerRecognisesRoom(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	net := e.cfg.Net.(*recordingNet)
	if err := e.create("ops"); err != nil {
		t.Fatal(err)
	}
	r := e.rooms["ops"]
	bob, carol := ID{0xb0}, ID{0xca}
	if err := e.st.AddMember("ops", bob.String()); err != nil {
		t.Fatal(err)
	}
	r.s.MarkKicked(carol, e.me)
	old := r.tagKey()
	if err := e.rotateSecret(r); err != nil {
		t.Fatal(err)
	}
	fresh := r.tagKey()
	if slices.Equal(old, fresh) || r.pw.update == nil || r.pw.update.Version != 1 {
		t.Fatalf("no fresh secret: %+v", r.pw.update)
	}
	tagsTo := func(peer ID) (a *announcement) {
		e.announceTo(peer)
		frames := net.framesTo(peer, frame.Rooms)
		a, err := parseRooms(frames[len(frames)-1])
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	has := func(a *announcement, key []byte, to ID) bool {
		want := dmls.RoomTag(key, a.nonce[:], e.me, to)
		return slices.Contains(a.tags, want)
	}
	if a := tagsTo(bob); !has(a, fresh, bob) || !has(a, old, bob) {
		t.Fatal("bob, a member, is not sent both the fresh tag and the one he knows")
	}
	if a := tagsTo(carol); !has(a, fresh, carol) || has(a, old, carol) {
		t.Fatal("carol, removed, is sent a tag she can recognise")
	}
	// bob, not given the fresh secret yet, announces with the old one:
	// we still recognise him.
	a := &announcement{}
	rand.Read(a.nonce[:])
	a.tags = [][32]byte{dmls.RoomTag(old, a.nonce[:], bob, e.me)}
	if !e.recognises(r, bob, a) {
		t.Fatal("a member with the earlier secret is not recognised")
	}
}

// TestResendFromNonMemberRefused: a re-send (a message of another room
// carried in the direct room with its author) is taken only from a member
// of that room: mallory, who shares a direct room with us but not "dev",
// cannot put a line of hers into dev's history that way.
func TestResendFromNonMemberRefused(t *testing.T) {
	t.Parallel()
	e := newTestEngine(t)
	if err := e.create("dev"); err != nil {
		t.Fatal(err)
	}
	dev := e.rooms["dev"]
	resend := func(nick, text string) {
		id, err := dmls.NewIdentity(dmls.Env{Rand: rand.Reader, Now: time.Now}, nick)
		if err != nil {
			t.Fatal(err)
		}
		author := id.Fingerprint()
		env := &dmls.Envelope{From: id.PublicKey(), SentAt: time.Now(), Kind: dmls.EnvelopeText, To: []ID{e.me}, Seq: []uint64{1}, Body: []byte(text)}
		rand.Read(env.ID[:])
		direct := &room{name: "dm", direct: true, with: author}
		e.resentToUs(direct, dmls.Event{Type: dmls.EventResent, Peer: author, Nick: nick, Envelope: env, Room: dev.id})
	}
	resend("mallory", "a line mallory never wrote in dev")
	hist, err := e.st.History("dev", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range hist {
		if m.Text == "a line mallory never wrote in dev" {
			t.Fatal("a re-send from someone not in dev was taken into dev's history")
		}
	}
}

// TestFileStatesAreTheStoresWords: a FileView's state is the store's
// word for it, so the conversion is a cast.
func TestFileStatesAreTheStoresWords(t *testing.T) {
	t.Parallel()
	for stored, state := range map[string]FileState{
		store.FileOffered: FileStateOffered, store.FileFetching: FileStateFetching, store.FileSaved: FileStateSaved,
		store.FileSent: FileStateSent, store.FileFailed: FileStateFailed,
	} {
		if FileState(stored) != state {
			t.Errorf("the store's %q is not %q", stored, state)
		}
	}
}
