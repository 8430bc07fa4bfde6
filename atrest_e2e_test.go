package main

import (
	"bytes"
	"crypto/sha256"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// everyByte is every file's name and every byte under dir.
func everyByte(t testing.TB, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			all = append(all, d.Name()...)
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func passFile(t testing.TB, pass string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(path, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestE2EAtRestRevealsNothing plays the thief of a stopped laptop: alice
// runs with a passphrase, chats in an open room, makes a private one,
// saves a file and meets bob at his address; once she has stopped, no
// byte of her data directory, log included, holds a nick, a room's name,
// the text, the file's name or bob's address. bob, who chose no
// passphrase, holds them all (the test sees what it looks for). A wrong
// passphrase then exits non-zero in one line and changes no byte; the
// right one brings everything back.
func TestE2EAtRestRevealsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pf := passFile(t, "tides and timetables")
	alice := start(t, "alicenick7", filepath.Join(dir, "a"), "127.0.0.1:0", "--passphrase-file", pf)
	bob := start(t, "bobnick7", filepath.Join(dir, "b"), "127.0.0.1:0", "--peer", alice.listen)
	waitLink(t, alice, bob)
	waitLink(t, bob, alice)
	for _, p := range []*proc{alice, bob} {
		p.say("/join needleroom")
	}
	waitLinkIn(t, alice, bob, "needleroom")
	waitLinkIn(t, bob, alice, "needleroom")
	bob.say("/switch needleroom")
	bob.say("a needle message text")
	msg := alice.waitFor("bob's line", 30*time.Second, func(e headless.Record) bool { return e.Type == "message" && e.Text == "a needle message text" })
	path, data := writeRandom(t, t.TempDir(), "needlefile.txt", 3000)
	id := bob.sendFile(path)
	saved := t.TempDir()
	alice.saveFile(id, saved)
	sameBytes(t, alice.waitSaved(id, time.Minute).Path, data)
	// A download left unfinished: its holder gone, a partial file stays.
	path2, _ := writeRandom(t, t.TempDir(), "needlefile2.bin", 300000)
	id2 := bob.sendFile(path2)
	alice.waitFor("the second offer", 30*time.Second, func(e headless.Record) bool { return e.Type == "file" && e.ID == id2 })
	bob.quit()
	alice.saveFile(id2, saved)
	alice.say("/create needlepriv")
	alice.waitFor("the private room", 10*time.Second, func(e headless.Record) bool { return e.Type == "joined" && e.Room == "needlepriv" })
	alice.quit()
	if parts, _ := filepath.Glob(filepath.Join(alice.data, "files", "*")); len(parts) == 0 {
		t.Fatal("no partial file left: the test does not look at one")
	}

	// Names, texts, the address, and ids: bob's, the line's, the files'.
	needles := []string{"alicenick7", "bobnick7", "needleroom", "needlepriv", "needlefile", "needle message text", bob.listen,
		bob.id, msg.ID, id, id2}
	if got := everyByte(t, alice.data); len(got) < 1000 {
		t.Fatalf("alice's data directory holds %d bytes: nothing to look at", len(got))
	} else {
		for _, n := range needles {
			if bytes.Contains(got, []byte(n)) {
				t.Errorf("alice's data directory, sealed, shows %q", n)
			}
		}
	}
	plain := everyByte(t, bob.data)
	for _, n := range needles[:3] {
		if !bytes.Contains(plain, []byte(n)) {
			t.Errorf("bob's plain data directory lacks %q: the test does not see what it looks for", n)
		}
	}
	if _, err := os.Stat(filepath.Join(alice.data, "mmls-chat.log")); err != nil {
		t.Fatalf("alice's log: %v", err)
	}

	// The log reads back with the passphrase, not without.
	out, err := exec.Command(binary, "--show-log", "--data", alice.data, "--passphrase-file", pf).Output()
	if err != nil || !bytes.Contains(out, []byte("mmls")) {
		t.Fatalf("--show-log: %v\n%s", err, out)
	}

	// A wrong passphrase: one line, exit 1, not a byte changed.
	before := sha256.Sum256(everyByte(t, alice.data))
	cmd := exec.Command(binary, args("alicenick7", alice.data, "127.0.0.1:0", "--passphrase-file", passFile(t, "tides and timetable"))...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("a wrong passphrase: %v", err)
	}
	if msg := strings.TrimSpace(stderr.String()); strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "wrong passphrase") {
		t.Fatalf("a wrong passphrase says %q", msg)
	}
	// No passphrase at all (headless, nobody to ask): a usage error.
	if err := exec.Command(binary, args("alicenick7", alice.data, "127.0.0.1:0")...).Run(); err == nil {
		t.Fatal("sealed data opened without a passphrase")
	}
	if sha256.Sum256(everyByte(t, alice.data)) != before {
		t.Fatal("a refused start changed alice's data directory")
	}

	// The right one: rooms, history and peers back.
	again := launch(t, exec.Command(binary, args("alicenick7", alice.data, "127.0.0.1:0", "--passphrase-file", pf)...), "alicenick7", alice.data)
	hist := again.waitFor("the room's history", 10*time.Second, func(e headless.Record) bool { return e.Type == "history" && e.Room == "needleroom" })
	found := false
	for _, l := range hist.History {
		found = found || l.Text == "a needle message text"
	}
	if !found {
		t.Fatalf("the history after a restart: %+v", hist.History)
	}
	again.say("/rooms")
	rooms := again.waitFor("rooms", 10*time.Second, func(e headless.Record) bool { return e.Type == "rooms" })
	var names []string
	for _, r := range rooms.Rooms {
		names = append(names, r.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "needlepriv") {
		t.Fatalf("rooms after a restart: %v", names)
	}
	again.quit()
}

// TestE2EPlainStoreSealedAtStart: a plain data directory (made before
// this version, or headless without a passphrase) is sealed at the first
// start that gives one, and keeps its history.
func TestE2EPlainStoreSealedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := roomIn(t, dir, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	bob.say("before the seal")
	alice.waitMessages(30*time.Second, "before the seal")
	alice.quit()
	bob.quit()
	if !bytes.Contains(everyByte(t, alice.data), []byte("before the seal")) {
		t.Fatal("alice's plain store does not show the text: the test does not see what it looks for")
	}
	pf := passFile(t, "late but sure")
	again := launch(t, exec.Command(binary, args("alice", alice.data, "127.0.0.1:0", "--passphrase-file", pf)...), "alice", alice.data)
	hist := again.waitFor("history", 10*time.Second, func(e headless.Record) bool { return e.Type == "history" && e.Room == "lobby" })
	if len(hist.History) == 0 || hist.History[len(hist.History)-1].Text != "before the seal" {
		t.Fatalf("history after sealing: %+v", hist.History)
	}
	again.quit()
	if got := everyByte(t, alice.data); bytes.Contains(got, []byte("before the seal")) || bytes.Contains(got, []byte("alice")) {
		t.Fatal("the sealed store still shows the text or the nick")
	}
}

// TestE2EPassphraseInTheTerminal: in the terminal interface, the first
// start asks for a passphrase twice (two that differ are asked again),
// never showing it; /passphrase refuses a wrong current one and changes
// it with the right one; a start with the old one then says "wrong
// passphrase" in one line and exits 1; the new one brings the history
// back.
func TestE2EPassphraseInTheTerminal(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "alice")
	tt := terminalAsked(t, "alice", data)
	secret := func(s string) {
		tt.text(s)
		if screen := tt.screen(); strings.Contains(screen, s) {
			t.Fatalf("a passphrase shows as it is typed:\n%s", screen)
		}
		tt.keys("Enter")
	}
	tt.wait("new passphrase:", 20*time.Second)
	secret("river one")
	tt.wait("again:", 10*time.Second)
	secret("river two")
	tt.wait("The two differ", 10*time.Second)
	secret("river stones")
	tt.wait("again:", 10*time.Second)
	secret("river stones")
	tt.wait("alice (", 20*time.Second)
	tt.text("a line to keep")
	tt.keys("Enter")
	tt.text("/passphrase")
	tt.keys("Enter")
	tt.wait("current passphrase:", 10*time.Second)
	secret("not the one")
	tt.wait("new passphrase:", 10*time.Second)
	secret("tide pools")
	tt.wait("new passphrase again:", 10*time.Second)
	secret("tide pools")
	tt.wait("not the current passphrase", 20*time.Second)
	tt.text("/passphrase")
	tt.keys("Enter")
	tt.wait("current passphrase:", 10*time.Second)
	secret("river stones")
	secret("tide pools")
	secret("tide pools")
	tt.wait("passphrase changed", 20*time.Second)
	tt.text("/quit")
	tt.keys("Enter")
	tt.wait(exitedLine+"0", 20*time.Second)

	old := terminalAsked(t, "alice", data)
	old.wait("is encrypted", 20*time.Second)
	old.text("river stones")
	old.keys("Enter")
	if screen := old.wait(exitedLine+"1", 20*time.Second); !strings.Contains(screen, "wrong passphrase") {
		t.Fatalf("the old passphrase after a change:\n%s", screen)
	}
	again := terminalAsked(t, "alice", data)
	again.wait("is encrypted", 20*time.Second)
	again.text("tide pools")
	again.keys("Enter")
	again.wait("a line to keep", 20*time.Second)
}
