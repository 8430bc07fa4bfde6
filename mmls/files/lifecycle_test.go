package files

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// lan carries frames between the managers of a test, in order per pair,
// as the transport does; a peer that is not running is unreachable, and
// hold keeps back a pair's frames for as long as it says.
type lan struct {
	mu     sync.Mutex
	nodes  map[PeerID]*Manager
	queued map[PeerID]int // what QueuedBytes says of a peer
	// hold, if set, keeps back a frame (from, to) instead of sending it.
	hold func(from, to PeerID, payload []byte) bool
	held []sent
}

// sent is a frame on its way.
type sent struct {
	from    PeerID
	payload []byte
}

// deliver hands payload to m as the engine does (mmls.Engine.onFrame):
// its kind split off and its body parsed once, a request or an answer;
// it reports whether m took it (false: malformed, or m's queue full).
func deliver(m *Manager, from PeerID, payload []byte) bool {
	k, body, err := frame.Split(payload)
	if err != nil {
		return false
	}
	switch k {
	case frame.FileRequest:
		r, err := ParseRequest(body)
		return err == nil && m.Request(from, r)
	case frame.FileData:
		d, err := ParseData(body)
		return err == nil && m.Data(from, d)
	}
	return false
}

func newLAN() *lan { return &lan{nodes: map[PeerID]*Manager{}, queued: map[PeerID]int{}} }

// end is one manager's attachment to the lan.
type end struct {
	l  *lan
	me PeerID
}

func (e end) Send(to PeerID, payload []byte) error {
	e.l.mu.Lock()
	m := e.l.nodes[to]
	if e.l.hold != nil && e.l.hold(e.me, to, payload) {
		e.l.held = append(e.l.held, sent{from: e.me, payload: payload})
		e.l.mu.Unlock()
		return nil
	}
	e.l.mu.Unlock()
	if m == nil {
		return errors.New("not connected")
	}
	deliver(m, e.me, payload)
	return nil
}

func (e end) QueuedBytes(to PeerID) int {
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	return e.l.queued[to]
}

// node is a running manager with its own store and folder.
type node struct {
	id   PeerID
	m    *Manager
	st   *store.Store
	dir  string // partial files
	stop func()
}

// start runs a manager for id on l (a restart when st is given).
func (l *lan) start(t *testing.T, id PeerID, st *store.Store, dir string, adjust func(*Config)) *node {
	t.Helper()
	if st == nil {
		var err error
		if st, err = store.Open(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		dir = t.TempDir()
	}
	cfg := Config{Store: st, Net: end{l, id}, Me: id, Dir: dir, Tick: 10 * time.Millisecond}
	if adjust != nil {
		adjust(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.nodes, id)
			l.mu.Unlock()
			cancel()
			<-done
		})
	}
	t.Cleanup(stop)
	l.mu.Lock()
	l.nodes[id] = m
	l.mu.Unlock()
	return &node{id: id, m: m, st: st, dir: dir, stop: stop}
}

// meet tells each of a and b that the other is online.
func meet(a, b *node) {
	a.m.SetOnline(b.id, true)
	b.m.SetOnline(a.id, true)
}

// writeFile writes n bytes to a new file and returns its path and bytes.
func writeFile(t *testing.T, name string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31 + n)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// offer has sender prepare the file at path through its manager (the
// public way: a Prepared event), keeps it as sent, and returns the record
// a recipient keeps, to fetch into dest.
func offer(t *testing.T, sender *node, path string, to []PeerID, dest string) store.File {
	t.Helper()
	sender.m.Prepare("lobby", path)
	p := waitEvent(t, sender.m, func(e Event) bool { _, ok := e.(Prepared); return ok }).(Prepared)
	if p.Err != nil || p.Room != "lobby" || p.Path != path {
		t.Fatalf("prepared %+v", p)
	}
	body, err := p.Offer.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rec := store.File{ID: Key(sender.id, p.Offer.ID).String(), Room: "lobby", FromID: sender.id.String(), Offer: body, State: store.FileSent, Source: path}
	for _, id := range to {
		rec.To = append(rec.To, id.String())
	}
	if err := sender.st.PutFile(rec); err != nil {
		t.Fatal(err)
	}
	sender.m.Hold(rec)
	settle(t, sender)
	rec.State, rec.Source, rec.DestDir, rec.DestName = store.FileFetching, "", dest, p.Offer.Name
	return rec
}

