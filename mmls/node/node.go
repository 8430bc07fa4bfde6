// Package node assembles one participant: the store in its data
// directory, its identity, a listener, the transport, discovery and the
// engine, joined by the adapters that put the transport and discovery in
// the engine's terms. It is the only package that imports both the engine
// and the network. main builds the user's node with it, and the --demo
// mode its simulated participants.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery"
	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/transport"
)

// Config describes a node.
type Config struct {
	// Nick is the nick to use from now on; "" keeps the one the data
	// directory holds, or DefaultNick for a new identity.
	Nick        string
	DefaultNick string
	Data        string // data directory
	Version     string // the release, for /info
	// Store is the data directory's store, opened (and unlocked) by the
	// caller, which gives it to the node to close; nil: the node opens
	// Data's store, which must be plain.
	Store  *store.Store
	Listen string // listen address; a free port is used if its port is taken
	Peers  []string
	MDNS   bool
	Ifaces []string
	// Room is the room to start in; "" is the one on screen when the
	// node last stopped, else lobby.
	Room string
	// MaxFileSize bounds the files sent and saved (0: the default, 4 GiB).
	MaxFileSize int64
	// DownloadDir is where /save puts files by default ("": the user's
	// download folder, then mmls-chat).
	DownloadDir string
	// Notes receives the few lines a user should see outside the log
	// (a port fallback, mDNS unavailable). Nil sends them to Logf.
	Notes io.Writer
	// Logf is the node's log (nil: discard). main points it at the log
	// file.
	Logf func(format string, args ...any)
}

// A restart dials the MaxRecalled peers seen most recently, if seen in the
// last RecallFor.
const (
	MaxRecalled = 32
	RecallFor   = 30 * 24 * time.Hour
)

// UsageError is a bad setting (flag value, unusable directory): main
// reports it in one line and exits 2.
type UsageError struct{ Err error }

func (u *UsageError) Error() string { return u.Err.Error() }
func (u *UsageError) Unwrap() error { return u.Err }

// Node is a participant, ready to Run.
type Node struct {
	Engine *mmls.Engine
	Listen string
	MDNS   string

	st   *store.Store
	l    net.Listener
	tr   *transport.Transport
	disc *discovery.Discovery
	net  *network
	seen *sightings
	once sync.Once
}

// Validate checks the settings that need no file or socket.
func (cfg Config) Validate() error {
	if err := mmls.ValidNewNick(cfg.Nick); cfg.Nick != "" && err != nil {
		return &UsageError{fmt.Errorf("--nick: a nick is 1 to 32 printable characters without spaces")}
	}
	if cfg.Room != "" && (strings.ContainsAny(cfg.Room, " \t") || mmls.IsDirect(cfg.Room)) {
		return &UsageError{fmt.Errorf("--room: a room name is 1 to 64 characters without spaces")}
	}
	return nil
}

// Start builds the node; nothing runs until Run.
func Start(cfg Config) (_ *Node, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	n := &Node{}
	defer func() {
		if err != nil {
			n.shutdown() // whatever was opened before the failure
			n.Close()
		}
	}()
	if n.st = cfg.Store; n.st == nil {
		if n.st, err = store.Open(cfg.Data); err != nil {
			return nil, &UsageError{fmt.Errorf("--data %s: %w", cfg.Data, err)}
		}
	}
	// What the user should know about the start goes to the engine
	// (Ready carries it to the screen) and to cfg.Notes.
	var said []string
	notes := io.Writer(noteTaker{&said, cfg.Notes, cfg.Logf})
	env := dmls.Env{Rand: rand.Reader, Now: time.Now}
	fallback := cfg.DefaultNick
	if dmls.ValidNick(fallback) != nil {
		fallback = "anonymous" // a user name that is no nick
	}
	id, err := mmls.LoadIdentity(n.st, env, cfg.Nick, fallback)
	if err != nil {
		return nil, err
	}
	if n.l, err = listen(cfg.Listen, notes); err != nil {
		return nil, &UsageError{fmt.Errorf("--listen: %w", err)}
	}
	n.Listen = n.l.Addr().String()
	port := n.l.Addr().(*net.TCPAddr).Port
	n.tr, err = transport.New(transport.Config{Identity: id, Nick: id.Nick(), ListenPort: port, Logf: cfg.Logf})
	if err != nil {
		return nil, err
	}
	n.net = &network{tr: n.tr, events: make(chan mmls.NetEvent, mmls.MaxBatch)} // room for a batch to wait
	for _, p := range cfg.Peers {
		c, err := mmls.ParseContact(p)
		if err == nil {
			err = n.net.Connect(c.Addr, c.ID)
		}
		if err != nil {
			return nil, &UsageError{fmt.Errorf("--peer: %w", err)}
		}
	}
	// The peers we knew, at the address we last reached each at: found
	// again after a restart without mDNS or --peer.
	known, err := n.st.KnownPeers()
	if err != nil {
		return nil, err
	}
	for i, k := range known {
		if i == MaxRecalled || time.Since(k.Seen) > RecallFor {
			break
		}
		if id, ok := mmls.ParseID(k.ID); ok && k.Addr != "" {
			_ = n.tr.Recall(k.Addr, id)
		}
	}
	n.MDNS = "off (--no-mdns)"
	if cfg.MDNS {
		d, err := discovery.Start(discovery.Config{ID: id.Fingerprint(), Nick: id.Nick(),
			Port: port, Interfaces: cfg.Ifaces, Logf: cfg.Logf})
		if err != nil {
			// Said once, plainly; static peers still work.
			fmt.Fprintf(notes, "mDNS is unavailable (%v): peers can still be reached with --peer and /connect\n", err)
			n.MDNS = "unavailable"
		} else {
			n.disc = d
			n.seen = &sightings{d: d, ch: make(chan mmls.Sighting)}
			n.MDNS = "on (" + strings.Join(d.Interfaces(), ",") + ")"
		}
	}
	ecfg := mmls.Config{Identity: id, Store: n.st, Net: n.net, Room: cfg.Room, Listen: n.Listen, MDNS: n.MDNS, Version: cfg.Version,
		Addrs: reachable(n.l.Addr().(*net.TCPAddr)), Notes: said, Env: env, Logf: cfg.Logf,
		MaxFileSize: cfg.MaxFileSize, DownloadDir: cfg.DownloadDir}
	if n.seen != nil {
		ecfg.Discovery = n.seen
	}
	if n.Engine, err = mmls.New(ecfg); err != nil {
		return nil, err
	}
	return n, nil
}

