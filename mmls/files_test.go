package mmls_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

// randomFile writes n random bytes under dir.
func randomFile(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// offer has n send the file at path to room and returns the offer.
func offer(t *testing.T, n *enginetest.Node, room, path string) *mmls.FileOffered {
	t.Helper()
	mark := n.Mark()
	if _, err := n.Try(mmls.SendFile{Room: room, Path: path}); err != nil {
		t.Fatal(err)
	}
	return n.WaitAfter(mark, "the offer", func(e mmls.Event) bool {
		f, ok := e.(*mmls.FileOffered)
		return ok && f.Mine
	}).(*mmls.FileOffered)
}

func offeredTo(n *enginetest.Node, id string) *mmls.FileOffered {
	return n.WaitFor("the offer of "+id, func(e mmls.Event) bool {
		f, ok := e.(*mmls.FileOffered)
		return ok && f.File.ID == id
	}).(*mmls.FileOffered)
}

// save has n fetch file id into dir and waits until it is saved.
func save(t *testing.T, n *enginetest.Node, room, id, dir string) *mmls.FileSaved {
	t.Helper()
	if _, err := n.Try(mmls.SaveFile{Room: room, ID: id[:8], Path: dir + "/"}); err != nil {
		t.Fatal(err)
	}
	return waitSaved(n, id)
}

func waitSaved(n *enginetest.Node, id string) *mmls.FileSaved {
	return n.WaitFor("file "+id+" saved", func(e mmls.Event) bool {
		s, ok := e.(*mmls.FileSaved)
		return ok && s.ID == id
	}).(*mmls.FileSaved)
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, not the %d sent", path, len(got), len(want))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: mode %v, want 0600", path, st.Mode().Perm())
	}
}

// waitLog waits until n logged a line containing text.
func waitLog(t *testing.T, n *enginetest.Node, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(n.Logs(), func(l string) bool { return strings.Contains(l, text) }) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q", n.Nick, text)
		}
		time.Sleep(5 * time.Millisecond) // polling the log, with a deadline
	}
}

// TestFileFromAnyHolder: a file offered to the room is saved by a member
// (bytes equal, 0600), and once its sender is gone another member still
// gets it from that member.
func TestFileFromAnyHolder(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	path, data := randomFile(t, t.TempDir(), "report.pdf", 3*files.DefaultChunk+1234)
	off := offer(t, alice, "lobby", path)
	if off.Recipients != 2 || off.File.Size != int64(len(data)) || off.File.Mime != "application/pdf" {
		t.Fatalf("offer %+v", off)
	}
	got := offeredTo(bob, off.File.ID)
	if got.From != "alice" || got.File.Name != "report.pdf" || got.File.SHA256 != off.File.SHA256 {
		t.Fatalf("bob sees the offer as %+v", got)
	}
	saved := save(t, bob, "lobby", off.File.ID, t.TempDir())
	sameFile(t, saved.Path, data)
	if filepath.Base(saved.Path) != "report.pdf" || saved.SHA256 != off.File.SHA256 {
		t.Fatalf("saved %+v", saved)
	}
	alice.Stop()
	offeredTo(carol, off.File.ID)
	saved = save(t, carol, "lobby", off.File.ID, t.TempDir())
	sameFile(t, saved.Path, data)
}

// TestFileSavedTwiceNeverOverwrites: saving into a folder where the name
// is taken gives "name (1).ext"; the existing file is untouched.
func TestFileSavedTwiceNeverOverwrites(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	path, data := randomFile(t, t.TempDir(), "notes.txt", 1000)
	off := offer(t, alice, "lobby", path)
	offeredTo(bob, off.File.ID)
	saved := save(t, bob, "lobby", off.File.ID, dir)
	if filepath.Base(saved.Path) != "notes (1).txt" {
		t.Fatalf("saved as %s", saved.Path)
	}
	sameFile(t, saved.Path, data)
	if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
		t.Fatalf("the existing file now holds %q", b)
	}
}