// settle waits until n's manager has run the calls made of it before
// (Hold, Fetch, Cancel and SetOnline run in order on its goroutine,
// frames apart): a fetch it refuses at once, too big, fails after them.
func settle(t *testing.T, n *node) {
	t.Helper()
	path, _ := writeFile(t, "tiny", 1)
	o, _, err := Prepare(path, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	o.Size, o.ID = 5<<30, ID{0xee} // over the default limit
	body, err := o.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	from := PeerID{0xee}
	key := Key(from, o.ID)
	n.m.Fetch(store.File{ID: key.String(), FromID: from.String(), Offer: body, State: store.FileFetching})
	waitEvent(t, n.m, func(e Event) bool { f, ok := e.(Failed); return ok && f.ID == key })
}

// fetchFile has n fetch rec as its store says (the engine writes the record,
// then asks the manager).
func fetchFile(t *testing.T, n *node, rec store.File) {
	t.Helper()
	if err := n.st.PutFile(rec); err != nil {
		t.Fatal(err)
	}
	n.m.Fetch(rec)
}

func keyOf(t *testing.T, rec store.File) ID {
	t.Helper()
	id, ok := ParseID(rec.ID)
	if !ok {
		t.Fatalf("record id %q", rec.ID)
	}
	return id
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes that are not the %d sent", path, len(got), len(want))
	}
}

// TestPrepareOfferFetch: the whole way through the manager's methods: a
// file prepared (its manifest kept under the sender's key), held, fetched
// and saved whole, its progress reported in order up to its size, and
// the store saying so; then the saved copy is served in turn.
func TestPrepareOfferFetch(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice, bob, carol := l.start(t, PeerID{1}, nil, "", nil), l.start(t, PeerID{2}, nil, "", nil), l.start(t, PeerID{3}, nil, "", nil)
	path, data := writeFile(t, "report.pdf", 5*DefaultChunk+123)
	dest := t.TempDir()
	rec := offer(t, alice, path, []PeerID{bob.id, carol.id}, dest)
	if man, err := alice.st.Manifest(rec.ID); err != nil || len(man) != 32*6 {
		t.Fatalf("manifest kept: %d bytes, %v", len(man), err)
	}
	meet(alice, bob)
	fetchFile(t, bob, rec)
	var last int64 = -1
	saved := waitEvent(t, bob.m, func(e Event) bool {
		if p, ok := e.(Progress); ok {
			if p.Done < last || p.Total != int64(len(data)) {
				t.Fatalf("progress %d of %d after %d", p.Done, p.Total, last)
			}
			last = p.Done
		}
		_, ok := e.(Saved)
		return ok
	}).(Saved)
	if last != int64(len(data)) || saved.ID != keyOf(t, rec) || filepath.Dir(saved.Path) != dest {
		t.Fatalf("last progress %d, saved %+v", last, saved)
	}
	sameFile(t, saved.Path, data)
	if got, err := bob.st.GetFile(rec.ID); err != nil || got.State != store.FileSaved || got.Source != saved.Path {
		t.Fatalf("bob's record: %+v, %v", got, err)
	}
	if _, err := os.Stat(bob.m.PartPath(saved.ID)); !os.IsNotExist(err) {
		t.Fatalf("the partial file is left: %v", err)
	}
	// alice goes away: carol gets the file from bob, who saved it.
	alice.stop()
	meet(bob, carol)
	rec.DestDir = t.TempDir()
	fetchFile(t, carol, rec)
	got := waitEvent(t, carol.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved)
	sameFile(t, got.Path, data)
}

