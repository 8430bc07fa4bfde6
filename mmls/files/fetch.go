package files

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// bitset marks chunks: bit i of byte i/8.
type bitset []byte

func newBitset(n int) bitset    { return make(bitset, (n+7)/8) }
func (b bitset) get(i int) bool { return b[i/8]&(1<<(i%8)) != 0 }
func (b bitset) set(i int)      { b[i/8] |= 1 << (i % 8) }

// fetch is one download: the chunks verified so far are in the partial
// file (and marked in have, written to the store with each progress
// report), and served to others like a holding.
type fetch struct {
	holding
	part     *os.File
	count    int   // chunks verified
	done     int64 // their bytes
	inflight map[int]ask
	dup      map[int]ask // chunks asked a second time, of a faster holder (endgame)
	sources  map[PeerID]*source
	cursor   int // chunks below it are held or asked for

	pages    [][]byte
	pageFrom PeerID // who we asked for the manifest
	pageAt   time.Time
	tried    map[PeerID]bool // asked for the manifest already
	noPages  map[PeerID]bool // said they lack the manifest (cleared now and then)
	stalled  bool            // nobody online holds what is missing (said: Stalled)

	dirty      bool
	lastReport time.Time
	lastClear  time.Time
}

type ask struct {
	from PeerID
	at   time.Time
}

// source is what we know of one holder for one fetch.
type source struct {
	out       int           // chunks asked and not answered
	rtt       time.Duration // how long it takes to answer a chunk (moving average; 0: not known yet)
	lacks     map[int]bool  // chunks it said it lacks (cleared now and then)
	bad       int           // chunks or manifests it served that did not match
	busyUntil time.Time
	refused   bool
}

// maxBad is how many bad chunks a holder serves before we stop asking it.
const maxBad = 3

