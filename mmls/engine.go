package mmls

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Config configures an Engine. Identity, Store and Net are required.
type Config struct {
	Identity  *dmls.Identity
	Store     *store.Store
	Net       Network
	Discovery Discovery // nil without mDNS
	// Room is joined on a first start (default "lobby"), and interfaces
	// start in it.
	Room string
	// Listen and MDNS describe the node for Ready and Info; Addrs are
	// where others can reach it, Notes what the user should know about
	// its start (both go out with Ready).
	Listen string
	MDNS   string
	Addrs  []string
	Notes  []string
	// Version is the release, for Info.
	Version string
	Env     dmls.Env
	Policy  dmls.Config
	// Tick drives session timers (default 1 s); ResendAfter is how long a
	// missing receipt waits before the message is protected again
	// (default 30 s).
	Tick        time.Duration
	ResendAfter time.Duration
	// AddHold is how long a newcomer's Add waits for others to share its
	// commit (default AddHold; negative: none, each Add commits at once,
	// as a simulation that drives time itself needs).
	AddHold time.Duration
	// MaxFileSize bounds the files we send and save (default
	// files.DefaultMaxSize); FilesDir holds partial downloads (default:
	// "files" beside the store).
	MaxFileSize int64
	FilesDir    string
	// DownloadDir is where /save puts files by default (default
	// files.DownloadDir(): $XDG_DOWNLOAD_DIR or ~/Downloads, then
	// mmls-chat).
	DownloadDir string
	// RoomSize caps our send group in each room (default and most
	// dmls.MaxMembers).
	RoomSize int
	// HoldLimits bound what we keep of others' messages to hand on, per
	// author and room (zero: DefaultHoldLimits).
	HoldLimits store.HoldLimits
	// CorruptChunks makes this node serve damaged file chunks: fault
	// injection for tests that play a hostile holder.
	CorruptChunks bool
	Logf          func(format string, args ...any)
}

// Engine runs rooms over the network. Create it with New and run it with
// Run: the goroutine running Run owns all protocol state, so nothing in it
// needs a lock. Others talk to it through Do (a command in, its answer
// out) and read what happens from Events.
type Engine struct {
	cfg       Config
	roomGiven bool      // cfg.Room was set: it, not the last room, opens first
	kept      keptLater // notes and peers seen, written each tick (notes.go)
	lastRoom  string    // the room last put on screen
	commit    batching  // what waits for the open batch's commit, and held Adds (batch.go)
	files     *files.Manager
	autoSave  int64   // files up to it are saved as offered (SetAutoSave)
	holds     holding // whether we hold for others, what waits in memory, the last pruning (heldbuffer.go)
	id        *dmls.Identity
	me        ID
	st        *store.Store
	net       Network
	requests  chan request
	events    chan Event
	done      chan struct{}

	start string // the room interfaces start in
	rooms map[string]*room
	byID  map[dmls.RoomID]*room
	peers map[ID]*peerState
	// nick: ours now (the credentials', until /nick changes it for this
	// run; the next start puts it in them).
	nick string
	// away: why we are away, "" when we are not (for this run).
	away string
	// looks: the look-alike state (lookalike.go).
	looks lookAlikes
	// resend: when our messages were last protected again (outbox.go).
	resend resending
	// quota: what each sender made us store (consent.go).
	quota quotas
	// toldFull: (room, peer) pairs told to wait for a place.
	toldFull map[string]bool
	// ours: what our messages' recipients have not acknowledged (acks.go).
	ours unacked
	// knownBefore: peers we knew before this start (a full room makes
	// room for them).
	knownBefore map[ID]bool
}

type request struct {
	cmd   Command
	reply chan reply
}

type reply struct {
	ev  Event
	err error
}

// HistoryLines is how many stored messages per room a History event
// carries when a room opens.
const HistoryLines = 500

