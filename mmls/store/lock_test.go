package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The package's tests run on plain stores; TestSealedStoreSuite runs them
// all again, in a child process, on sealed ones (MMLS_STORE_SEALED=1).
var sealedSuite = os.Getenv("MMLS_STORE_SEALED") == "1"

const testPass = "correct horse battery staple"

func init() {
	// Wraps made by tests cost little; the record says its own cost, and
	// TestDefaultKDFUnlocks checks the real one.
	kdf = KDF{Time: 1, MemoryKiB: 64, Threads: 1}
}

// openMode opens the store in dir, sealed or plain, or fails the test.
func openMode(t testing.TB, dir string, sealed bool) *Store {
	t.Helper()
	open := Open
	if sealed {
		open = func(dir string) (*Store, error) { return OpenSealed(dir, []byte(testPass)) }
	}
	s, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openAny(dir string) (*Store, error) {
	if sealedSuite {
		return OpenSealed(dir, []byte(testPass))
	}
	return Open(dir)
}

func TestSealedStoreSuite(t *testing.T) {
	if sealedSuite {
		t.Skip("running inside the sealed suite")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run", "^Test", "-test.skip", "^(TestSealedStoreSuite|TestMigrationSurvivesSIGKILL)$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MMLS_STORE_SEALED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the store's tests on sealed stores: %v\n%s", err, out)
	}
}

// dirBytes is every byte of every file under dir.
func dirBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
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

// fillNeedles writes one of everything a store keeps, each carrying a
// needle a thief would look for.
func fillNeedles(t *testing.T, s *Store) (needles []string, seed []byte) {
	t.Helper()
	seed = bytes.Repeat([]byte{0x5e, 0xed}, 16)
	secret := bytes.Repeat([]byte{0x5c, 0x2e}, 16)
	must(t, s.SetIdentity(Identity{Seed: seed, Nick: "needle-nick"}))
	must(t, s.JoinRoom(Room{Name: "needle-room", JoinedAt: t0}))
	must(t, s.JoinRoom(Room{Name: "needle-private", JoinedAt: t0, Private: true, Secret: secret}))
	must(t, s.Vouch("needle-private", "needle-peer-id"))
	must(t, s.AddInvite(Invite{Room: "needle-invite", Secret: secret, From: "needle-peer-id", At: t0}))
	if _, err := s.AddMessage(Message{ID: "needle-msgid", Room: "needle-room", FromID: "needle-peer-id", FromNick: "needle-bob", Text: "needle text", SentAt: t0}); err != nil {
		t.Fatal(err)
	}
	// A second room's history: a copy must go on past the first sub-bucket.
	if _, err := s.AddMessage(Message{ID: "needle-msgid2", Room: "needle-private", FromID: "needle-peer-id", FromNick: "needle-bob", Text: "needle secret text", SentAt: t0}); err != nil {
		t.Fatal(err)
	}
	must(t, s.AddOutgoing(Outgoing{ID: "needle-out", Room: "needle-room", Text: "needle outgoing", SentAt: t0, To: []string{"needle-peer-id"},
		Sealed: []byte("needle envelope")}, "me", "needle-nick"))
	must(t, s.Kick("needle-room", Kick{Peer: "needle-kicked", At: t0}))
	must(t, s.SetPin("needle-pinned", "needle-peer-id"))
	must(t, s.SawPeers([]KnownPeer{{ID: "needle-peer-id", Nick: "needle-bob", Addr: "192.0.2.77:7447", Seen: t0}}))
	must(t, s.SetSetting(SettingRead+"needle-room", "needle-msgid"))
	must(t, s.AddNotes([]Note{{Room: "needle-room", At: t0, Kind: NoteMember, Nick: "needle-note"}}))
	must(t, s.AddAlert(Alert{Kind: "fork", Room: "needle-room", Detail: "needle alert", At: t0}))
	must(t, s.PutFile(File{ID: "needle-file-id", Room: "needle-room", FromNick: "needle-bob", Offer: []byte("needle offer key"), State: FileOffered, DestName: "needle-file.pdf"}))
	if _, err := s.Hold(HeldMessage{Room: "needle-room", Author: "needle-author", ID: "needle-held", SentAt: t0, HeldAt: t0, Envelope: []byte("needle held envelope")},
		HoldLimits{PerAuthor: 10, PerAuthorBytes: 1 << 20, PerRoom: 10, PerRoomBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	must(t, s.PutPeerAcks("needle-room", "needle-peer-id", []byte("needle ack")))
	// Key material raw, in hex and as JSON writes it (base64).
	needles = []string{"needle", "192.0.2.77", base64.StdEncoding.EncodeToString(seed), base64.StdEncoding.EncodeToString(secret),
		string(seed), string(secret), hex.EncodeToString(seed), hex.EncodeToString(secret)}
	return needles, seed
}

func findNeedles(all []byte, needles []string) []string {
	var found []string
	for _, n := range needles {
		if bytes.Contains(all, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

// TestSealedStoreRevealsNothing plays the thief of a stopped laptop: the
// data directory of a sealed store holds none of what was written, nor
// the data key; the same directory unsealed holds all of it (the test
// sees what it looks for).
func TestSealedStoreRevealsNothing(t *testing.T) {
	t.Parallel()
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprint("sealed=", sealed), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openMode(t, dir, sealed)
			needles, _ := fillNeedles(t, s)
			if sealed {
				for _, k := range [][]byte{s.lock.dataKey, s.keys.name, s.keys.log, []byte(testPass)} {
					needles = append(needles, string(k), hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k))
				}
			}
			s.Close()
			found := findNeedles(dirBytes(t, dir), needles)
			if sealed && len(found) > 0 {
				t.Fatalf("a thief finds %q in the sealed data directory", found)
			}
			if !sealed && !slices.Equal(found, needles[:4]) {
				t.Fatalf("the plain store shows %q of %q: the test does not see what it looks for", found, needles)
			}
		})
	}
}

// TestWrongPassphrase: a wrong passphrase is refused and changes no byte;
// the right one gives everything back; a plain open of a sealed store is
// refused too.
func TestWrongPassphrase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	fillNeedles(t, s)
	s.Close()
	before := sha256.Sum256(dirBytes(t, dir))
	if _, err := OpenSealed(dir, []byte("Correct horse battery staple")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("a wrong passphrase: %v", err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrSealed) {
		t.Fatalf("a sealed store opened without its passphrase: %v", err)
	}
	if st, err := Inspect(dir); err != nil || st != StateSealed {
		t.Fatalf("inspect: %v %v", st, err)
	}
	if sha256.Sum256(dirBytes(t, dir)) != before {
		t.Fatal("a refused open changed the data directory")
	}
	s, err = OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkNeedles(t, s)
}

// checkNeedles reads back what fillNeedles wrote.
func checkNeedles(t *testing.T, s *Store) {
	t.Helper()
	id, err := s.Identity()
	if err != nil || id.Nick != "needle-nick" {
		t.Fatalf("identity: %+v %v", id, err)
	}
	rooms, _ := s.Rooms()
	if len(rooms) != 2 || rooms[0].Name != "needle-private" || !rooms[0].Private || rooms[1].Name != "needle-room" {
		t.Fatalf("rooms: %+v", rooms)
	}
	if h, _ := s.History("needle-room", 0); len(h) != 2 || h[0].Text != "needle text" || h[1].Text != "needle outgoing" {
		t.Fatalf("history: %+v", h)
	}
	if h, _ := s.History("needle-private", 0); len(h) != 1 || h[0].Text != "needle secret text" {
		t.Fatalf("the second room's history: %+v", h)
	}
	if out, _ := s.Outbox(); len(out) != 1 || string(out[0].Sealed) != "needle envelope" {
		t.Fatalf("outbox: %+v", out)
	}
	if p, _ := s.KnownPeers(); len(p) != 1 || p[0].Addr != "192.0.2.77:7447" || p[0].ID != "needle-peer-id" {
		t.Fatalf("known peers: %+v", p)
	}
	if v, _ := s.Setting(SettingRead + "needle-room"); v != "needle-msgid" {
		t.Fatalf("setting: %q", v)
	}
	if h, _ := s.HeldIn("needle-room"); len(h) != 1 || string(h[0].Envelope) != "needle held envelope" || h[0].Author != "needle-author" {
		t.Fatalf("held: %+v", h)
	}
	if r, _ := s.HeldRooms(); !slices.Equal(r, []string{"needle-room"}) {
		t.Fatalf("held rooms: %q", r)
	}
	if k, _ := s.Kicked("needle-room"); len(k) != 1 || k[0].Peer != "needle-kicked" {
		t.Fatalf("kicks: %+v", k)
	}
	if n, _ := s.Notes("needle-room"); len(n) != 1 || n[0].Nick != "needle-note" {
		t.Fatalf("notes: %+v", n)
	}
	if inv, _ := s.Invitations("needle-invite"); len(inv) != 1 {
		t.Fatalf("invitations: %+v", inv)
	}
	if has, _ := s.HasMessage("needle-room", "needle-peer-id", "needle-msgid"); !has {
		t.Fatal("the dedupe key is lost")
	}
}

// TestMigrationSealsAPlainStore: a plain store sealed at the first start
// with a passphrase keeps everything, and the file holds no needle after.
func TestMigrationSealsAPlainStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	needles, _ := fillNeedles(t, s)
	must(t, s.ChoosePlain(true))
	s.Close()
	if st, _ := Inspect(dir); st != StatePlainChosen {
		t.Fatalf("a plain store, its choice recorded: %v", st)
	}
	s, err = OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	checkNeedles(t, s)
	if !s.Sealed() {
		t.Fatal("not sealed")
	}
	s.Close()
	if found := findNeedles(dirBytes(t, dir), needles); len(found) > 0 {
		t.Fatalf("after sealing the directory still shows %q", found)
	}
	if st, _ := Inspect(dir); st != StateSealed {
		t.Fatalf("after sealing: %v", st)
	}
}

// TestChangePassphrase: the data key is re-wrapped; the old passphrase no
// longer opens the store, the new one does, and a wrong "old" one
// changes nothing.
func TestChangePassphrase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	fillNeedles(t, s)
	if err := s.ChangePassphrase([]byte("not it"), []byte("new one")); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("a change with the wrong passphrase: %v", err)
	}
	if err := s.ChangePassphrase([]byte(testPass), nil); err == nil {
		t.Fatal("an empty new passphrase taken")
	}
	oldKey := bytes.Clone(s.lock.dataKey)
	var oldWrap []byte
	must(t, s.view(func(tx *Tx) error { oldWrap = bytes.Clone(tx.Bucket(bMeta).Get([]byte(metaSeal))); return nil }))
	must(t, s.ChangePassphrase([]byte(testPass), []byte("new one")))
	checkNeedles(t, s) // it works on before the close
	must(t, s.Close())
	if _, err := OpenSealed(dir, []byte(testPass)); !errors.Is(err, ErrPassphrase) {
		t.Fatalf("the old passphrase after a change: %v", err)
	}
	// A new data key since the close, and no page keeps the old wrap.
	raw, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(raw, oldWrap) {
		t.Fatal("the old wrapped key is still in the file: the old passphrase opens it")
	}
	s, err = OpenSealed(dir, []byte("new one"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s.lock.dataKey, oldKey) {
		t.Fatal("the data key is the one the old passphrase wrapped")
	}
	checkNeedles(t, s)
	// A crash before the close: the next start makes the new data key.
	key2 := bytes.Clone(s.lock.dataKey)
	must(t, s.ChangePassphrase([]byte("new one"), []byte("third")))
	s.db.Close() // killed: Close's re-key never runs
	s, err = OpenSealed(dir, []byte("third"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if bytes.Equal(s.lock.dataKey, key2) {
		t.Fatal("after a crash, the start did not make a new data key")
	}
	if due, _ := s.rekeyDue(); due {
		t.Fatal("a re-key still due after it was made")
	}
	checkNeedles(t, s)
	p, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.ChangePassphrase(nil, []byte("x")); !errors.Is(err, ErrPlain) {
		t.Fatalf("a plain store's passphrase changed: %v", err)
	}
}

// TestTamperedSealedValue: a value altered in the file, or moved under
// another key, is refused as damage, never taken.
func TestTamperedSealedValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must(t, s.JoinRoom(Room{Name: "a", JoinedAt: t0}))
	must(t, s.JoinRoom(Room{Name: "b", JoinedAt: t0, Private: true, Secret: []byte("s")}))
	must(t, s.tx(func(b *Bucket) error {
		ka, kb := b.storedKey([]byte("a")), b.storedKey([]byte("b"))
		va := bytes.Clone(b.b.Get(ka))
		return b.b.Put(kb, va) // a's record where b's was
	}))
	if _, err := s.Rooms(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a record moved under another key: %v", err)
	}
	must(t, s.tx(func(b *Bucket) error {
		kb := b.storedKey([]byte("b"))
		v := bytes.Clone(b.b.Get(kb))
		v[len(v)-1] ^= 1
		return b.b.Put(kb, v)
	}))
	if _, err := s.Rooms(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("an altered record: %v", err)
	}
}

func (s *Store) tx(f func(rooms *Bucket) error) error {
	return s.update(func(tx *Tx) error { return f(tx.Bucket(bRooms)) })
}

// TestParseWrapBounds: a wrapped key record that asks for absurd work or
// has the wrong sizes is damage, not a passphrase question.
func TestParseWrapBounds(t *testing.T) {
	t.Parallel()
	good := wrapKey([]byte("p"), make([]byte, 32), KDF{Time: 1, MemoryKiB: 64, Threads: 1})
	if _, err := parseWrap(good.marshal()); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]wrapRecord{
		"too much memory": {kdf: KDF{1, maxMemoryKiB + 1, 1}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped},
		"no passes":       {kdf: KDF{0, 64, 1}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped},
		"no threads":      {kdf: KDF{1, 64, 0}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped},
		"too many passes": {kdf: KDF{maxTime + 1, 64, 1}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped},
		"too many lanes":  {kdf: KDF{1, 64, maxThreads + 1}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped},
		"short salt":      {kdf: good.kdf, salt: good.salt[:8], nonce: good.nonce, wrapped: good.wrapped},
		"short key":       {kdf: good.kdf, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped[:40]},
	} {
		if _, err := parseWrap(w.marshal()); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	atBounds := wrapRecord{kdf: KDF{maxTime, maxMemoryKiB, maxThreads}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped}
	if _, err := parseWrap(atBounds.marshal()); err != nil {
		t.Errorf("a record at the bounds refused: %v", err)
	}
	low := wrapRecord{kdf: KDF{1, 8, 1}, salt: good.salt, nonce: good.nonce, wrapped: good.wrapped}
	if _, err := parseWrap(low.marshal()); err != nil {
		t.Errorf("a record at the lowest cost refused: %v", err)
	}
	if _, err := parseWrap(append(good.marshal(), 0)); !errors.Is(err, ErrCorrupt) {
		t.Error("trailing bytes taken")
	}
}

// TestDefaultKDFUnlocks: the cost new stores are made with is the one
// stated, and unlocks.
func TestDefaultKDFUnlocks(t *testing.T) {
	t.Parallel()
	if DefaultKDF != (KDF{Time: 3, MemoryKiB: 64 << 10, Threads: 4}) {
		t.Fatalf("DefaultKDF is %+v; the docs state 3 passes, 64 MiB, 4 lanes", DefaultKDF)
	}
	w := wrapKey([]byte("p"), bytes.Repeat([]byte{1}, 32), DefaultKDF)
	w2, err := parseWrap(w.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if k, err := w2.unwrap([]byte("p")); err != nil || !bytes.Equal(k, bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("unwrap: %v", err)
	}
}

// BenchmarkUnlock is the start-up's cost of a passphrase.
func BenchmarkUnlock(b *testing.B) {
	w := wrapKey([]byte("p"), make([]byte, 32), DefaultKDF)
	for b.Loop() {
		if _, err := w.unwrap([]byte("p")); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMigrationSurvivesSIGKILL kills a process sealing a plain store at
// several points (before it starts, while the sealed copy grows, after
// it ends) and then opens the store with the passphrase: everything is
// there, whatever the point.
func TestMigrationSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv("MMLS_SEAL_DIR"); dir != "" {
		s, err := OpenSealed(dir, []byte(testPass))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s.Close()
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("-short: no child processes")
	}
	t.Parallel()
	const lines = 4000
	master := t.TempDir()
	s, err := Open(master)
	if err != nil {
		t.Fatal(err)
	}
	b := begin(t, s)
	for i := range lines {
		if _, err := b.AddMessage(Message{ID: fmt.Sprint("m", i), Room: "lobby", FromID: "bob", Text: strings.Repeat("x", 200), SentAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	must(t, b.Commit())
	s.Close()
	master = filepath.Join(master, FileName)
	for _, when := range []string{"at once", "copy begun", "copy grown", "after the end"} {
		t.Run(when, func(t *testing.T) {
			dir := t.TempDir()
			raw, err := os.ReadFile(master)
			if err != nil {
				t.Fatal(err)
			}
			must(t, os.WriteFile(filepath.Join(dir, FileName), raw, 0o600))
			cmd := exec.Command(os.Args[0], "-test.run", "^TestMigrationSurvivesSIGKILL$")
			cmd.Env = append(os.Environ(), "MMLS_SEAL_DIR="+dir)
			must(t, cmd.Start())
			tmp := filepath.Join(dir, FileName+sealingExt)
			deadline := time.Now().Add(time.Minute)
			var exited chan error
			switch when {
			case "copy begun", "copy grown":
				min := int64(1)
				if when == "copy grown" {
					min = int64(len(raw)) / 4
				}
				for time.Now().Before(deadline) {
					if fi, err := os.Stat(tmp); err == nil && fi.Size() >= min {
						break
					}
					if st, _ := Inspect(dir); st == StateSealed {
						break // it finished first: a valid point too
					}
					time.Sleep(time.Millisecond) // polling a file another process writes
				}
			case "after the end":
				exited = make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				select {
				case err := <-exited:
					if err != nil {
						t.Fatalf("the sealing process: %v", err)
					}
				case <-time.After(time.Minute):
					t.Fatal("the sealing process did not end")
				}
			}
			if exited == nil {
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
			}
			s, err := OpenSealed(dir, []byte(testPass))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			h, err := s.History("lobby", 0)
			if err != nil || len(h) != lines {
				t.Fatalf("after a kill %s: %d lines, %v", when, len(h), err)
			}
			if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the unfinished copy is left: %v", err)
			}
		})
	}
}

// TestSealedLog: a sealed log shows a thief no line, gives its lines back
// with the key, empties a plain log it replaces, and is refused without
// the key; a line cut short by a crash ends it.
func TestSealedLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	must(t, os.WriteFile(path, []byte("needle from the plain days\n"), 0o600))
	key := bytes.Repeat([]byte{3}, 32)
	l, err := OpenLog(path, key, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("needle one\n"))
	l.Write([]byte("needle two\n"))
	l.Close()
	l, err = OpenLog(path, key, true) // appends, keeps what was sealed
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("needle three\n"))
	l.Close()
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("needle")) {
		t.Fatalf("the sealed log shows a line: %q", raw)
	}
	must(t, os.WriteFile(path, append(raw, 0, 0, 0, 90, 1, 2), 0o600)) // a record cut short
	var out bytes.Buffer
	must(t, ReadLog(path, key, &out))
	if out.String() != "needle one\nneedle two\nneedle three\n" {
		t.Fatalf("read back: %q", out.String())
	}
	// The next start cuts the torn record off before it appends.
	l, err = OpenLog(path, key, true)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("needle four\n"))
	l.Close()
	out.Reset()
	must(t, ReadLog(path, key, &out))
	if out.String() != "needle one\nneedle two\nneedle three\nneedle four\n" {
		t.Fatalf("after a torn record, read back: %q", out.String())
	}
	// A file the user names (--log) is never emptied, nor changed.
	theirs := filepath.Join(t.TempDir(), "notes.txt")
	must(t, os.WriteFile(theirs, []byte("my own notes\n"), 0o644))
	if _, err := OpenLog(theirs, key, false); err == nil {
		t.Fatal("a user's file taken as the sealed log")
	}
	if b, _ := os.ReadFile(theirs); string(b) != "my own notes\n" {
		t.Fatalf("a user's file changed: %q", b)
	}
	if fi, _ := os.Stat(theirs); fi.Mode().Perm() != 0o644 {
		t.Fatalf("a user's file's mode changed: %v", fi.Mode())
	}
	if l, err := OpenLog(os.DevNull, key, false); err != nil {
		t.Fatalf("--log %s: %v", os.DevNull, err)
	} else {
		l.Write([]byte("into nothing\n"))
		l.Close()
	}
	if err := ReadLog(path, nil, &out); err == nil {
		t.Fatal("a sealed log read without its key")
	}
	out.Reset()
	if err := ReadLog(path, bytes.Repeat([]byte{4}, 32), &out); err != nil || strings.Contains(out.String(), "needle") {
		t.Fatalf("read with another key: %q %v", out.String(), err)
	}
}

// BenchmarkStoreOps is what sealing adds to the store's work per
// delivery: a received message stored with its dedupe key and held to
// hand on, one acknowledgement, inside one batch, plain and sealed.
func BenchmarkStoreOps(b *testing.B) {
	for _, sealed := range []bool{false, true} {
		b.Run(fmt.Sprint("sealed=", sealed), func(b *testing.B) {
			dir := b.TempDir()
			s := openMode(b, dir, sealed)
			defer s.Close()
			s.SetNoSync(true)
			author := strings.Repeat("ab", 32)
			lim := HoldLimits{PerAuthor: 1000, PerAuthorBytes: 1 << 30, PerRoom: 1000, PerRoomBytes: 1 << 30}
			i := 0
			for b.Loop() {
				bt, err := s.Begin()
				if err != nil {
					b.Fatal(err)
				}
				id := fmt.Sprintf("%032x", i)
				i++
				if _, err := bt.AddMessage(Message{ID: id, Room: "lobby", FromID: author, FromNick: "bob", Text: strings.Repeat("x", 100), SentAt: t0}); err != nil {
					b.Fatal(err)
				}
				if _, err := bt.Hold(HeldMessage{Room: "lobby", Author: author, ID: id, SentAt: t0.Add(time.Duration(i)), HeldAt: t0, Envelope: make([]byte, 400)}, lim); err != nil {
					b.Fatal(err)
				}
				must(b, bt.PutAckEntry("lobby", author, make([]byte, 40)))
				must(b, bt.Commit())
			}
		})
	}
}

// TestSealedKeysKeepPlainOrder: on a sealed store a prefix scan finds
// what it finds on a plain one, even beside a whole key equal to the
// prefix; and one part is a different pseudonym in each bucket.
func TestSealedKeysKeepPlainOrder(t *testing.T) {
	t.Parallel()
	for _, sealed := range []bool{false, true} {
		dir := t.TempDir()
		s := openMode(t, dir, sealed)
		must(t, s.update(func(tx *Tx) error {
			b := tx.Bucket(bSettings)
			for _, k := range []string{"a", "a\x00x", "a\x00y", "ab"} {
				if err := b.Put([]byte(k), []byte(k)); err != nil {
					return err
				}
			}
			return nil
		}))
		var got []string
		must(t, s.view(func(tx *Tx) error {
			c := tx.Bucket(bSettings).Cursor()
			for k, _ := c.Seek([]byte("a\x00")); k != nil && bytes.HasPrefix(k, []byte("a\x00")); k, _ = c.Next() {
				got = append(got, string(k))
			}
			return nil
		}))
		sort.Strings(got)
		if !slices.Equal(got, []string{"a\x00x", "a\x00y"}) {
			t.Errorf("sealed %v: the scan of a\\x00 found %q", sealed, got)
		}
		if sealed {
			must(t, s.view(func(tx *Tx) error {
				if bytes.Equal(tx.Bucket(bMembers).storedKey([]byte("peer")), tx.Bucket(bKnown).storedKey([]byte("peer"))) {
					t.Error("one peer is the same pseudonym in two buckets")
				}
				return nil
			}))
		}
		s.Close()
	}
}

// TestSealedLogRecordsKeepTheirPlace: a record deleted from a sealed log
// is noticed: what follows it no longer opens.
func TestSealedLogRecordsKeepTheirPlace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	key := bytes.Repeat([]byte{5}, 32)
	l, err := OpenLog(path, key, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"one\n", "two\n", "three\n"} {
		l.Write([]byte(line))
	}
	l.Close()
	raw, _ := os.ReadFile(path)
	first := len(logMagic) + 4 + int(binary.BigEndian.Uint32(raw[len(logMagic):]))
	second := first + 4 + int(binary.BigEndian.Uint32(raw[first:]))
	must(t, os.WriteFile(path, append(raw[:first:first], raw[second:]...), 0o600)) // "two" taken out
	var out bytes.Buffer
	must(t, ReadLog(path, key, &out))
	if got := out.String(); !strings.HasPrefix(got, "one\n(a log record that does not open") || strings.Contains(got, "three") {
		t.Fatalf("a log missing a record reads %q", got)
	}
}

