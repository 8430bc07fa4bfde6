package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
// resumes from what it had made durable, and ends whole. bob reaches
// alice through a relay that passes half the file's size from her and
// then holds the rest back, so he is killed before he could have the
// whole file, however fast the machine (a kill on his first report of
// part of it could land after the rest had come: the first report, a
// quarter of a second in, said 92%).
func TestE2EFileResumesAfterKill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice := start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	const size = 96 << 20
	relay := newHalfRelay(t, alice.listen, size/2)
	// alice learns bob's port with his address as she sees it, the
	// relay's 127.0.0.1: listening on 127.0.0.3, he is reached through
	// the relay alone.
	bob := start(t, "bob", filepath.Join(dir, "bob"), "127.0.0.3:0", "--peer", relay.addr)
	waitLink(t, alice, bob)
	waitLink(t, bob, alice)
	path, data := writeRandom(t, t.TempDir(), "big.iso", size)
	id := alice.sendFile(path)
	saveDir := t.TempDir()
	bob.saveFile(id, saveDir)
	mid := bob.waitFor("progress", time.Minute, func(e headless.Record) bool {
		return e.Type == "progress" && e.ID == id && e.Done != nil && *e.Done > 0
	})
	bob.kill()
	if *mid.Done >= mid.Total {
		t.Fatalf("bob reported %d of %d bytes through a relay that passed %d", *mid.Done, mid.Total, relay.limit)
	}
	if left, _ := os.ReadDir(saveDir); len(left) != 0 {
		t.Fatalf("%s holds %s before the file is whole", saveDir, left[0].Name())
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

// halfRelay relays TCP connections to target, passing at most limit
// bytes from target in all; past that it holds what target sends.
type halfRelay struct {
	addr  string
	limit int64
}

func newHalfRelay(t *testing.T, target string, limit int64) *halfRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns sync.WaitGroup
	t.Cleanup(func() {
		close(done)
		l.Close()
		conns.Wait()
	})
	var left atomic.Int64
	left.Store(limit)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			conns.Add(2)
			go func() { // to target, all of it
				defer conns.Done()
				io.Copy(u, c)
				u.Close()
			}()
			go func() { // from target, up to what is left of the limit
				defer conns.Done()
				buf := make([]byte, 32<<10)
				for {
					n, err := u.Read(buf[:min(int64(len(buf)), max(left.Load(), 1))])
					if n > 0 && left.Add(-int64(n)) < 0 {
						<-done // the rest is held back
						break
					}
					if n > 0 {
						if _, err := c.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
			go func() { <-done; c.Close(); u.Close() }()
		}
	}()
	return &halfRelay{addr: l.Addr().String(), limit: limit}
}

// TestE2EFileSenderRestarts: the sender killed half-way through a
// transfer, then started again, serves the rest; what its old connection
// owed is asked again at once.
func TestE2EFileSenderRestarts(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	path, data := writeRandom(t, t.TempDir(), "survey.tar", 96<<20)
	id := alice.sendFile(path)
	bob.saveFile(id, t.TempDir())
	mid := bob.waitFor("progress half-way", time.Minute, func(e headless.Record) bool {
		return e.Type == "progress" && e.ID == id && e.Done != nil && *e.Done > 0 || e.Type == "saved"
	})
	alice.kill()
	if mid.Type == "saved" {
		t.Fatal("the whole file came before a progress report (the machine is faster than this test assumes)")
	}
	start(t, "alice", alice.data, alice.listen, "--peer", bob.listen)
	sameBytes(t, bob.waitSaved(id, 2*time.Minute).Path, data)
}

// TestE2EHostileHolder: a member that serves damaged chunks (fault
// injection) cannot corrupt what another member saves: nothing appears
// until an honest holder serves the file, which is then whole.
func TestE2EHostileHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	alice := start(t, "alice", filepath.Join(dir, "alice"), "127.0.0.1:0")
	// bob runs a build with fault injection (-tags mmlsfaults): the
	// shipped binary has no switch to serve damaged chunks.
	cmd := exec.Command(faultyBinary(t), args("bob", filepath.Join(dir, "bob"), "127.0.0.1:0", "--peer", alice.listen)...)
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

// BenchmarkFileTransfer sends a file of 100 MiB (and one of 1 GiB)
// between two processes on loopback and, in the same run, as much over a
// plain loopback TCP connection in this process, and reports:
//
//   - MB/s: from /save to the file saved and verified at the receiver;
//   - raw-MB/s, of-raw: plain TCP's rate (memory to memory), and the
//     transfer's share of it;
//   - raw-file-MB/s, of-raw-file: plain TCP copying the same file from
//     disk to a new file synced to disk, as a transfer must, and the
//     share of it;
//   - chat-p50-ms, chat-max-ms: the latency of chat lines the sender
//     writes (every 20 ms) while it serves the file, on the same
//     connection as the chunks.
//
// Run: go test -run='^$' -bench=FileTransfer/100MiB -benchtime=1x .
// (FileTransfer/1GiB needs 3 GiB of free disk for a minute).
func BenchmarkFileTransfer(b *testing.B) {
	for _, size := range []int{100 << 20, 1 << 30} {
		name := fmt.Sprintf("%dMiB", size>>20)
		if size >= 1<<30 {
			name = fmt.Sprintf("%dGiB", size>>30)
		}
		b.Run(name, func(b *testing.B) { benchFile(b, size) })
	}
}

func benchFile(b *testing.B, size int) {
	for i := 0; i < b.N; i++ {
		nodes := room(b, "alice", "bob")
		alice, bob := nodes[0], nodes[1]
		path, _ := writeRandom(b, b.TempDir(), "payload.bin", size)
		id := alice.sendFile(path)
		bob.waitFor("the offer", time.Minute, func(e headless.Record) bool { return e.Type == "file" && e.ID == id })
		done := make(chan struct{})
		chatted := make(chan int)
		go func() {
			n := 0
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					chatted <- n
					return
				case <-tick.C:
					fmt.Fprintf(alice.stdin, "chat %d\n", n)
					n++
				}
			}
		}()
		begin := time.Now()
		bob.say("/save " + id[:8] + " " + b.TempDir() + "/")
		bob.waitSaved(id, 5*time.Minute)
		elapsed := time.Since(begin)
		close(done)
		n := <-chatted
		var texts []string
		for k := range n {
			texts = append(texts, fmt.Sprintf("chat %d", k))
		}
		bob.waitMessages(time.Minute, texts...)
		lat := latencies(nodes, func(text string) bool { return strings.HasPrefix(text, "chat ") })
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		alice.quit() // a clean exit writes the CPU profiles (MMLS_CPUPROFILE)
		bob.quit()
		raw := rawTCP(b, size, "", "")
		rawFile := rawTCP(b, size, path, filepath.Join(b.TempDir(), "copy"))
		rate := float64(size) / 1e6 / elapsed.Seconds()
		b.ReportMetric(rate, "MB/s")
		b.ReportMetric(raw, "raw-MB/s")
		b.ReportMetric(rate/raw, "of-raw")
		b.ReportMetric(rawFile, "raw-file-MB/s")
		b.ReportMetric(rate/rawFile, "of-raw-file")
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "chat-p50-ms")
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "chat-max-ms")
		}
	}
}