// TestHostileHolderCannotCorrupt: a member serving damaged chunks (it
// has the key, so it can seal anything) is caught by the manifest: its
// chunks are discarded, nothing appears at the destination, and the file
// comes whole from an honest holder.
func TestHostileHolderCannotCorrupt(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	l.Configure = func(nick string, c *mmls.Config) { c.CorruptChunks = nick == "bob" }
	nodes := l.Room("alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	path, data := randomFile(t, t.TempDir(), "photo.jpg", 5*files.DefaultChunk)
	off := offer(t, alice, "lobby", path)
	offeredTo(bob, off.File.ID)
	save(t, bob, "lobby", off.File.ID, t.TempDir())
	alice.Stop()
	offeredTo(carol, off.File.ID)
	dir := t.TempDir()
	if _, err := carol.Try(mmls.SaveFile{Room: "lobby", ID: off.File.ID[:8], Path: dir}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, carol, "that its sender did not seal: discarded")
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%s holds %v with only a hostile holder", dir, left)
	}
	l.Start("alice")
	saved := waitSaved(carol, off.File.ID)
	sameFile(t, saved.Path, data)
}

// TestStrangerCannotFetch: a peer that was not a member when the file was
// offered sees no offer, cannot save it, and a holder refuses it every
// chunk even when it knows the file's id.
func TestStrangerCannotFetch(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	dave := l.Start("dave")
	if _, err := dave.Try(mmls.Join{Room: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dave.Try(mmls.Leave{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	l.ConnectAll([]*enginetest.Node{alice, dave})
	path, _ := randomFile(t, t.TempDir(), "secret.txt", 70_000)
	off := offer(t, alice, "lobby", path)
	offeredTo(bob, off.File.ID)
	// A second offer, in a room dave is in, comes after the first: once
	// it is there, the first would have been too.
	if _, err := alice.Try(mmls.Join{Room: "elsewhere"}); err != nil {
		t.Fatal(err)
	}
	dave.WaitLinked("elsewhere", alice)
	alice.WaitLinked("elsewhere", dave)
	path2, _ := randomFile(t, t.TempDir(), "public.txt", 10)
	off2 := offer(t, alice, "elsewhere", path2)
	offeredTo(dave, off2.File.ID)
	for _, e := range dave.Seen() {
		if f, ok := e.(*mmls.FileOffered); ok && f.File.ID == off.File.ID {
			t.Fatal("dave, not in the lobby, saw its file offer")
		}
	}
	if _, err := dave.Try(mmls.SaveFile{Room: "elsewhere", ID: off.File.ID[:8]}); err == nil {
		t.Fatal("dave could save a file of a room he is not in")
	}

	// A stranger with a fresh key who knows the id asks alice directly.
	ep := l.Hub.Join(mmls.ID{0xba, 0xd}, "mallory")
	defer ep.Close()
	if err := ep.Connect(memnet.Addr("alice"), mmls.ID{}); err != nil {
		t.Fatal(err)
	}
	id, _ := files.ParseID(off.File.ID)
	asked := false
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ep.Events():
			switch {
			case ev.Kind == mmls.PeerUp && ev.Peer == alice.ID && !asked:
				asked = true
				for i := range 3 {
					if err := ep.Send(alice.ID, files.Request{ID: id, What: files.WhatChunk, Index: uint32(i)}.Frame()); err != nil {
						t.Fatal(err)
					}
				}
				if err := ep.Send(alice.ID, files.Request{ID: id, What: files.WhatPage}.Frame()); err != nil {
					t.Fatal(err)
				}
			case ev.Kind == mmls.Frame && len(ev.Payload) > 0 && frame.Kind(ev.Payload[0]) == frame.FileData:
				ep.Ack(ev.Peer, ev.Seq)
				d, err := files.ParseData(ev.Payload[1:])
				if err != nil {
					t.Fatal(err)
				}
				if d.Status != files.StatusRefused || len(d.Bytes) != 0 {
					t.Fatalf("alice answered a stranger with status %d and %d bytes", d.Status, len(d.Bytes))
				}
				if d.What == files.WhatPage {
					return
				}
			case ev.Kind == mmls.Frame:
				ep.Ack(ev.Peer, ev.Seq)
			}
		case <-deadline:
			t.Fatal("no answer from alice")
		}
	}
}

// TestKickedMemberCannotFetch: once we removed a member from the room,
// we refuse it the chunks of files offered there, though the offer
// reached it.
func TestKickedMemberCannotFetch(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	path, _ := randomFile(t, t.TempDir(), "plan.txt", 100_000)
	off := offer(t, alice, "lobby", path)
	offeredTo(bob, off.File.ID)
	if _, err := alice.Try(mmls.Kick{Room: "lobby", Who: "bob"}); err != nil {
		t.Fatal(err)
	}
	bob.WaitFor("removed", func(e mmls.Event) bool { _, ok := e.(*mmls.Removed); return ok })
	dir := t.TempDir()
	if _, err := bob.Try(mmls.SaveFile{Room: "lobby", ID: off.File.ID[:8], Path: dir}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, alice, "removed from lobby, asked for file")
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("bob saved %s after his removal", left[0].Name())
	}
}

// TestCancelFetch: a fetch stopped by its user deletes what it fetched,
// says so, and the file can be saved again afterwards.
func TestCancelFetch(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	path, data := randomFile(t, t.TempDir(), "video.mkv", 6*files.DefaultChunk)
	off := offer(t, alice, "lobby", path)
	offeredTo(bob, off.File.ID)
	alice.Stop() // nobody serves it: the fetch waits
	dir := t.TempDir()
	if _, err := bob.Try(mmls.SaveFile{Room: "lobby", ID: off.File.ID[:8], Path: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Try(mmls.CancelFile{Room: "lobby"}); err != nil {
		t.Fatal(err)
	}
	bob.WaitFor("cancelled", func(e mmls.Event) bool { c, ok := e.(*mmls.FileCancelled); return ok && c.ID == off.File.ID })
	part := filepath.Join(l.Dir("bob"), "files", off.File.ID+".sealed")
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Fatalf("the partial file is still there: %v", err)
	}
	if _, err := bob.Try(mmls.CancelFile{Room: "lobby"}); err == nil {
		t.Fatal("cancelled twice")
	}
	l.Start("alice")
	saved := save(t, bob, "lobby", off.File.ID, dir)
	sameFile(t, saved.Path, data)
}

// TestAutoSave: with /autosave, a small file from the other person of a
// direct room is saved as it comes; one from an unverified member of an
// open room waits for /save (a stranger cannot fill the disk), and so
// does one over the size. The setting outlives a restart.
func TestAutoSave(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	downloads := t.TempDir()
	l.Configure = func(nick string, c *mmls.Config) { c.DownloadDir = downloads }
	nodes := l.Room("alice", "bob")
	alice, bob := nodes[0], nodes[1]
	if ev := bob.Do(mmls.SetAutoSave{Limit: 1 << 20}); ev.(*mmls.AutoSaveChanged).Limit != 1<<20 {
		t.Fatalf("answer %#v", ev)
	}
	// The setting is kept: bob restarts before the files come.
	bob.Stop()
	bob = l.Start("bob")
	bob.WaitLinked("lobby", alice)
	small, data := randomFile(t, t.TempDir(), "small.txt", 1000)
	big, _ := randomFile(t, t.TempDir(), "big.bin", 2<<20)
	open := offer(t, alice, "lobby", small)
	alice.Do(mmls.Direct{To: "bob", Text: "files coming"})
	dm := alice.DirectRoom(bob)
	bob.WaitText(dm, "files coming")
	over := offer(t, alice, dm, big)
	direct := offer(t, alice, dm, small)
	saved := waitSaved(bob, direct.File.ID)
	sameFile(t, saved.Path, data)
	if filepath.Dir(saved.Path) != downloads {
		t.Fatalf("auto-saved at %s", saved.Path)
	}
	offeredTo(bob, open.File.ID)
	offeredTo(bob, over.File.ID)
	for _, e := range bob.Seen() {
		if s, ok := e.(*mmls.FileSaving); ok && (s.ID == open.File.ID || s.ID == over.File.ID) {
			t.Fatalf("auto-saved %s", s.Name)
		}
	}
}
