package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/transport/peerid"
)

// PeerID is a participant's id.
type PeerID = peerid.ID

// Net is what the manager needs of the network: sending a frame, and how
// many bytes wait in a peer's queue (a holder serves nobody more than
// QueueShare ahead of their chat).
type Net interface {
	Send(to PeerID, payload []byte) error
	QueuedBytes(to PeerID) int
}

// Config configures a Manager. Store, Net and Dir are required.
type Config struct {
	Store *store.Store
	Net   Net
	Me    PeerID
	// Dir holds partial files (Dir/<id>.part).
	Dir string
	// MaxSize bounds what we send and save (default DefaultMaxSize).
	MaxSize int64
	// MaxActive bounds downloads running at once (default 4; others
	// wait); Window the chunks asked of one holder at once (default 4).
	MaxActive, Window int
	// Timeout: a chunk not answered by then is asked elsewhere (8 s).
	Timeout time.Duration
	// Tick paces progress, persistence and time-outs (default 250 ms).
	Tick time.Duration
	Logf func(format string, args ...any)
	// syncFile makes a file's bytes durable ((*os.File).Sync; in-package
	// tests make it fail, as a full or failing disk would).
	syncFile func(*os.File) error
	// Corrupt makes this node serve damaged chunks: fault injection for
	// tests that play a hostile holder.
	Corrupt bool
}

// QueueShare bounds the bytes waiting for one peer before a holder
// answers Busy: chunks never stand more than this ahead of a chat line.
const QueueShare = 8 << 20

// Events the manager reports (to the engine's goroutine).
type (
	Event interface{ fileEvent() }
	// Prepared: the file at Path is read and sealed for Room (or Err).
	Prepared struct {
		Room, Path string
		Offer      *Offer
		Err        error
	}
	// Progress: Done of Total bytes of file ID are fetched and durable.
	Progress struct {
		ID          ID
		Done, Total int64
	}
	// Saved: file ID is whole, verified, at Path.
	Saved struct {
		ID     ID
		Path   string
		SHA256 [32]byte
	}
	// Failed: fetching file ID stopped for good.
	Failed struct {
		ID  ID
		Err error
	}
	// Cancelled: fetching file ID stopped at the user's word; what was
	// fetched is deleted, and the file can be saved again.
	Cancelled struct{ ID ID }
	// Stalled: nobody online holds what file ID still lacks (its sender
	// is away or no longer has it, and no other recipient saved it): the
	// fetch goes on when someone who has it comes online. Said once
	// until the fetch moves again.
	Stalled struct{ ID ID }
)

func (Prepared) fileEvent()  {}
func (Progress) fileEvent()  {}
func (Stalled) fileEvent()   {}
func (Saved) fileEvent()     {}
func (Failed) fileEvent()    {}
func (Cancelled) fileEvent() {}

// Manager fetches and serves files. One goroutine (Run) owns its state;
// others talk to it through its methods, which only queue.
type Manager struct {
	cfg    Config
	frames chan frameIn
	out    chan Event
	stop   chan struct{} // closed when Run's context ends
	done   chan struct{} // closed when Run returned

	// Calls from other goroutines queue here, never blocking them (the
	// engine must not wait on us while we wait on it).
	mu    sync.Mutex
	calls []func()
	wake  chan struct{}

	held    map[ID]*holding
	fetches map[ID]*fetch
	waiting []ID
	online  map[PeerID]bool
}

// frameIn is a request or an answer, parsed (and a request authorised)
// by the receiver of its frame: the engine, which dispatches every frame
// kind once (mmls/frame).
type frameIn struct {
	from PeerID
	req  *Request // or
	data *Data
}

// holding is a file we can serve chunks of: whole at path, or the chunks
// marked in have of a partial file.
type holding struct {
	id      ID // Key(sender, o.ID)
	o       *Offer
	s       *Sealer
	man     Manifest
	allowed map[PeerID]bool
	path    string // the whole file, or a fetch's partial file
	have    bitset // nil: whole
	// sealed: path holds the chunks as they travel (a partial file), at
	// chunk i*(Chunk+Overhead), not the plaintext: a partial download on
	// disk is no more readable than the traffic, and its key is in the
	// store.
	sealed bool
}