// TestPrepareRefuses: what cannot be offered says why, in a Prepared
// event: a missing file, one over the manager's size limit.
func TestPrepareRefuses(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", func(c *Config) { c.MaxSize = 1000 })
	if alice.m.MaxSize() != 1000 {
		t.Fatalf("MaxSize %d", alice.m.MaxSize())
	}
	big, _ := writeFile(t, "big.bin", 1001)
	for _, tc := range []struct {
		path string
		err  error
	}{
		{filepath.Join(t.TempDir(), "missing"), os.ErrNotExist},
		{big, ErrTooBig},
	} {
		alice.m.Prepare("lobby", tc.path)
		p := waitEvent(t, alice.m, func(e Event) bool { _, ok := e.(Prepared); return ok }).(Prepared)
		if !errors.Is(p.Err, tc.err) || p.Path != tc.path {
			t.Errorf("%s: %+v, want %v", tc.path, p, tc.err)
		}
	}
}

// TestFetchOverTheLimitFails: a fetch of a file over the fetcher's limit
// fails at once and says so, in its event and its record.
func TestFetchOverTheLimitFails(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	bob := l.start(t, PeerID{2}, nil, "", func(c *Config) { c.MaxSize = 2 * DefaultChunk })
	path, _ := writeFile(t, "big.bin", 3*DefaultChunk)
	rec := offer(t, alice, path, []PeerID{bob.id}, t.TempDir())
	fetchFile(t, bob, rec)
	f := waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Failed); return ok }).(Failed)
	if !errors.Is(f.Err, ErrTooBig) {
		t.Fatalf("failed with %v", f.Err)
	}
	if got, _ := bob.st.GetFile(rec.ID); got.State != store.FileFailed || got.Err == "" {
		t.Fatalf("record %+v", got)
	}
}

// TestCancel: a fetch stopped at the user's word loses what it fetched
// and can be saved again; a word that comes after the file was saved
// changes nothing; one for a fetch waiting its turn takes it off the
// queue.
func TestCancel(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	bob := l.start(t, PeerID{2}, nil, "", func(c *Config) { c.MaxActive = 1 })
	small, _ := writeFile(t, "small.txt", 1000)
	first, _ := writeFile(t, "first.bin", 2*DefaultChunk)
	second, _ := writeFile(t, "second.bin", 2*DefaultChunk)
	saved := offer(t, alice, small, []PeerID{bob.id}, t.TempDir())
	running := offer(t, alice, first, []PeerID{bob.id}, t.TempDir())
	queued := offer(t, alice, second, []PeerID{bob.id}, t.TempDir())

	meet(alice, bob)
	fetchFile(t, bob, saved)
	waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Saved); return ok })
	// alice's answers are held back: the next fetch runs, the one after
	// waits its turn.
	l.mu.Lock()
	l.hold = func(from, _ PeerID, _ []byte) bool { return from == alice.id }
	l.mu.Unlock()
	fetchFile(t, bob, running)
	fetchFile(t, bob, queued)
	for _, rec := range []store.File{queued, running} {
		bob.m.Cancel(keyOf(t, rec))
		c := waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Cancelled); return ok }).(Cancelled)
		if c.ID != keyOf(t, rec) {
			t.Fatalf("cancelled %s, want %s", c.ID.Short(), keyOf(t, rec).Short())
		}
		if got, _ := bob.st.GetFile(rec.ID); got.State != store.FileOffered || got.Have != nil {
			t.Fatalf("record after the cancel: %+v", got)
		}
	}
	if _, err := os.Stat(bob.m.PartPath(keyOf(t, running))); !os.IsNotExist(err) {
		t.Fatalf("the cancelled fetch's partial file: %v", err)
	}
	// A cancel after the file was saved: nothing. Calls run in order, so
	// the next event is the failure of what follows it.
	bob.m.Cancel(keyOf(t, saved))
	tooBig := running
	tooBig.ID, tooBig.Offer = "", nil
	o, _ := ParseOffer(running.Offer)
	o.Size, o.ID = 5<<30, ID{9} // over bob's default limit
	tooBig.Offer, _ = o.Marshal()
	tooBig.ID = Key(alice.id, o.ID).String()
	fetchFile(t, bob, tooBig)
	switch ev := waitEvent(t, bob.m, func(Event) bool { return true }).(type) {
	case Failed:
	default:
		t.Fatalf("after a cancel of a saved file: %#v", ev)
	}
	if got, _ := bob.st.GetFile(saved.ID); got.State != store.FileSaved {
		t.Fatalf("the saved file's record: %+v", got)
	}
}