// rawTCP is plain TCP's rate on loopback, in MB/s, for size bytes: from
// memory to memory, or (src and dst given) from the file src to the new
// file dst, synced.
func rawTCP(b *testing.B, size int, src, dst string) float64 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		var w io.Writer = io.Discard
		var f *os.File
		if dst != "" {
			if f, err = os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
				got <- 0
				return
			}
			defer f.Close()
			w = f
		}
		n, _ := io.Copy(w, c)
		if f != nil && f.Sync() != nil {
			n = 0
		}
		got <- n
	}()
	begin := time.Now()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	if src != "" {
		f, err := os.Open(src)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(struct{ io.Writer }{c}, f) // no sendfile: a read and a write, as a transfer does
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	} else {
		buf := make([]byte, 256<<10)
		for sent := 0; sent < size; sent += len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	c.Close()
	if n := <-got; n != int64(size) {
		b.Fatalf("raw TCP moved %d of %d bytes", n, size)
	}
	return float64(size) / 1e6 / time.Since(begin).Seconds()
}

// TestE2EFileWhoseSenderDeletedIt: alice deletes a file she offered. carol
// gets it all the same from bob, who saved it; a file nobody saved says
// plainly that nobody online has it (instead of staying at 0%), and is
// fetched once it is back where its sender keeps it.
func TestE2EFileWhoseSenderDeletedIt(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob", "carol")
	alice, bob, carol := nodes[0], nodes[1], nodes[2]
	dir := t.TempDir()
	path, data := writeRandom(t, dir, "minutes.pdf", 3<<20)
	id := alice.sendFile(path)
	bob.saveFile(id, t.TempDir())
	bob.waitSaved(id, time.Minute)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	carol.saveFile(id, t.TempDir())
	sameBytes(t, carol.waitSaved(id, time.Minute).Path, data)

	lost, lostData := writeRandom(t, dir, "nobody-saved.bin", 1<<20)
	id2 := alice.sendFile(lost)
	if err := os.Rename(lost, lost+".away"); err != nil {
		t.Fatal(err)
	}
	bob.saveFile(id2, t.TempDir())
	bob.waitFor("word that nobody online has it", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "file-waiting" && e.ID == id2 && e.Name == "nobody-saved.bin"
	})
	if err := os.Rename(lost+".away", lost); err != nil {
		t.Fatal(err)
	}
	sameBytes(t, bob.waitSaved(id2, time.Minute).Path, lostData)
}