func (m *Manager) startFetch(rec store.File) {
	o, allowed, key, err := offerOf(rec)
	if err != nil {
		m.cfg.Logf("files: kept file %s: %v", rec.ID, err)
		return
	}
	if m.fetches[key] != nil {
		return
	}
	if len(m.fetches) >= m.cfg.MaxActive {
		for _, id := range m.waiting {
			if id == key {
				return
			}
		}
		m.waiting = append(m.waiting, key)
		return
	}
	s, err := NewSealer(o)
	if err != nil {
		return
	}
	delete(allowed, m.cfg.Me)
	f := &fetch{holding: holding{id: key, o: o, s: s, allowed: allowed, path: m.PartPath(key), sealed: true},
		inflight: map[int]ask{}, dup: map[int]ask{}, sources: map[PeerID]*source{}, tried: map[PeerID]bool{}, lastClear: time.Now()}
	m.fetches[key] = f
	if o.Size > m.cfg.MaxSize {
		m.fail(f, fmt.Errorf("%w: %d bytes (at most %d)", ErrTooBig, o.Size, m.cfg.MaxSize))
		return
	}
	// Not sized up front: its length would say the file's.
	f.part, err = os.OpenFile(f.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		m.fail(f, fmt.Errorf("files: partial file: %w", err))
		return
	}
	f.have = newBitset(o.Chunks())
	if man, err := m.cfg.Store.Manifest(rec.ID); err == nil && len(man) == 32*o.Chunks() && ManifestHash(man) == o.Manifest {
		f.man = man
	} else if o.Chunks() == 0 {
		if ManifestHash(nil) != o.Manifest {
			m.fail(f, errors.New("the offer's manifest is not that of an empty file"))
			return
		}
		f.man = Manifest{}
	}
	if len(rec.Have) == len(f.have) && f.man != nil {
		// What the store says we had is checked against the manifest:
		// the partial file is not synced as chunks arrive, so after a
		// power cut a chunk marked may not be there.
		for i := range o.Chunks() {
			if rec.Have[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			if _, err := f.holding.readFrom(f.part, i); err != nil {
				continue
			}
			f.have.set(i)
			f.count++
			f.done += int64(o.ChunkLen(i))
		}
	}
	if f.count == o.Chunks() && f.man != nil {
		m.finish(f)
		return
	}
	m.pump(f)
	m.report(f, true)
}

// candidates are the holders to ask: the offer's sender and recipients
// that are online and have not refused or served bad data.
func (m *Manager) candidates(f *fetch) []PeerID {
	var out []PeerID
	for id := range f.allowed {
		if s := f.sources[id]; m.online[id] && (s == nil || !s.refused && s.bad < maxBad) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}

func (f *fetch) source(id PeerID) *source {
	s := f.sources[id]
	if s == nil {
		s = &source{lacks: map[int]bool{}}
		f.sources[id] = s
	}
	return s
}

// pump asks holders for what is missing: the manifest from one holder,
// then chunks, Window at a time from each holder (a faster holder
// answers sooner, so it is asked more: the fastest is preferred).
func (m *Manager) pump(f *fetch) {
	cands := m.candidates(f)
	now := time.Now()
	if !f.stalled && f.nobodyHolds(cands) {
		f.stalled = true
		m.cfg.Logf("files: nobody online holds what %s lacks; it waits for someone who does", f.id.Short())
		m.emit(Stalled{ID: f.id})
	}
	if f.man == nil {
		if f.pageFrom != (PeerID{}) && now.Sub(f.pageAt) < m.cfg.Timeout {
			return
		}
		for _, id := range cands {
			if f.tried[id] {
				continue
			}
			f.tried[id], f.pageFrom, f.pageAt = true, id, now
			f.pages = make([][]byte, f.o.Pages())
			for p := range f.pages {
				m.ask(id, Request{ID: f.id, What: WhatPage, Index: uint32(p)})
			}
			return
		}
		if len(cands) > 0 {
			clear(f.tried) // every holder was asked: start again
		}
		return
	}
	best := time.Duration(0)
	for _, id := range cands {
		if r := f.source(id).rtt; r > 0 && (best == 0 || r < best) {
			best = r
		}
	}
	for _, id := range cands {
		src := f.source(id)
		if now.Before(src.busyUntil) {
			continue
		}
		for src.out < m.window(src, best) {
			i, again := f.nextFor(src), false
			if i < 0 {
				// Nothing left to ask: ask this holder too for a
				// chunk another one is slow to send (endgame).
				if i = f.overdue(id, src, now); i < 0 {
					break
				}
				again = true
			}
			if !m.ask(id, Request{ID: f.id, What: WhatChunk, Index: uint32(i)}) {
				src.busyUntil = now.Add(time.Second)
				break
			}
			if again {
				f.dup[i] = ask{from: id, at: now}
			} else {
				f.inflight[i] = ask{from: id, at: now}
			}
			src.out++
		}
	}
}

// nobodyHolds reports whether none of the holders online can give what
// the fetch lacks next: there are none, every one said it lacks the
// manifest, or (with the manifest) every one said it lacks the first
// chunk missing.
func (f *fetch) nobodyHolds(cands []PeerID) bool {
	first := -1
	if f.man != nil {
		for i := 0; i < f.o.Chunks(); i++ {
			if !f.have.get(i) {
				first = i
				break
			}
		}
		if first < 0 {
			return false
		}
	}
	for _, id := range cands {
		if f.man == nil && !f.noPages[id] {
			return false
		}
		if f.man != nil && !f.source(id).lacks[first] {
			return false
		}
	}
	return true
}

// window is how many chunks src may have in flight: the whole window for
// the fastest holder (or one not measured yet, up to 4 to start), less
// for slower ones in proportion, so a slow holder never holds many
// chunks back at the end.
func (m *Manager) window(src *source, best time.Duration) int {
	switch {
	case src.rtt == 0:
		return min(4, m.cfg.Window)
	case best == 0 || src.rtt <= best:
		return m.cfg.Window
	}
	return max(1, int(int64(m.cfg.Window)*int64(best)/int64(src.rtt)))
}

// overdue is a chunk asked of another holder that src, were it asked
// now, would likely send sooner, not asked twice yet; or -1.
func (f *fetch) overdue(id PeerID, src *source, now time.Time) int {
	if src.rtt == 0 {
		return -1
	}
	for i, a := range f.inflight {
		if _, twice := f.dup[i]; !twice && a.from != id && !src.lacks[i] && now.Sub(a.at) > 2*src.rtt {
			return i
		}
	}
	return -1
}

func (m *Manager) ask(to PeerID, r Request) bool {
	if err := m.cfg.Net.Send(to, r.Frame()); err != nil {
		m.cfg.Logf("files: ask %s: %v", to.Short(), err)
		return false
	}
	return true
}

// nextFor is the first chunk neither held nor asked for that src has not
// said it lacks, or -1.
func (f *fetch) nextFor(src *source) int {
	n := f.o.Chunks()
	for f.cursor < n {
		if _, asked := f.inflight[f.cursor]; !asked && !f.have.get(f.cursor) {
			break
		}
		f.cursor++
	}
	// (A chunk asked twice is in inflight too: its first ask.)
	for i := f.cursor; i < n; i++ {
		if _, asked := f.inflight[i]; asked || f.have.get(i) || src.lacks[i] {
			continue
		}
		return i
	}
	return -1
}

// release forgets that chunk i was asked of from. It returns when it was
// asked (zero if it was not).
func (f *fetch) release(i int, from PeerID) time.Time {
	if d, ok := f.dup[i]; ok && d.from == from {
		delete(f.dup, i)
		f.source(from).out--
		return d.at
	}
	a, ok := f.inflight[i]
	if !ok || a.from != from {
		return time.Time{}
	}
	f.source(from).out--
	if d, ok := f.dup[i]; ok {
		f.inflight[i] = d // the second ask stands
		delete(f.dup, i)
		return a.at
	}
	delete(f.inflight, i)
	f.cursor = min(f.cursor, i)
	return a.at
}

func (m *Manager) onData(f *fetch, from PeerID, d Data) {
	if !f.allowed[from] {
		return
	}
	src := f.source(from)
	switch d.Status {
	case StatusRefused:
		src.refused = true
	case StatusBusy:
		src.busyUntil = time.Now().Add(100 * time.Millisecond)
	}
	if d.What == WhatPage {
		m.onPage(f, from, d)
		return
	}
	i := int(d.Index)
	if i >= f.o.Chunks() {
		return
	}
	at := f.release(i, from)
	if !at.IsZero() && d.Status == StatusData {
		rtt := time.Since(at)
		if src.rtt == 0 {
			src.rtt = rtt
		} else {
			src.rtt = (3*src.rtt + rtt) / 4
		}
	}
	switch {
	case d.Status == StatusMissing:
		src.lacks[i] = true
	case d.Status != StatusData || f.have.get(i) || f.man == nil:
	case !f.man.Matches(i, d.Bytes):
		src.bad++
		m.cfg.Logf("files: %s served chunk %d of %s that its sender did not seal: discarded", from.Short(), i, f.id.Short())
	default:
		plain, err := f.s.Open(nil, i, d.Bytes)
		if err != nil {
			// The manifest pins it: the sender sealed it so.
			m.fail(f, fmt.Errorf("its sender sealed chunk %d wrongly", i))
			return
		}
		if _, err := f.part.WriteAt(d.Bytes, sealedOffset(f.o, i)); err != nil {
			m.fail(f, fmt.Errorf("files: write: %w", err))
			return
		}
		f.have.set(i)
		f.count++
		f.done += int64(len(plain))
		f.dirty, f.stalled = true, false
		if f.count == f.o.Chunks() {
			m.finish(f)
			return
		}
	}
	m.pump(f)
}

func (m *Manager) onPage(f *fetch, from PeerID, d Data) {
	p := int(d.Index)
	if f.man != nil || from != f.pageFrom || p >= len(f.pages) {
		return
	}
	if d.Status != StatusData || len(d.Bytes) != PageLen(f.o, p) {
		f.pageFrom = PeerID{} // ask someone else
		if f.noPages == nil {
			f.noPages = map[PeerID]bool{}
		}
		f.noPages[from] = true
		m.pump(f)
		return
	}
	f.stalled = false
	f.pages[p] = bytes.Clone(d.Bytes)
	for _, pg := range f.pages {
		if pg == nil {
			return
		}
	}
	man := Manifest(bytes.Join(f.pages, nil))
	f.pages, f.pageFrom = nil, PeerID{}
	if ManifestHash(man) != f.o.Manifest {
		f.source(from).bad = maxBad
		m.cfg.Logf("files: %s served a manifest of %s its sender did not make: discarded", from.Short(), f.id.Short())
		m.pump(f)
		return
	}
	f.man = man
	if err := m.cfg.Store.PutManifest(f.id.String(), man); err != nil {
		m.cfg.Logf("files: %v", err)
	}
	m.pump(f)
}

// forget releases what peer owed us: it went away, and what it was sending
// is lost with its connection.
func (f *fetch) forget(peer PeerID) {
	for i, a := range f.dup {
		if a.from == peer {
			f.release(i, peer)
		}
	}
	for i, a := range f.inflight {
		if a.from == peer {
			f.release(i, peer)
		}
	}
	if f.pageFrom == peer {
		f.pageFrom = PeerID{}
	}
}

// expire asks elsewhere what was not answered in time, and now and then
// forgets which chunks holders lacked (they fetch too).
func (f *fetch) expire(timeout time.Duration) {
	now := time.Now()
	for i, a := range f.dup {
		if now.Sub(a.at) > timeout {
			f.release(i, a.from)
		}
	}
	for i, a := range f.inflight {
		if now.Sub(a.at) > timeout {
			f.release(i, a.from)
		}
	}
	if now.Sub(f.lastClear) > 2*time.Second {
		f.lastClear = now
		for _, s := range f.sources {
			clear(s.lacks)
		}
		clear(f.noPages)
	}
}

// report writes down the chunks we hold and says it, at most once a
// tick. The partial file is not synced for it (that would stall the
// fetch): a resume checks each chunk marked against the manifest.
func (m *Manager) report(f *fetch, force bool) {
	if !force && (!f.dirty || time.Since(f.lastReport) < m.cfg.Tick) {
		return
	}
	m.persist(f)
	f.lastReport = time.Now()
	m.emit(Progress{ID: f.id, Done: f.done, Total: f.o.Size})
}

func (m *Manager) persist(f *fetch) {
	if !f.dirty || f.part == nil {
		return
	}
	if err := m.cfg.Store.SetFileHave(f.id.String(), bytes.Clone(f.have)); err != nil {
		m.cfg.Logf("files: %v", err)
		return
	}
	f.dirty = false
}

// place opens the sealed partial file into a hidden file beside its
// destination, checks the whole file's hash, and puts it in place: the
// plaintext is only ever written where the user saves it.
func (m *Manager) place(f *fetch, rec store.File) (string, error) {
	if err := os.MkdirAll(rec.DestDir, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(rec.DestDir, ".mmls-chat-*.part")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	err = f.holding.opened(tmp)
	if err == nil {
		err = m.cfg.syncFile(tmp)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return Place(tmp.Name(), rec.DestDir, rec.DestName)
}

// finish checks the whole file's hash and puts it in place.
func (m *Manager) finish(f *fetch) {
	id := f.id.String()
	if err := m.cfg.syncFile(f.part); err != nil {
		m.fail(f, fmt.Errorf("files: sync: %w", err))
		return
	}
	rec, err := m.cfg.Store.GetFile(id)
	if err != nil {
		m.fail(f, err)
		return
	}
	path, err := m.place(f, rec)
	if err != nil {
		m.fail(f, fmt.Errorf("could not save it in %s: %w", rec.DestDir, err))
		return
	}
	f.part.Close()
	os.Remove(f.path)
	delete(m.fetches, f.id)
	rec.State, rec.Source, rec.Have, rec.Err = store.FileSaved, path, nil, ""
	if err := m.cfg.Store.PutFile(rec); err != nil {
		m.cfg.Logf("files: %v", err)
	}
	m.emit(Progress{ID: f.id, Done: f.o.Size, Total: f.o.Size})
	m.emit(Saved{ID: f.id, Path: path, SHA256: f.o.SHA256})
	m.hold(rec)
	m.next()
}
