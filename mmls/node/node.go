// Package node assembles one participant: the store in its data
// directory, its log file, its identity, a listener, the transport,
// discovery and the engine. main builds the user's node with it, and the
// --demo mode builds its simulated participants the same way.
package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
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
	Nick   string
	Data   string // data directory
	Log    string // log file (default: mmls-chat.log in Data)
	Listen string // listen address; a free port is used if its port is taken
	Peers  []string
	MDNS   bool
	Ifaces []string
	Room   string
	// Notes receives the few lines a user should see outside the log
	// (a port fallback, mDNS unavailable). Nil sends them to the log.
	Notes io.Writer
	// StdLog points the standard library logger (zeroconf's) at the log
	// file; only the program's main node should set it.
	StdLog bool
}

// UsageError is a bad setting (flag value, unusable directory): main
// reports it in one line and exits 2.
type UsageError struct{ Err error }

func (u *UsageError) Error() string { return u.Err.Error() }
func (u *UsageError) Unwrap() error { return u.Err }

// Node is a running participant.
type Node struct {
	Engine *mmls.Engine
	Listen string
	MDNS   string
	Logf   func(format string, args ...any)

	st      *store.Store
	logFile *os.File
	tr      *transport.Transport
	disc    *discovery.Discovery
}

// Start builds the node; Run runs its engine.
func Start(cfg Config) (_ *Node, err error) {
	if err := dmls.ValidNick(cfg.Nick); err != nil {
		return nil, &UsageError{fmt.Errorf("--nick: %w", err)}
	}
	if cfg.Room == "" || strings.ContainsAny(cfg.Room, " \t") || strings.HasPrefix(cfg.Room, "dm:") {
		return nil, &UsageError{fmt.Errorf("--room: a room name is 1 to 64 characters without spaces")}
	}
	n := &Node{}
	defer func() {
		if err != nil {
			n.Close() // whatever was opened before the failure
		}
	}()
	if n.st, err = store.Open(cfg.Data); err != nil {
		return nil, &UsageError{fmt.Errorf("--data %s: %w", cfg.Data, err)}
	}
	logPath := cfg.Log
	if logPath == "" {
		logPath = filepath.Join(cfg.Data, "mmls-chat.log")
	}
	if n.logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return nil, &UsageError{fmt.Errorf("--log: %w", err)}
	}
	logger := log.New(n.logFile, "", log.LstdFlags|log.Lmicroseconds)
	if cfg.StdLog {
		log.SetOutput(n.logFile) // zeroconf logs to the standard logger
	}
	n.Logf = logger.Printf
	notes := cfg.Notes
	if notes == nil {
		notes = n.logFile
	}

	env := dmls.Env{Rand: rand.Reader, Now: time.Now}
	id, err := mmls.LoadIdentity(n.st, env, cfg.Nick)
	if err != nil {
		return nil, err
	}
	l, err := listen(cfg.Listen, notes)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("--listen: %w", err)}
	}
	n.Listen = l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	n.tr, err = transport.New(transport.Config{Identity: id, Verify: dmls.Verify, Nick: id.Nick(), ListenPort: port, Logf: n.Logf})
	if err != nil {
		l.Close()
		return nil, err
	}
	go func(tr *transport.Transport, l net.Listener) { tr.Serve(l) }(n.tr, l)
	for _, p := range cfg.Peers {
		if err := n.tr.Connect(p); err != nil {
			return nil, &UsageError{fmt.Errorf("--peer: %w", err)}
		}
	}
	n.MDNS = "off (--no-mdns)"
	if cfg.MDNS {
		d, err := discovery.Start(discovery.Config{ID: transport.IDOf(id.PublicKey()).String(), Nick: id.Nick(),
			Port: port, Interfaces: cfg.Ifaces, Logf: n.Logf})
		if err != nil {
			// Said once, plainly; static peers still work.
			fmt.Fprintf(notes, "mmls-chat: %v; carrying on with --peer and /connect\n", err)
			n.MDNS = "unavailable"
		} else {
			n.disc = d
			n.MDNS = "on (" + strings.Join(d.Interfaces(), ",") + ")"
		}
	}
	ecfg := mmls.Config{Identity: id, Store: n.st, Net: n.tr, Room: cfg.Room, Listen: n.Listen, MDNS: n.MDNS, Env: env, Logf: n.Logf}
	if n.disc != nil {
		ecfg.Discovery = n.disc
	}
	if n.Engine, err = mmls.New(ecfg); err != nil {
		return nil, err
	}
	return n, nil
}

// Run runs the engine until ctx ends or /quit.
func (n *Node) Run(ctx context.Context) error { return n.Engine.Run(ctx) }

// Close stops discovery and the transport and closes the store and log.
// Call it after Run has returned.
func (n *Node) Close() {
	if n.disc != nil {
		n.disc.Close()
	}
	if n.tr != nil {
		n.tr.Close()
	}
	if n.st != nil {
		n.st.Close()
	}
	if n.logFile != nil {
		n.logFile.Close()
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
	fmt.Fprintf(notes, "mmls-chat: %s is taken; listening on %s\n", addr, l.Addr())
	return l, nil
}