// TestFetchesTakeTurns: past MaxActive, fetches wait their turn, and
// start as others end.
func TestFetchesTakeTurns(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	bob := l.start(t, PeerID{2}, nil, "", func(c *Config) { c.MaxActive = 1 })
	var recs []store.File
	var datas [][]byte
	for _, name := range []string{"a.bin", "b.bin", "c.bin"} {
		path, data := writeFile(t, name, 3*DefaultChunk+len(name))
		recs = append(recs, offer(t, alice, path, []PeerID{bob.id}, t.TempDir()))
		datas = append(datas, data)
	}
	meet(alice, bob)
	for _, rec := range recs {
		fetchFile(t, bob, rec)
	}
	fetchFile(t, bob, recs[2]) // asked twice: waits once
	running := ID{}
	for i := range recs {
		s := waitEvent(t, bob.m, func(e Event) bool {
			switch e := e.(type) {
			case Progress:
				if running != (ID{}) && e.ID != running {
					t.Fatalf("%s progressed while %s ran", e.ID.Short(), running.Short())
				}
				running = e.ID
			case Saved:
				return true
			}
			return false
		}).(Saved)
		if s.ID != keyOf(t, recs[i]) {
			t.Fatalf("saved %d: %s", i, s.ID.Short())
		}
		sameFile(t, s.Path, datas[i])
		running = ID{}
	}
}

// TestServe: what a holder answers, to whom: the manifest's pages and
// sealed chunks to the offer's recipients, a refusal to anyone else,
// busy while the asker's queue is full, missing for what it lacks.
func TestServe(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	bob, stranger := PeerID{2}, PeerID{7}
	path, _ := writeFile(t, "data.bin", 2*DefaultChunk+10)
	rec := offer(t, alice, path, []PeerID{bob}, t.TempDir())
	key := keyOf(t, rec)
	o, _ := ParseOffer(rec.Offer)
	man := mustManifest(t, alice, rec)
	// The askers' answers come back here, in order.
	answers := make(chan Data, 16)
	l.mu.Lock()
	l.hold = func(_, _ PeerID, payload []byte) bool {
		d, err := ParseData(payload[1:])
		if err != nil {
			t.Errorf("an answer that does not parse: %v", err)
		}
		answers <- d
		return true
	}
	l.mu.Unlock()
	tests := []struct {
		name   string
		from   PeerID
		busy   bool
		r      Request
		status uint8
		check  func(d Data) bool
	}{
		{"a page", bob, false, Request{ID: key, What: WhatPage, Index: 0}, StatusData, func(d Data) bool { return bytes.Equal(d.Bytes, man.Page(0)) }},
		{"a page past the manifest", bob, false, Request{ID: key, What: WhatPage, Index: 1}, StatusMissing, nil},
		{"a chunk", bob, false, Request{ID: key, What: WhatChunk, Index: 2}, StatusData, func(d Data) bool { return man.Matches(2, d.Bytes) && len(d.Bytes) == o.ChunkLen(2)+Overhead }},
		{"a chunk past the file", bob, false, Request{ID: key, What: WhatChunk, Index: 3}, StatusMissing, nil},
		{"a file not held", bob, false, Request{ID: ID{5}, What: WhatChunk}, StatusMissing, nil},
		{"a stranger", stranger, false, Request{ID: key, What: WhatChunk}, StatusRefused, nil},
		{"a full queue", bob, true, Request{ID: key, What: WhatChunk}, StatusBusy, nil},
	}
	for _, tc := range tests {
		l.mu.Lock()
		l.queued[tc.from] = 0
		if tc.busy {
			l.queued[tc.from] = QueueShare + 1
		}
		l.mu.Unlock()
		if !deliver(alice.m, tc.from, tc.r.Frame()) {
			t.Fatal("the frame queue is full")
		}
		select {
		case d := <-answers:
			if d.Request != tc.r || d.Status != tc.status || tc.check != nil && !tc.check(d) {
				t.Errorf("%s: answer %+v (%d bytes), want status %d", tc.name, d.Request, len(d.Bytes), tc.status)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer", tc.name)
		}
	}
}

// TestStalledUntilAHolderComes: with nobody online who holds the file,
// the fetch says it waits; it goes on when a holder comes online.
func TestStalledUntilAHolderComes(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice, bob := l.start(t, PeerID{1}, nil, "", nil), l.start(t, PeerID{2}, nil, "", nil)
	path, data := writeFile(t, "data.bin", 3*DefaultChunk)
	rec := offer(t, alice, path, []PeerID{bob.id}, t.TempDir())
	fetchFile(t, bob, rec)
	if s := waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Stalled); return ok }).(Stalled); s.ID != keyOf(t, rec) {
		t.Fatalf("stalled %s", s.ID.Short())
	}
	meet(alice, bob)
	sameFile(t, waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved).Path, data)
}