// corruptAll serves damaged chunks from every manager of the process:
// fault injection, set only in a build with -tags mmlsfaults (faults.go).
var corruptAll bool

// New makes a manager; nothing runs until Run.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Net == nil || cfg.Dir == "" {
		return nil, errors.New("files: Config needs Store, Net and Dir")
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.MaxActive <= 0 {
		cfg.MaxActive = 4
	}
	if cfg.Window <= 0 {
		cfg.Window = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 8 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	if cfg.syncFile == nil {
		cfg.syncFile = (*os.File).Sync
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Manager{cfg: cfg, frames: make(chan frameIn, 1024), out: make(chan Event, 256),
		stop: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1), held: map[ID]*holding{}, fetches: map[ID]*fetch{}, online: map[PeerID]bool{}}, nil
}

// Events reports what happens to transfers; the engine reads it.
func (m *Manager) Events() <-chan Event { return m.out }

// MaxSize is the size limit.
func (m *Manager) MaxSize() int64 { return m.cfg.MaxSize }

func (m *Manager) call(f func()) {
	m.mu.Lock()
	m.calls = append(m.calls, f)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) runCalls() {
	m.mu.Lock()
	calls := m.calls
	m.calls = nil
	m.mu.Unlock()
	for _, f := range calls {
		f()
	}
}

// Request queues a request a peer sent, parsed and authorised by the
// receiver of its frame (who may be served is the engine's to say: it
// knows who is in our rooms now); it reports false when the queue is full
// (the request is dropped: its sender asks again).
func (m *Manager) Request(from PeerID, r Request) bool {
	return m.queue(frameIn{from: from, req: &r})
}

// Data queues an answer a peer sent, parsed by the receiver of its frame;
// the manager takes it only from a holder it asked. It reports false when
// the queue is full (the answer is dropped: it is asked again).
func (m *Manager) Data(from PeerID, d Data) bool {
	return m.queue(frameIn{from: from, data: &d})
}

func (m *Manager) queue(in frameIn) bool {
	select {
	case m.frames <- in:
		return true
	default:
		return false
	}
}

// Prepare reads and seals the file at path for room, in the background:
// a Prepared event follows.
func (m *Manager) Prepare(room, path string) {
	limit := m.cfg.MaxSize
	go func() {
		o, man, err := Prepare(path, limit)
		if err == nil {
			err = m.cfg.Store.PutManifest(Key(m.cfg.Me, o.ID).String(), man)
		}
		m.emit(Prepared{Room: room, Path: path, Offer: o, Err: err})
	}()
}

// Hold starts serving the file f (sent by us, or saved).
func (m *Manager) Hold(f store.File) { m.call(func() { m.hold(f) }) }

// Fetch starts (or resumes) fetching f into f.DestDir.
func (m *Manager) Fetch(f store.File) { m.call(func() { m.startFetch(f) }) }

// Cancel stops fetching file key (running or waiting its turn).
func (m *Manager) Cancel(key ID) { m.call(func() { m.cancel(key) }) }

func (m *Manager) cancel(key ID) {
	if f := m.fetches[key]; f != nil {
		f.part.Close()
		delete(m.fetches, key)
	}
	m.waiting = slices.DeleteFunc(m.waiting, func(id ID) bool { return id == key })
	os.Remove(m.PartPath(key))
	rec, err := m.cfg.Store.GetFile(key.String())
	if err != nil || rec.State != store.FileFetching {
		return // saved (or failed) before the word came
	}
	rec.State, rec.Have, rec.Err = store.FileOffered, nil, ""
	if err := m.cfg.Store.PutFile(rec); err != nil {
		m.cfg.Logf("files: %v", err)
	}
	m.emit(Cancelled{ID: key})
	m.next()
}

// SetOnline says whether a peer is connected.
func (m *Manager) SetOnline(peer PeerID, up bool) {
	m.call(func() {
		m.online[peer] = up
		for _, id := range m.sortedFetches() {
			f := m.fetches[id]
			if !up {
				f.forget(peer) // what it owed is asked elsewhere, or again
			}
			m.pump(f)
		}
	})
}

func (m *Manager) emit(ev Event) {
	select {
	case m.out <- ev:
	case <-m.stop:
	}
}

