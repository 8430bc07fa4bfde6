package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// writeRandom writes n random bytes to a new file in dir.
func writeRandom(t testing.TB, dir, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// sendFile has p offer the file at path to its room; it returns the id.
func (p *proc) sendFile(path string) string {
	p.t.Helper()
	p.say("/send " + path)
	return p.waitFor("the offer of "+path, time.Minute, func(e headless.Record) bool {
		return e.Type == "file" && e.Mine && e.Name == filepath.Base(path)
	}).ID
}

// saveFile has p fetch file id into dir (once the offer is there).
func (p *proc) saveFile(id, dir string) {
	p.t.Helper()
	p.waitFor("the offer of "+id, 30*time.Second, func(e headless.Record) bool { return e.Type == "file" && e.ID == id })
	p.say("/save " + id[:8] + " " + dir + "/")
	p.waitFor("saving "+id, 10*time.Second, func(e headless.Record) bool { return e.Type == "saving" && e.ID == id })
}

func (p *proc) waitSaved(id string, timeout time.Duration) headless.Record {
	p.t.Helper()
	return p.waitFor("file "+id+" saved", timeout, func(e headless.Record) bool { return e.Type == "saved" && e.ID == id })
}

func sameBytes(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes that are not the %d sent", path, len(got), len(want))
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
}

// TestE2EFileSharing: a 24 MiB file sent, saved (bytes equal, progress
// reported); the sender quits, and a third member gets it from the second.
func TestE2EFileSharing(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	path, data := writeRandom(t, t.TempDir(), "field-notes.bin", 24<<20)
	id := alice.sendFile(path)
	bobDir := t.TempDir()
	bob.saveFile(id, bobDir)
	saved := bob.waitSaved(id, 2*time.Minute)
	sameBytes(t, saved.Path, data)
	if filepath.Dir(saved.Path) != bobDir {
		t.Fatalf("saved at %s, not in %s", saved.Path, bobDir)
	}
	var last int64 = -1
	for _, e := range bob.eventsOf("progress") {
		if e.Done == nil || *e.Done < last || *e.Done > e.Total || e.Total != int64(len(data)) {
			t.Fatalf("progress %v of %d after %d", e.Done, e.Total, last)
		}
		last = *e.Done
	}
	if last != int64(len(data)) {
		t.Fatalf("the last progress said %d of %d", last, len(data))
	}
	alice.quit()
	carolDir := t.TempDir()
	carol.saveFile(id, carolDir)
	sameBytes(t, carol.waitSaved(id, 2*time.Minute).Path, data)
}

// eventsOf returns p's events of one type so far.
func (p *proc) eventsOf(typ string) []headless.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []headless.Record
	for _, e := range p.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestE2EFileResumesAfterKill: a download killed with SIGKILL half-way
// resumes from what it had made durable, and ends whole.
func TestE2EFileResumesAfterKill(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	path, data := writeRandom(t, t.TempDir(), "big.iso", 96<<20)
	id := alice.sendFile(path)
	dir := t.TempDir()
	bob.saveFile(id, dir)
	mid := bob.waitFor("progress half-way", time.Minute, func(e headless.Record) bool {
		return e.Type == "progress" && e.ID == id && e.Done != nil && *e.Done > 0 || e.Type == "saved"
	})
	bob.kill()
	if mid.Type == "saved" {
		t.Fatal("the whole file came before a progress report: nothing to resume (the machine is faster than this test assumes)")
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%s holds %s before the file is whole", dir, left[0].Name())
	}
	bob2 := start(t, "bob", bob.data, bob.listen, "--peer", alice.listen)
	first := bob2.waitFor("progress after the restart", time.Minute, func(e headless.Record) bool {
		return e.Type == "progress" && e.ID == id
	})
	if *first.Done < *mid.Done {
		t.Fatalf("resumed at %d bytes, but %d were reported durable before the kill", *first.Done, *mid.Done)
	}
	t.Logf("killed at %d of %d bytes, resumed at %d", *mid.Done, len(data), *first.Done)
	sameBytes(t, bob2.waitSaved(id, 2*time.Minute).Path, data)
}

// TestE2EHostileHolder: a member that serves damaged chunks (fault
// injection) cannot corrupt what another member saves: nothing appears
// until an honest holder serves the file, which is then whole.
func TestE2EHostileHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice := start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	cmd := exec.Command(binary, args("bob", filepath.Join(dir, "bob"), "127.0.0.1:0", "--peer", alice.listen)...)
	cmd.Env = append(os.Environ(), "MMLS_TEST_CORRUPT_CHUNKS=1")
	bob := launch(t, cmd, "bob", filepath.Join(dir, "bob"))
	carol := start(t, "carol", filepath.Join(dir, "carol"), "127.0.0.1:0", "--peer", alice.listen)
	for _, p := range []*proc{alice, bob, carol} {
		for _, q := range []*proc{alice, bob, carol} {
			if p != q {
				waitLink(t, p, q)
			}
		}
	}
	path, data := writeRandom(t, t.TempDir(), "photo.raw", 3<<20)
	id := alice.sendFile(path)
	bob.saveFile(id, t.TempDir())
	bob.waitSaved(id, time.Minute)
	alice.quit()
	carolDir := t.TempDir()
	carol.saveFile(id, carolDir)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(carol.logTail(200), "that its sender did not seal: discarded") {
		if time.Now().After(deadline) {
			t.Fatalf("carol never discarded bob's chunks\n%s", carol.logTail(40))
		}
		time.Sleep(20 * time.Millisecond) // polling the log file, with a deadline
	}
	if left, _ := os.ReadDir(carolDir); len(left) != 0 {
		t.Fatalf("with only a hostile holder, %s holds %s", carolDir, left[0].Name())
	}
	alice2 := start(t, "alice", alice.data, alice.listen, "--peer", carol.listen)
	_ = alice2
	sameBytes(t, carol.waitSaved(id, time.Minute).Path, data)
}

// TestE2ENonMemberSeesNoOffer: a peer connected to the sender but not in
// the room sees no offer, and cannot save the file by its id.
func TestE2ENonMemberSeesNoOffer(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	dir := t.TempDir()
	dave := start(t, "dave", filepath.Join(dir, "dave"), "127.0.0.1:0", "--room", "elsewhere", "--peer", alice.listen)
	path, _ := writeRandom(t, t.TempDir(), "payroll.xlsx", 100_000)
	id := alice.sendFile(path)
	bob.waitFor("the offer", 30*time.Second, func(e headless.Record) bool { return e.Type == "file" && e.ID == id })
	alice.say("/join elsewhere") // and text goes there from now on
	waitLinkIn(t, dave, alice, "elsewhere")
	path2, _ := writeRandom(t, t.TempDir(), "menu.txt", 100)
	id2 := alice.sendFile(path2)
	dave.waitFor("the second offer", 30*time.Second, func(e headless.Record) bool { return e.Type == "file" && e.ID == id2 })
	for _, e := range dave.eventsOf("file") {
		if e.ID == id {
			t.Fatal("dave, not in the lobby, saw its file offer")
		}
	}
	dave.say("/save " + id[:8])
	dave.waitFor("a refusal", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "error" && strings.Contains(e.Error, "no file "+id[:8])
	})
}