// TestHoldBoundsKeepTheOldestOut: held messages over an author's or a
// room's bound go oldest first (the most held author's, for the room), on
// plain and sealed stores alike (the sealed suite runs it again).
func TestHoldBoundsKeepTheOldestOut(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir())
	lim := HoldLimits{PerAuthor: 2, PerAuthorBytes: 1 << 20, PerRoom: 3, PerRoomBytes: 1 << 20}
	hold := func(author, id string, minutes int) {
		t.Helper()
		if _, err := s.Hold(HeldMessage{Room: "lobby", Author: author, ID: id, SentAt: t0.Add(time.Duration(minutes) * time.Minute),
			HeldAt: t0, Envelope: []byte(id)}, lim); err != nil {
			t.Fatal(err)
		}
	}
	hold("bob", "b3", 180) // held out of order: the send time (to the hour, sealed) decides
	hold("bob", "b1", 110)
	hold("bob", "b2", 130) // bob over 2: b1 goes
	hold("carol", "c1", 60)
	hold("dave", "d1", 60) // the room over 3: bob's oldest (b2) goes
	held, err := s.HeldIn("lobby")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range held {
		ids = append(ids, h.ID)
	}
	sort.Strings(ids)
	if !slices.Equal(ids, []string{"b3", "c1", "d1"}) {
		t.Fatalf("held %q, want b3 c1 d1", ids)
	}
	if n, size, _ := s.HeldTotals("lobby"); n != 3 || size != 6 {
		t.Fatalf("totals %d messages, %d bytes", n, size)
	}
	// An author's bound alone: the oldest goes, by the hour on a sealed
	// store (1:50 before 2:10, whatever the minutes).
	for _, h := range []struct {
		id      string
		minutes int
	}{{"e3", 180}, {"e1", 110}, {"e2", 130}} {
		if _, err := s.Hold(HeldMessage{Room: "dev", Author: "erin", ID: h.id, SentAt: t0.Add(time.Duration(h.minutes) * time.Minute),
			HeldAt: t0, Envelope: []byte(h.id)}, HoldLimits{PerAuthor: 2, PerAuthorBytes: 1 << 20, PerRoom: 10, PerRoomBytes: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	dev, err := s.HeldIn("dev")
	if err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, h := range dev {
		ids = append(ids, h.ID)
	}
	sort.Strings(ids)
	if !slices.Equal(ids, []string{"e2", "e3"}) {
		t.Fatalf("held in dev %q, want e2 e3", ids)
	}
	// A room's held messages dropped leave nothing of it behind.
	must(t, s.DropHeld("lobby"))
	must(t, s.DropHeld("dev"))
	must(t, s.view(func(tx *Tx) error {
		if k, _ := tx.Bucket(bHeld).b.Cursor().First(); k != nil {
			t.Errorf("a dropped room left %q in the held bucket", k)
		}
		return nil
	}))
}

// TestSealedHeldLayout: among held messages, the totals sort after every
// message and a scan of \xff finds them all, whatever their hashes.
func TestSealedHeldLayout(t *testing.T) {
	t.Parallel()
	s, err := OpenSealed(t.TempDir(), []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var totals []string
	must(t, s.update(func(tx *Tx) error {
		b, err := tx.Bucket(bHeld).CreateBucketIfNotExists([]byte("lobby"))
		if err != nil {
			return err
		}
		for i := range 20 {
			author := fmt.Sprint("author", i)
			totals = append(totals, totalsPrefix+author)
			if err := b.Put([]byte(totalsPrefix+author), make([]byte, 16)); err != nil {
				return err
			}
			if err := b.Put(heldKey(author, t0, "m"), []byte("x")); err != nil {
				return err
			}
		}
		return b.Put([]byte(totalsPrefix), make([]byte, 16))
	}))
	totals = append(totals, totalsPrefix)
	must(t, s.view(func(tx *Tx) error {
		c := tx.Bucket(bHeld).Bucket([]byte("lobby")).Cursor()
		messages := 0
		for k, _ := c.First(); k != nil && !bytes.HasPrefix(k, []byte(totalsPrefix)); k, _ = c.Next() {
			messages++
		}
		var found []string
		for k, _ := c.Seek([]byte(totalsPrefix)); k != nil && bytes.HasPrefix(k, []byte(totalsPrefix)); k, _ = c.Next() {
			found = append(found, string(k))
		}
		sort.Strings(found)
		sort.Strings(totals)
		if messages != 20 || !slices.Equal(found, totals) {
			t.Errorf("%d messages before the totals, totals found %d of %d", messages, len(found), len(totals))
		}
		return nil
	}))
}

// TestLogLinesAtTheBound: a line longer than a record may carry is cut to
// what one carries, and read back; an empty file a user names is taken.
func TestLogLinesAtTheBound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	key := bytes.Repeat([]byte{6}, 32)
	l, err := OpenLog(path, key, true)
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("x"), 2*maxLogRecord)
	if n, err := l.Write(long); err != nil || n != len(long) {
		t.Fatalf("a long line: %d, %v", n, err)
	}
	l.Write(nil) // an empty record, the smallest
	l.Close()
	if l, err = OpenLog(path, key, true); err != nil { // both records are whole: kept
		t.Fatal(err)
	}
	l.Write([]byte("after\n"))
	l.Close()
	var out bytes.Buffer
	must(t, ReadLog(path, key, &out))
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || len(lines[0]) != maxLogRecord-24-16 || lines[1] != "" || lines[2] != "after" {
		t.Fatalf("read back %d lines, the first of %d bytes: %q", len(lines), len(lines[0]), lines[1:])
	}
	// A record too short to hold a nonce and a tag is damage.
	short := filepath.Join(dir, "short")
	must(t, os.WriteFile(short, append([]byte(logMagic), 0, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), 0o600))
	if err := ReadLog(short, key, io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a record of 20 bytes: %v", err)
	}
	// A pipe (no regular file) named for the log gets sealed records.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pl, err := OpenLog(fmt.Sprintf("/dev/fd/%d", w.Fd()), key, false)
	if err != nil {
		t.Fatal(err)
	}
	pl.Write([]byte("needle in a pipe\n"))
	pl.Close()
	w.Close()
	if got, _ := io.ReadAll(r); len(got) == 0 || bytes.Contains(got, []byte("needle")) {
		t.Fatalf("into a pipe: %q", got)
	}
	empty := filepath.Join(dir, "empty")
	must(t, os.WriteFile(empty, nil, 0o644))
	if l, err := OpenLog(empty, key, false); err != nil {
		t.Fatalf("an empty file named for the log: %v", err)
	} else {
		l.Close()
	}
}

// TestInspectEmptyFile: a database file of no bytes (a crash at its very
// creation) is no store yet, and a sealed one is made there.
func TestInspectEmptyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, FileName), nil, 0o600))
	if st, err := Inspect(dir); err != nil || st != StateNone {
		t.Fatalf("an empty file: %v %v", st, err)
	}
	s, err := OpenSealed(dir, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if st, _ := Inspect(dir); st != StateSealed {
		t.Fatalf("after OpenSealed: %v", st)
	}
}