// Run loads what the store says we hold and fetch, and runs until ctx
// ends.
func (m *Manager) Run(ctx context.Context) error {
	defer close(m.done)
	defer m.closeAll()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		close(m.stop)
	}()
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	// Partial files of an older version held plaintext: they go (what
	// they held is fetched again, sealed).
	if old, err := filepath.Glob(filepath.Join(m.cfg.Dir, "*.part")); err == nil {
		for _, p := range old {
			os.Remove(p)
		}
	}
	kept, err := m.cfg.Store.Files()
	if err != nil {
		return fmt.Errorf("files: %w", err)
	}
	for _, f := range kept {
		switch f.State {
		case store.FileSent, store.FileSaved:
			m.hold(f)
		case store.FileFetching:
			m.startFetch(f)
		}
	}
	tick := time.NewTicker(m.cfg.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.wake:
			m.runCalls()
		case fr := <-m.frames:
			switch {
			case fr.req != nil:
				m.serve(fr.from, *fr.req)
			case m.fetches[fr.data.ID] != nil:
				m.onData(m.fetches[fr.data.ID], fr.from, *fr.data)
			}
		case <-tick.C:
			m.onTick()
		}
	}
}

func (m *Manager) closeAll() {
	for _, f := range m.fetches {
		m.persist(f)
		f.part.Close()
	}
}

// offerOf parses a stored file's offer and the peers allowed to fetch it:
// its recipients and its sender; and its key.
func offerOf(f store.File) (*Offer, map[PeerID]bool, ID, error) {
	o, err := ParseOffer(f.Offer)
	if err != nil {
		return nil, nil, ID{}, err
	}
	from, ok := peerid.Parse(f.FromID)
	if !ok || Key(from, o.ID).String() != f.ID {
		return nil, nil, ID{}, fmt.Errorf("files: record %s is not its sender's offer", f.ID)
	}
	allowed := map[PeerID]bool{}
	for _, s := range append(slices.Clone(f.To), f.FromID) {
		if id, ok := peerid.Parse(s); ok {
			allowed[id] = true
		}
	}
	return o, allowed, Key(from, o.ID), nil
}

func (m *Manager) hold(f store.File) {
	o, allowed, key, err := offerOf(f)
	if err != nil {
		m.cfg.Logf("files: kept file %s: %v", f.ID, err)
		return
	}
	man, err := m.cfg.Store.Manifest(f.ID)
	if err != nil || len(man) != 32*o.Chunks() {
		m.cfg.Logf("files: kept file %s: no manifest", f.ID)
		return
	}
	s, err := NewSealer(o)
	if err != nil {
		return
	}
	delete(allowed, m.cfg.Me)
	m.held[key] = &holding{id: key, o: o, s: s, man: man, allowed: allowed, path: f.Source}
}

// serve answers a request: only the offer's recipients and sender get
// anything, and only chunks that match the manifest.
func (m *Manager) serve(from PeerID, r Request) {
	answer := Data{Request: r, Status: StatusMissing}
	defer func() {
		if err := m.cfg.Net.Send(from, answer.Frame()); err != nil {
			m.cfg.Logf("files: to %s: %v", from.Short(), err)
		}
	}()
	h := m.held[r.ID]
	if h == nil {
		if f := m.fetches[r.ID]; f != nil && f.man != nil {
			h = &f.holding
		}
	}
	switch {
	case h == nil:
		return
	case !h.allowed[from]:
		m.cfg.Logf("files: %s asked for file %s, not offered to it: refused", from.Short(), r.ID.Short())
		answer.Status = StatusRefused
		return
	case m.cfg.Net.QueuedBytes(from) > QueueShare:
		answer.Status = StatusBusy
		return
	}
	i := int(r.Index)
	if r.What == WhatPage {
		if p := h.man.Page(i); p != nil {
			answer.Status, answer.Bytes = StatusData, p
		}
		return
	}
	if i >= h.o.Chunks() || h.have != nil && !h.have.get(i) {
		return
	}
	sealed, err := h.read(i)
	if err != nil {
		m.cfg.Logf("files: file %s chunk %d: %v", r.ID.Short(), i, err)
		return
	}
	if m.cfg.Corrupt || corruptAll {
		sealed[len(sealed)/2] ^= 1
	}
	answer.Status, answer.Bytes = StatusData, sealed
}