// TestSilentHolderIsPassedOver: chunks a holder never answers are asked
// of another once they time out, or at once when it goes offline.
func TestSilentHolderIsPassedOver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		away    bool // the silent holder goes offline
	}{
		{"timed out", 50 * time.Millisecond, false},
		{"gone offline", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLAN()
			alice, carol := l.start(t, PeerID{1}, nil, "", nil), l.start(t, PeerID{3}, nil, "", nil)
			bob := l.start(t, PeerID{2}, nil, "", func(c *Config) { c.Timeout = tc.timeout })
			path, data := writeFile(t, "data.bin", 12*DefaultChunk)
			rec := offer(t, alice, path, []PeerID{bob.id, carol.id}, t.TempDir())
			if err := carol.st.PutManifest(rec.ID, mustManifest(t, alice, rec)); err != nil {
				t.Fatal(err)
			}
			carol.m.Hold(store.File{ID: rec.ID, FromID: rec.FromID, Offer: rec.Offer, To: rec.To, State: store.FileSaved, Source: path})
			settle(t, carol)
			// carol serves the manifest, never a chunk.
			askedCarol := make(chan struct{}, 1)
			l.mu.Lock()
			l.hold = func(from, to PeerID, payload []byte) bool {
				switch {
				case from == bob.id && to == carol.id && frame.Kind(payload[0]) == frame.FileRequest:
					if r, err := ParseRequest(payload[1:]); err == nil && r.What == WhatChunk {
						select {
						case askedCarol <- struct{}{}:
						default:
						}
					}
				case from == carol.id && frame.Kind(payload[0]) == frame.FileData:
					d, err := ParseData(payload[1:])
					return err == nil && d.What == WhatChunk
				}
				return false
			}
			l.mu.Unlock()
			meet(carol, bob)
			fetchFile(t, bob, rec)
			// bob, with the manifest from carol (the only holder online),
			// asks her for chunks; then alice comes.
			select {
			case <-askedCarol:
			case <-time.After(10 * time.Second):
				t.Fatal("bob never asked carol for a chunk")
			}
			meet(alice, bob)
			if tc.away {
				bob.m.SetOnline(carol.id, false)
			}
			sameFile(t, waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved).Path, data)
		})
	}
}