// New makes an engine; nothing runs until Run.
func New(cfg Config) (*Engine, error) {
	if cfg.Identity == nil || cfg.Store == nil || cfg.Net == nil {
		return nil, errors.New("mmls: Config needs Identity, Store and Net")
	}
	roomGiven := cfg.Room != ""
	if !roomGiven {
		cfg.Room = "lobby"
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.ResendAfter <= 0 {
		cfg.ResendAfter = 30 * time.Second
	}
	if cfg.AddHold == 0 {
		cfg.AddHold = AddHold
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.HoldLimits == (store.HoldLimits{}) {
		cfg.HoldLimits = DefaultHoldLimits
	}
	if cfg.DownloadDir == "" {
		cfg.DownloadDir = files.DownloadDir()
	}
	if cfg.FilesDir == "" {
		cfg.FilesDir = filepath.Join(filepath.Dir(cfg.Store.Path()), "files")
	}
	fm, err := files.New(files.Config{Store: cfg.Store, Net: filesNet{cfg.Net}, Me: cfg.Identity.Fingerprint(), Dir: cfg.FilesDir,
		MaxSize: cfg.MaxFileSize, Logf: cfg.Logf, Corrupt: cfg.CorruptChunks})
	if err != nil {
		return nil, err
	}
	return &Engine{
		files: fm,
		cfg:   cfg, roomGiven: roomGiven, id: cfg.Identity, me: cfg.Identity.Fingerprint(), st: cfg.Store, net: cfg.Net,
		requests: make(chan request), events: make(chan Event, 1024), done: make(chan struct{}),
		rooms: map[string]*room{}, byID: map[dmls.RoomID]*room{}, peers: map[ID]*peerState{},
		nick: cfg.Identity.Nick(), resend: resending{at: map[string]time.Time{}}, holds: holding{on: true},
		toldFull: map[string]bool{}, knownBefore: map[ID]bool{},
		looks: lookAlikes{warned: map[ID]bool{}, selfSkel: skeleton(cfg.Identity.Nick())},
		quota: quotas{told: map[string]bool{}, used: map[string]int64{}, added: map[string]int64{}},
		ours:  unacked{pending: map[string]map[ID]map[uint64]string{}},
	}, nil
}

// LoadIdentity returns the stored identity, creating one on a first start
// (named nick, or fallback when nick is ""), and records a changed nick; a
// nick of "" keeps the stored one.
func LoadIdentity(st *store.Store, env dmls.Env, nick, fallback string) (*dmls.Identity, error) {
	saved, err := st.Identity()
	switch {
	case errors.Is(err, store.ErrNotFound):
		if nick == "" {
			nick = fallback
		}
		id, err := dmls.NewIdentity(env, nick)
		if err != nil {
			return nil, err
		}
		return id, st.SetIdentity(store.Identity{Seed: id.Seed(), Nick: nick})
	case err != nil:
		return nil, err
	}
	if nick == "" {
		nick = saved.Nick
	}
	id, err := dmls.IdentityFromSeed(saved.Seed, nick)
	if err != nil {
		return nil, err
	}
	if nick != saved.Nick {
		err = st.SetIdentity(store.Identity{Seed: saved.Seed, Nick: nick})
	}
	return id, err
}

// ID returns our id.
func (e *Engine) ID() ID { return e.me }

// Events returns the engine's events, in the order they happened; the
// channel closes when Run returns. It must be read: the engine waits for
// room in it.
func (e *Engine) Events() <-chan Event { return e.events }

// Do runs a command on the engine's goroutine and returns its answer (nil
// for commands whose effects are reported as events: Joined, Sent, ...) or
// an error that errors.Is matches against the Err* kinds and [Describe]
// puts in plain words. Commands from one caller run in the order they are
// given.
func (e *Engine) Do(ctx context.Context, c Command) (Event, error) {
	req := request{cmd: c, reply: make(chan reply, 1)}
	select {
	case e.requests <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-e.done:
		return nil, failf(ErrStopped, "the chat engine has stopped")
	}
	select {
	case r := <-req.reply:
		return r.ev, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run runs the engine until ctx ends (it returns ctx.Err()), a Quit
// command (nil), or the network stops.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.events)
	defer close(e.done)
	defer e.flushKept()
	defer e.writeAllHeld()
	if err := e.open(); err != nil {
		return err
	}
	fctx, stopFiles := context.WithCancel(ctx)
	filesDone := make(chan struct{})
	go func() {
		defer close(filesDone)
		if err := e.files.Run(fctx); err != nil && !errors.Is(err, context.Canceled) {
			e.fail(err)
		}
	}()
	defer func() { stopFiles(); <-filesDone }()
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	var sightings <-chan Sighting
	if e.cfg.Discovery != nil {
		sightings = e.cfg.Discovery.Sightings()
	}
	netEvents := e.net.Events()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case req := <-e.requests:
			if _, line := req.cmd.(Say); line {
				// A line shares the store commit (and its fsync) of the
				// frames waiting beside it, and is answered once durable.
				if e.batch(func() { e.doStored(req) }, netEvents) {
					return errors.New("mmls: network stopped")
				}
				continue
			}
			ev, err := e.do(req.cmd)
			e.holdAdds()
			if ev != nil {
				ev.stamp(e.now())
			}
			req.reply <- reply{ev, err}
			if _, quit := req.cmd.(Quit); quit {
				return nil
			}
		case fe := <-e.files.Events():
			e.onFileEvent(fe)
		case ev, ok := <-netEvents:
			if ok && unstored(ev) {
				e.onNet(ev) // no store writes: no batch
				continue
			}
			if !ok || e.netBatch(ev, netEvents) {
				return errors.New("mmls: network stopped")
			}
		case s, ok := <-sightings:
			if !ok {
				sightings = nil
				continue
			}
			e.onSighting(s)
		case <-tick.C:
			if e.batch(e.onTick, netEvents) {
				return errors.New("mmls: network stopped")
			}
		case <-e.commit.release:
			if e.batch(e.releaseHeld, netEvents) {
				return errors.New("mmls: network stopped")
			}
		}
	}
}

func (e *Engine) now() time.Time { return e.cfg.Env.Now() }

func (e *Engine) emit(ev Event) {
	ev.stamp(e.now())
	if e.commit.held != nil {
		// In a batch: shown once it is durable (a message or an
		// invitation only if it was stored).
		_, message := ev.(*Message)
		_, invite := ev.(*InviteReceived)
		_, sent := ev.(*Sent)
		e.commit.held = append(e.commit.held, deferred{event: ev, durable: message || invite || sent})
		return
	}
	e.keep(ev)
	e.events <- ev
}

// fail reports a failure outside any command, and logs it whole.
func (e *Engine) fail(err error) {
	e.cfg.Logf("mmls: %v", err)
	e.emit(&Failure{Err: err})
}

// storageErr is a failed write or read of the data directory.
func storageErr(err error) error {
	return failWith(ErrStorage, err, "could not use the data directory")
}

func (e *Engine) roomNames() []string {
	names := make([]string, 0, len(e.rooms))
	for n := range e.rooms {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
