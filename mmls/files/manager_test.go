package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// pipe delivers frames straight to the other manager (in order, as the
// transport does).
type pipe struct {
	from PeerID
	to   func() *Manager
}

func (p pipe) Send(_ PeerID, payload []byte) error {
	deliver(p.to(), p.from, payload)
	return nil
}
func (pipe) QueuedBytes(PeerID) int { return 0 }

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, format)
}

func (l *logs) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// pair runs a holder of the file at path (offered as o, with manifest
// man) and a fetcher given the offer as the fetcher's record says (with
// tamper applied to what it was told).
func pair(t *testing.T, path string, tamper func(*Offer)) (fetcher *Manager, flog *logs, dest string) {
	t.Helper()
	o, man, err := Prepare(path, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	holderID, fetcherID := PeerID{1}, PeerID{2}
	var holder *Manager
	open := func(name string) *store.Store {
		st, err := store.Open(filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	hst, fst := open("holder"), open("fetcher")
	flog = &logs{}
	holder, _ = New(Config{Store: hst, Net: pipe{holderID, func() *Manager { return fetcher }}, Me: holderID, Dir: t.TempDir()})
	fetcher, _ = New(Config{Store: fst, Net: pipe{fetcherID, func() *Manager { return holder }}, Me: fetcherID, Dir: t.TempDir(), Logf: flog.logf, Tick: 10 * time.Millisecond})
	body, _ := o.Marshal()
	rec := store.File{ID: Key(holderID, o.ID).String(), Room: "lobby", FromID: holderID.String(), Offer: body, To: []string{fetcherID.String()}, State: store.FileSent, Source: path}
	if err := hst.PutManifest(rec.ID, man); err != nil {
		t.Fatal(err)
	}
	if err := hst.PutFile(rec); err != nil {
		t.Fatal(err)
	}
	told := *o
	tamper(&told)
	rec.Offer, _ = told.Marshal()
	dest = t.TempDir()
	rec.State, rec.Source, rec.DestDir, rec.DestName = store.FileFetching, "", dest, told.Name
	if err := fst.PutFile(rec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, m := range []*Manager{holder, fetcher} {
		wg.Go(func() { m.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	holder.SetOnline(fetcherID, true)
	fetcher.SetOnline(holderID, true)
	return fetcher, flog, dest
}

func waitEvent(t *testing.T, m *Manager, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-m.Events():
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatal("no such event")
		}
	}
}

func sample(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "data.bin")
	data := make([]byte, 3*DefaultChunk+5)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFetchSaves: the harness itself works: the honest case saves.
func TestFetchSaves(t *testing.T) {
	t.Parallel()
	path := sample(t)
	f, _, dest := pair(t, path, func(*Offer) {})
	s := waitEvent(t, f, func(e Event) bool { _, ok := e.(Saved); return ok }).(Saved)
	if filepath.Dir(s.Path) != dest {
		t.Fatalf("saved at %s", s.Path)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(s.Path)
	if string(a) != string(b) {
		t.Fatal("saved bytes differ")
	}
}

// TestFetchRefusesForgedManifest: a holder whose manifest is not the one
// the offer pins is not believed: nothing is fetched from it.
func TestFetchRefusesForgedManifest(t *testing.T) {
	t.Parallel()
	f, flog, dest := pair(t, sample(t), func(o *Offer) { o.Manifest[0] ^= 1 })
	deadline := time.Now().Add(20 * time.Second)
	for !flog.has("served a manifest of %s its sender did not make") {
		if time.Now().After(deadline) {
			t.Fatal("the forged manifest was not refused")
		}
		time.Sleep(5 * time.Millisecond) // polling the log, with a deadline
	}
	select {
	case ev := <-f.Events():
		if _, ok := ev.(Saved); ok {
			t.Fatal("saved with a manifest the offer does not pin")
		}
	default:
	}
	if left, _ := os.ReadDir(dest); len(left) != 0 {
		t.Fatalf("%s holds %s", dest, left[0].Name())
	}
}

// TestFetchRefusesWrongHash: chunks that all verify but a whole that is
// not the announced hash (a lying sender) never reach the destination,
// and the fetch fails saying why.
func TestFetchRefusesWrongHash(t *testing.T) {
	t.Parallel()
	f, _, dest := pair(t, sample(t), func(o *Offer) { o.SHA256[0] ^= 1 })
	ev := waitEvent(t, f, func(e Event) bool {
		_, saved := e.(Saved)
		_, failed := e.(Failed)
		return saved || failed
	})
	failed, ok := ev.(Failed)
	if !ok || !strings.Contains(failed.Err.Error(), "does not match the hash") {
		t.Fatalf("got %#v", ev)
	}
	if left, _ := os.ReadDir(dest); len(left) != 0 {
		t.Fatalf("%s holds %s", dest, left[0].Name())
	}
}

// holderLink is a holder's way to the fetcher: it counts the chunks it
// carried and, for a slow holder, carries one chunk per perChunk, in
// order, as a slow link would (fault injection).
type holderLink struct {
	from     PeerID
	to       func() *Manager
	perChunk time.Duration
	queue    chan []byte
	mu       sync.Mutex
	chunks   int
}

func (l *holderLink) Send(_ PeerID, payload []byte) error {
	if d, err := ParseData(payload[1:]); err == nil && d.What == WhatChunk && d.Status == StatusData {
		l.mu.Lock()
		l.chunks++
		l.mu.Unlock()
	}
	if l.queue == nil {
		deliver(l.to(), l.from, payload)
		return nil
	}
	l.queue <- payload
	return nil
}
func (*holderLink) QueuedBytes(PeerID) int { return 0 }

// carry delivers a slow link's frames until ctx ends.
func (l *holderLink) carry(ctx context.Context) {
	for {
		select {
		case p := <-l.queue:
			select {
			case <-time.After(l.perChunk):
			case <-ctx.Done():
				return
			}
			deliver(l.to(), l.from, p)
		case <-ctx.Done():
			return
		}
	}
}

// router is the fetcher's way to several holders.
type router struct {
	from PeerID
	to   map[PeerID]*Manager
}

func (r router) Send(to PeerID, payload []byte) error {
	deliver(r.to[to], r.from, payload)
	return nil
}
func (router) QueuedBytes(PeerID) int { return 0 }

// TestFetchPrefersFastHolder: a fetch asks every holder at once; the one
// that answers sooner gets the larger window, and at the end the chunks
// a slow holder still owes are asked of the fast one too: most chunks
// come from the fast one (a chunk both sent counts for both).
func TestFetchPrefersFastHolder(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(path, make([]byte, 80*DefaultChunk), 0o600); err != nil {
		t.Fatal(err)
	}
	o, man, err := Prepare(path, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	fast, slow, me := PeerID{1}, PeerID{2}, PeerID{3}
	open := func() *store.Store {
		st, err := store.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	var fetcher *Manager
	toFetcher := func() *Manager { return fetcher }
	links := map[PeerID]*holderLink{fast: {from: fast, to: toFetcher},
		slow: {from: slow, to: toFetcher, perChunk: 100 * time.Millisecond, queue: make(chan []byte, 1024)}}
	body, _ := o.Marshal()
	rec := store.File{ID: Key(fast, o.ID).String(), Room: "lobby", FromID: fast.String(), Offer: body,
		To: []string{slow.String(), me.String()}, State: store.FileSaved, Source: path}
	holders := map[PeerID]*Manager{}
	for _, id := range []PeerID{fast, slow} {
		st := open()
		if err := st.PutManifest(rec.ID, man); err != nil {
			t.Fatal(err)
		}
		if err := st.PutFile(rec); err != nil {
			t.Fatal(err)
		}
		holders[id], _ = New(Config{Store: st, Net: links[id], Me: id, Dir: t.TempDir()})
	}
	fst := open()
	rec.State, rec.Source, rec.DestDir, rec.DestName = store.FileFetching, "", t.TempDir(), o.Name
	if err := fst.PutFile(rec); err != nil {
		t.Fatal(err)
	}
	fetcher, _ = New(Config{Store: fst, Net: router{from: me, to: holders}, Me: me, Dir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, m := range []*Manager{holders[fast], holders[slow], fetcher} {
		wg.Go(func() { m.Run(ctx) })
	}
	wg.Go(func() { links[slow].carry(ctx) })
	defer func() { cancel(); wg.Wait() }()
	fetcher.SetOnline(fast, true)
	fetcher.SetOnline(slow, true)
	waitEvent(t, fetcher, func(e Event) bool { _, ok := e.(Saved); return ok })
	count := func(l *holderLink) int { l.mu.Lock(); defer l.mu.Unlock(); return l.chunks }
	f, s := count(links[fast]), count(links[slow])
	t.Logf("fast holder served %d chunks, slow %d", f, s)
	if s == 0 || f < 3*s {
		t.Fatalf("fast holder served %d chunks, slow %d: want both asked, the fast one three times as much at least", f, s)
	}
}