func mustManifest(t *testing.T, n *node, rec store.File) Manifest {
	t.Helper()
	man, err := n.st.Manifest(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	return Manifest(man)
}

// stoppedHalfway runs a fetch of a 10-chunk file from alice that bob
// stops once 4 chunks are in (alice's later chunks held back): the lan,
// the two, the file's record and bytes, and the last progress bob said.
func stoppedHalfway(t *testing.T) (*lan, *node, *node, store.File, []byte, Progress) {
	t.Helper()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	bob := l.start(t, PeerID{2}, nil, "", nil)
	path, data := writeFile(t, "data.bin", 10*DefaultChunk)
	rec := offer(t, alice, path, []PeerID{bob.id}, t.TempDir())
	sent := 0
	l.mu.Lock()
	l.hold = func(from, _ PeerID, payload []byte) bool {
		if d, err := ParseData(payload[1:]); from != alice.id || err != nil || d.What != WhatChunk {
			return false
		}
		sent++
		return sent > 4
	}
	l.mu.Unlock()
	meet(alice, bob)
	fetchFile(t, bob, rec)
	mid := waitEvent(t, bob.m, func(e Event) bool { p, ok := e.(Progress); return ok && p.Done == 4*DefaultChunk }).(Progress)
	bob.stop()
	return l, alice, bob, rec, data, mid
}

// TestResumeAfterRestart: a fetcher stopped half-way keeps what it had
// made durable; started again from its store, it resumes from there
// (each chunk marked checked again) and ends whole.
func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	l, alice, bob, rec, data, mid := stoppedHalfway(t)
	if got, _ := bob.st.GetFile(rec.ID); got.State != store.FileFetching || len(got.Have) == 0 {
		t.Fatalf("record after the stop: %+v", got)
	}
	// The partial file holds the chunks sealed, as they travelled: no
	// plaintext on disk until the file is saved where the user said.
	part, err := os.ReadFile(bob.m.PartPath(keyOf(t, rec)))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ParseOffer(rec.Offer)
	sl, _ := NewSealer(o)
	for i := range 4 {
		plain := data[i*DefaultChunk : (i+1)*DefaultChunk]
		if bytes.Contains(part, plain[:64]) {
			t.Fatalf("chunk %d lies in the partial file in clear", i)
		}
		if !bytes.Contains(part, sl.Seal(nil, i, plain)) {
			t.Fatalf("chunk %d is not in the partial file sealed", i)
		}
	}
	l.mu.Lock()
	l.hold, l.held = nil, nil
	l.mu.Unlock()
	bob2 := l.start(t, bob.id, bob.st, bob.dir, nil)
	meet(alice, bob2)
	first := waitEvent(t, bob2.m, func(e Event) bool { _, ok := e.(Progress); return ok }).(Progress)
	if first.Done < mid.Done {
		t.Fatalf("resumed at %d, %d were durable", first.Done, mid.Done)
	}
	sameFile(t, waitEvent(t, bob2.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved).Path, data)
}