// Run serves connections and runs the engine until ctx ends or a Quit;
// then it stops the network and waits for every goroutine it started. It
// returns the engine's result (ctx.Err() when ctx ended).
func (n *Node) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var served error
	wg.Go(func() {
		if err := n.tr.Serve(n.l); err != nil && !errors.Is(err, transport.ErrClosed) {
			served = fmt.Errorf("node: listening on %s: %w", n.Listen, err)
			_, _ = n.Engine.Do(ctx, mmls.Quit{}) // the listener failed: stop
		}
	})
	wg.Go(func() { n.net.pump(stop) })
	if n.seen != nil {
		wg.Go(func() { n.seen.pump(stop) })
	}
	err := n.Engine.Run(ctx)
	close(stop)
	n.shutdown()
	wg.Wait()
	if served != nil {
		// The listener failed: say so (the process exits non-zero).
		return served
	}
	return err
}

// shutdown stops discovery and the transport (its listener with it).
func (n *Node) shutdown() {
	n.once.Do(func() {
		if n.disc != nil {
			n.disc.Close()
		}
		if n.tr != nil {
			n.tr.Close()
		}
		if n.l != nil {
			n.l.Close()
		}
	})
}

// Close closes the store; call it after Run has returned (or instead of
// Run).
func (n *Node) Close() {
	n.shutdown()
	if n.st != nil {
		n.st.Close()
	}
}

// listen opens addr; when its port is taken it falls back to a free port
// and says which.
func listen(addr string, notes io.Writer) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l, nil
	}
	host, _, splitErr := net.SplitHostPort(addr)
	if splitErr != nil || !errors.Is(err, syscall.EADDRINUSE) {
		return nil, err
	}
	l, err2 := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err2 != nil {
		return nil, err
	}
	fmt.Fprintf(notes, "port %s is taken; listening on %s instead\n", addr, l.Addr())
	return l, nil
}

// noteTaker keeps each note for the engine's Ready, and copies it to a
// writer (headless: stderr) or, when there is none, to the log.
type noteTaker struct {
	said *[]string
	out  io.Writer
	logf func(format string, args ...any)
}

func (n noteTaker) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	*n.said = append(*n.said, line)
	if n.out != nil {
		fmt.Fprintf(n.out, "mmls-chat: %s\n", line)
	} else {
		n.logf("%s", line)
	}
	return len(p), nil
}

// reachable lists the addresses others can dial to reach a listener on
// l: l itself when it is bound to one address, else one per usable
// interface (up, not loopback; IPv4 first, then global IPv6), and the
// loopback address when there is no other.
func reachable(l *net.TCPAddr) []string {
	port := strconv.Itoa(l.Port)
	if !l.IP.IsUnspecified() {
		return []string{net.JoinHostPort(l.IP.String(), port)}
	}
	var v4, v6 []string
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || !ipn.IP.IsGlobalUnicast() {
				continue
			}
			if ip4 := ipn.IP.To4(); ip4 != nil {
				v4 = append(v4, net.JoinHostPort(ip4.String(), port))
			} else if l.IP.To4() == nil {
				v6 = append(v6, net.JoinHostPort(ipn.IP.String(), port))
			}
		}
	}
	if out := append(v4, v6...); len(out) > 0 {
		return out
	}
	return []string{net.JoinHostPort("127.0.0.1", port)}
}