// read seals chunk i from the plaintext we hold, and checks it against
// the manifest: a file changed on disk serves nothing (and never seals a
// second plaintext under one nonce).
func (h *holding) read(i int) ([]byte, error) {
	fd, err := os.Open(h.path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	return h.readFrom(fd, i)
}

// readFrom is read from an open file.
func (h *holding) readFrom(fd *os.File, i int) ([]byte, error) {
	if h.sealed {
		sealed := make([]byte, h.o.ChunkLen(i)+Overhead)
		if _, err := fd.ReadAt(sealed, sealedOffset(h.o, i)); err != nil {
			return nil, err
		}
		if !h.man.Matches(i, sealed) {
			return nil, errors.New("a partial file's chunk is not the one fetched")
		}
		return sealed, nil
	}
	plain := make([]byte, h.o.ChunkLen(i))
	if _, err := fd.ReadAt(plain, int64(i)*int64(h.o.Chunk)); err != nil && !(errors.Is(err, io.EOF) && len(plain) == 0) {
		return nil, err
	}
	sealed := h.s.Seal(make([]byte, 0, len(plain)+Overhead), i, plain)
	if !h.man.Matches(i, sealed) {
		return nil, errors.New("changed on disk since it was offered")
	}
	return sealed, nil
}

func (m *Manager) onTick() {
	for _, id := range m.sortedFetches() {
		f := m.fetches[id]
		f.expire(m.cfg.Timeout)
		m.pump(f)
		m.report(f, false)
	}
}

func (m *Manager) sortedFetches() []ID {
	ids := make([]ID, 0, len(m.fetches))
	for id := range m.fetches {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}

// fail ends a fetch for good.
func (m *Manager) fail(f *fetch, err error) {
	f.part.Close()
	os.Remove(f.path)
	delete(m.fetches, f.id)
	rec, gerr := m.cfg.Store.GetFile(f.id.String())
	if gerr == nil {
		rec.State, rec.Err, rec.Have = store.FileFailed, err.Error(), nil
		if perr := m.cfg.Store.PutFile(rec); perr != nil {
			m.cfg.Logf("files: %v", perr)
		}
	}
	m.emit(Failed{ID: f.id, Err: err})
	m.next()
}

// next starts a waiting fetch, if a slot is free.
func (m *Manager) next() {
	for len(m.waiting) > 0 && len(m.fetches) < m.cfg.MaxActive {
		id := m.waiting[0]
		m.waiting = m.waiting[1:]
		if rec, err := m.cfg.Store.GetFile(id.String()); err == nil && rec.State == store.FileFetching {
			m.startFetch(rec)
		}
	}
}

// PartPath is where file id's partial copy is kept, sealed, under a name
// that says nothing of the file on a sealed store (store.LocalName).
func (m *Manager) PartPath(id ID) string {
	return filepath.Join(m.cfg.Dir, m.cfg.Store.LocalName("partial file", id.String())+".sealed")
}

// sealedOffset is where chunk i lies in a partial file.
func sealedOffset(o *Offer, i int) int64 { return int64(i) * int64(o.Chunk+Overhead) }

// opened writes the plaintext of the sealed partial file h.path to out,
// checking it against the hash its sender announced.
func (h *holding) opened(out io.Writer) error {
	fd, err := os.Open(h.path)
	if err != nil {
		return err
	}
	defer fd.Close()
	sum := sha256.New()
	for i := range h.o.Chunks() {
		sealed, err := h.readFrom(fd, i)
		if err != nil {
			return fmt.Errorf("files: chunk %d: %w", i, err)
		}
		plain, err := h.s.Open(nil, i, sealed)
		if err != nil {
			return fmt.Errorf("files: chunk %d: %w", i, err)
		}
		sum.Write(plain)
		if _, err := out.Write(plain); err != nil {
			return fmt.Errorf("files: %w", err)
		}
	}
	if !bytes.Equal(sum.Sum(nil), h.o.SHA256[:]) {
		return errors.New("the file does not match the hash its sender announced")
	}
	return nil
}