// TestResumeChecksTheChunks: the chunks a stopped download marked as held
// are checked against the manifest when it resumes (the partial file is
// not synced as they arrive): one damaged on disk is fetched again, and
// the file saved is the one offered.
func TestResumeChecksTheChunks(t *testing.T) {
	t.Parallel()
	l, alice, bob, rec, data, mid := stoppedHalfway(t)
	// The second chunk marked as held is damaged on disk.
	o, _ := ParseOffer(rec.Offer)
	part, err := os.OpenFile(bob.m.PartPath(keyOf(t, rec)), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.WriteAt([]byte("damage"), sealedOffset(o, 1)+100); err != nil {
		t.Fatal(err)
	}
	part.Close()
	l.mu.Lock()
	l.hold, l.held = nil, nil
	l.mu.Unlock()
	bob2 := l.start(t, bob.id, bob.st, bob.dir, nil)
	meet(alice, bob2)
	first := waitEvent(t, bob2.m, func(e Event) bool { _, ok := e.(Progress); return ok }).(Progress)
	if want := mid.Done - DefaultChunk; first.Done != want {
		t.Fatalf("resumed at %d, want %d (the damaged chunk not counted)", first.Done, want)
	}
	sameFile(t, waitEvent(t, bob2.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved).Path, data)
}

// TestManifestPageOnlyFromWhomWeAsked: a manifest page is taken only from
// the holder it was asked of. carol, another recipient (so a source bob
// may use), sends a page bob asked alice for: it is ignored (so it cannot
// spoil the manifest alice's pages make up, nor mark alice bad), and the
// file comes whole from alice.
func TestManifestPageOnlyFromWhomWeAsked(t *testing.T) {
	t.Parallel()
	l := newLAN()
	alice := l.start(t, PeerID{1}, nil, "", nil)
	blog := &logs{}
	bob := l.start(t, PeerID{2}, nil, "", func(c *Config) { c.Logf = blog.logf })
	carol := PeerID{3}
	path, data := writeFile(t, "data.bin", 10*DefaultChunk)
	rec := offer(t, alice, path, []PeerID{bob.id, carol}, t.TempDir())
	asked := make(chan Data, 1)
	l.mu.Lock()
	l.hold = func(from, _ PeerID, payload []byte) bool {
		d, err := ParseData(payload[1:])
		if from != alice.id || err != nil || d.What != WhatPage {
			return false
		}
		select {
		case asked <- d:
		default:
		}
		return true
	}
	l.mu.Unlock()
	meet(alice, bob)
	fetchFile(t, bob, rec)
	var page Data
	select {
	case page = <-asked:
	case <-time.After(20 * time.Second):
		t.Fatal("bob never asked alice for the manifest")
	}
	forged := page
	forged.Bytes = bytes.Repeat([]byte{0xee}, len(page.Bytes))
	bob.m.SetOnline(carol, true)
	deliver(bob.m, carol, forged.Frame())
	l.mu.Lock()
	held := l.held
	l.hold, l.held = nil, nil
	l.mu.Unlock()
	for _, f := range held {
		deliver(bob.m, f.from, f.payload)
	}
	sameFile(t, waitEvent(t, bob.m, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved).Path, data)
	if blog.has("served a manifest of %s its sender did not make") {
		t.Fatal("carol's page, which bob did not ask for, was taken into the manifest")
	}
}

// TestSavedOnlyOnceSynced: a file is reported saved only once its bytes
// are durable: when the disk cannot sync the partial file or the file
// beside its destination, the download fails, says so, and nothing is left
// where the user saves.
func TestSavedOnlyOnceSynced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dest bool // the file beside the destination, else the partial file
	}{
		{"the partial file", false},
		{"the file beside its destination", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLAN()
			alice := l.start(t, PeerID{1}, nil, "", nil)
			dest := t.TempDir()
			bob := l.start(t, PeerID{byte(2 + i)}, nil, "", func(c *Config) {
				c.syncFile = func(f *os.File) error {
					if strings.HasPrefix(f.Name(), dest) == tc.dest {
						return errors.New("input/output error")
					}
					return f.Sync()
				}
			})
			path, _ := writeFile(t, "data.bin", 3*DefaultChunk)
			rec := offer(t, alice, path, []PeerID{bob.id}, dest)
			meet(alice, bob)
			fetchFile(t, bob, rec)
			ev := waitEvent(t, bob.m, func(e Event) bool {
				switch e.(type) {
				case Saved, Failed:
					return true
				}
				return false
			})
			if _, failed := ev.(Failed); !failed {
				t.Fatalf("reported %#v though the disk could not sync", ev)
			}
			if left, _ := os.ReadDir(dest); len(left) != 0 {
				t.Fatalf("%s holds %s", dest, left[0].Name())
			}
		})
	}
}

// TestNewNeedsStoreNetAndDir: a manager without them is refused.
func TestNewNeedsStoreNetAndDir(t *testing.T) {
	t.Parallel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, cfg := range []Config{{Net: end{}, Dir: "x"}, {Store: st, Dir: "x"}, {Store: st, Net: end{}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestParseID: the hex form of an id, and what is not one.
func TestParseID(t *testing.T) {
	t.Parallel()
	id := ID{0xde, 0xad, 15: 0x01}
	if got, ok := ParseID(id.String()); !ok || got != id || id.Short() != "dead0000" {
		t.Fatalf("round trip: %v %v %s", got, ok, id.Short())
	}
	for _, s := range []string{"", "dead", id.String() + "00", "zz" + id.String()[2:]} {
		if _, ok := ParseID(s); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

// TestDownloadDir: $XDG_DOWNLOAD_DIR, else ~/Downloads, then mmls-chat.
func TestDownloadDir(t *testing.T) {
	t.Setenv("XDG_DOWNLOAD_DIR", "/srv/dl")
	if got := DownloadDir(); got != "/srv/dl/mmls-chat" {
		t.Errorf("with XDG_DOWNLOAD_DIR: %s", got)
	}
	t.Setenv("XDG_DOWNLOAD_DIR", "")
	t.Setenv("HOME", "/home/alice")
	if got := DownloadDir(); got != "/home/alice/Downloads/mmls-chat" {
		t.Errorf("without: %s", got)
	}
}
