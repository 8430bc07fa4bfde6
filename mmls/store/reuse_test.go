package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

// fill leaves a trace of the room now called name in every place a room
// keeps something, each marked with tag.
func fill(t *testing.T, s *Store, name, tag string) {
	t.Helper()
	peer := fmt.Sprintf("%064x", len(tag))
	if _, err := s.AddMessage(Message{ID: tag + "-m", Room: name, FromID: peer, Text: tag, SentAt: t0, ReceivedAt: t0}); err != nil {
		t.Fatal(err)
	}
	must(t, s.AddNotes([]Note{{Room: name, At: t0, Kind: NoteMember, Peer: peer, Nick: tag}}))
	must(t, s.Kick(name, Kick{Peer: tag, At: t0}))
	must(t, s.AddMember(name, tag))
	must(t, s.PutAckEntry(name, tag, []byte(tag)))
	must(t, s.PutPeerAcks(name, tag, []byte(tag)))
	must(t, s.AddStored(name, tag, 7))
	must(t, s.AddOutgoing(Outgoing{ID: tag + "-o", Room: name, Text: tag, To: []string{peer}, Seqs: map[string]uint64{peer: 3}, SentAt: t0}, peer, tag))
	if _, err := s.AddFile(File{ID: tag + "-f", Room: name, FromID: peer, Offer: []byte(tag)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hold(HeldMessage{Room: name, Author: peer, ID: tag + "-h", SentAt: t0, HeldAt: t0, Envelope: []byte(tag)}, HoldLimits{PerAuthor: 10, PerAuthorBytes: 1 << 20, PerRoom: 10, PerRoomBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
}

// trace reads back what fill left under name: the tags found, by place.
func trace(t *testing.T, s *Store, name string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	add := func(place, tag string) { got[place] = append(got[place], tag) }
	hist, err := s.History(name, 100)
	must(t, err)
	for _, m := range hist {
		if !m.Mine { // the outgoing line is in the history too
			add("history", m.Text)
		}
	}
	notes, err := s.Notes(name)
	must(t, err)
	for _, n := range notes {
		add("notes", n.Nick)
	}
	kicks, err := s.Kicked(name)
	must(t, err)
	for _, k := range kicks {
		add("kicks", k.Peer)
	}
	members, err := s.Members(name)
	must(t, err)
	for _, m := range members {
		add("members", m)
	}
	acks, err := s.AckEntries(name)
	must(t, err)
	for a := range acks {
		add("acks", a)
	}
	peerAcks, err := s.PeerAcks(name)
	must(t, err)
	for a := range peerAcks {
		add("peeracks", a)
	}
	seqs, err := s.LastSeqs(name)
	must(t, err)
	for p := range seqs {
		add("seqs", p)
	}
	out, err := s.Outbox()
	must(t, err)
	for _, o := range out {
		if o.Room == name {
			add("outbox", o.Text)
		}
	}
	files, err := s.Files()
	must(t, err)
	for _, f := range files {
		if f.Room == name {
			add("files", string(f.Offer))
		}
	}
	for _, tag := range got["kicks"] {
		if n, err := s.Stored(name, tag); err != nil || n != 7 {
			t.Fatalf("quota of %q in %s: %d %v", tag, name, n, err)
		}
	}
	held, err := s.HeldIn(name)
	must(t, err)
	for _, h := range held {
		add("held", string(h.Envelope))
	}
	return got
}

// TestRoomsOfOneNameKeepApart: a private room and an open room of one
// name, and two private rooms of one name, are different rooms; what one
// left behind is never shown as the other's, and comes back when that
// room is joined again.
func TestRoomsOfOneNameKeepApart(t *testing.T) {
	t.Parallel()
	open1 := Room{Name: "dev", JoinedAt: t0}
	private1 := Room{Name: "dev", JoinedAt: t0, Private: true, Secret: bytes.Repeat([]byte{1}, 32)}
	private2 := Room{Name: "dev", JoinedAt: t0, Private: true, Secret: bytes.Repeat([]byte{2}, 32)}
	steps := []struct {
		join Room
		tag  string // left in the room while in it
		sees string // the tag found on joining, "" for nothing
	}{
		{join: private1, tag: "secret lines"},
		{join: open1, tag: "open lines"},
		{join: private2, tag: "other secret"},
		{join: private1, sees: "secret lines"},
		{join: open1, sees: "open lines"},
		{join: private2, sees: "other secret"},
	}
	s := open(t, t.TempDir())
	must(t, s.AddMember("devops", "next door")) // a name that starts with dev's is not dev
	for i, st := range steps {
		must(t, s.JoinRoom(st.join))
		got := trace(t, s, "dev")
		if st.sees == "" && len(got) != 0 {
			t.Fatalf("step %d: a new room shows another's leftovers: %v", i, got)
		}
		if st.sees != "" {
			// seqs are keyed by peer, not by tag; the quota is checked
			// with the kicks: 10 places in all.
			if len(got) != 10 {
				t.Fatalf("step %d: %d places came back, want 10: %v", i, len(got), got)
			}
			for place, tags := range got {
				if place != "seqs" && place != "acks" && place != "peeracks" && place != "kicks" && place != "members" {
					if !slices.Equal(tags, []string{st.sees}) {
						t.Fatalf("step %d: %s holds %q, want only %q", i, place, tags, st.sees)
					}
				} else if len(tags) != 1 {
					t.Fatalf("step %d: %s holds %q, want one", i, place, tags)
				}
			}
		}
		if st.tag != "" {
			fill(t, s, "dev", st.tag)
		}
		must(t, s.LeaveRoom("dev"))
	}
	if m, err := s.Members("devops"); err != nil || !slices.Equal(m, []string{"next door"}) {
		t.Fatalf("devops: %q %v", m, err)
	}
	// Joined while we are in it, the name's room does not move.
	must(t, s.JoinRoom(open1))
	must(t, s.JoinRoom(private1))
	if got := trace(t, s, "dev")["history"]; !slices.Equal(got, []string{"open lines"}) {
		t.Fatalf("history after a second join: %q", got)
	}
}

// TestUpgradesVersion8: the rooms we are in keep what they hold; what a
// room we left holds is kept apart, since whose it was is unknown.
func TestUpgradesVersion8(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir)
	must(t, s.JoinRoom(Room{Name: "lobby", JoinedAt: t0}))
	fill(t, s, "lobby", "lobby lines")
	must(t, s.JoinRoom(Room{Name: "dev", JoinedAt: t0, Private: true, Secret: bytes.Repeat([]byte{1}, 32)}))
	fill(t, s, "dev", "secret lines")
	must(t, s.LeaveRoom("dev"))
	must(t, s.update(func(tx *Tx) error {
		if err := tx.DeleteBucket(bRoomIDs); err != nil {
			return err
		}
		return tx.Bucket(bMeta).Put([]byte("version"), binary.BigEndian.AppendUint32(nil, 8))
	}))
	s.Close()
	s = open(t, dir)
	must(t, s.JoinRoom(Room{Name: "lobby", JoinedAt: t0}))
	if got := trace(t, s, "lobby")["history"]; !slices.Equal(got, []string{"lobby lines"}) {
		t.Fatalf("the lobby's history after the upgrade: %q", got)
	}
	must(t, s.JoinRoom(Room{Name: "dev", JoinedAt: t0}))
	if got := trace(t, s, "dev"); len(got) != 0 {
		t.Fatalf("an open dev shows what a room left before the upgrade held: %v", got)
	}
}

// TestHistoryPages: a room's history read back in pages, newest first,
// meets every message once, in order, and says when none are left.
func TestHistoryPages(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	const n = 23
	for i := range n {
		if _, err := s.AddMessage(Message{ID: fmt.Sprint(i), Room: "dev", FromID: "b0b", Text: fmt.Sprint(i), SentAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 5, 10, 23, 50} {
		var got []string
		var before uint64
		for pages := 0; ; pages++ {
			p, err := s.HistoryBefore("dev", before, limit)
			must(t, err)
			var texts []string
			for _, m := range p.Messages {
				texts = append(texts, m.Text)
			}
			got = append(texts, got...)
			if !p.More {
				break
			}
			if pages > n || len(p.Messages) != limit {
				t.Fatalf("limit %d: page %d of %d with more", limit, pages, len(p.Messages))
			}
			before = p.Before
		}
		want := make([]string, n)
		for i := range want {
			want[i] = fmt.Sprint(i)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: %q", limit, got)
		}
	}
	if p, err := s.HistoryBefore("none", 0, 5); err != nil || len(p.Messages) != 0 || p.More {
		t.Fatalf("an empty room: %+v %v", p, err)
	}
	if p, err := s.HistoryBefore("dev", 1<<40, 3); err != nil || len(p.Messages) != 3 || p.Messages[2].Text != "22" {
		t.Fatalf("before a place past the end: %+v %v", p, err)
	}
}
