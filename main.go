// Command mmls-chat is an end-to-end encrypted group chat for the terminal
// that needs no server.
//
// Without flags it starts the terminal interface; --headless runs the same
// chat with text lines on stdin and JSON events on stdout; --walkthrough
// narrates the protocol with three participants in one process.
//
// main owns every lifetime: it parses flags, opens the store, sets up the
// log file (nothing but the interface may write to the terminal; zeroconf
// logs to the standard logger, which goes to the file), builds the
// transport, discovery and engine, and shuts them down in order.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/demo"
	"github.com/mmls-chat/mmls-chat/mmls/files"
	"github.com/mmls-chat/mmls-chat/mmls/node"
	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/mmls/walkthrough"
	"github.com/mmls-chat/mmls-chat/ui"
	"github.com/mmls-chat/mmls-chat/ui/headless"
	"golang.org/x/sync/errgroup"

	tea "github.com/charmbracelet/bubbletea"
	xterm "github.com/charmbracelet/x/term"
)

var version = "0.2.0-dev"

// DefaultPort is tried first; a free port is used when it is taken.
const DefaultPort = 7420

func main() {
	tuneGC()
	// MMLS_CPUPROFILE=PREFIX writes a CPU profile to PREFIX.PID until the
	// process ends (for benchmarks of whole nodes; see docs/benchmarks.md).
	if prefix := os.Getenv("MMLS_CPUPROFILE"); prefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid())); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// GCPercent and MemoryLimit set the garbage collector unless GOGC or
// GOMEMLIMIT do: the heap may grow by four times what is live before a
// collection (Go's default is once), within a soft limit. A chat's live heap is a few
// megabytes and its garbage comes from every frame; collecting a quarter
// as often took a fifth off the CPU of a delivery in a room of 20
// (docs/benchmarks.md), for about 10 MB more per process.
const (
	GCPercent   = 400
	MemoryLimit = 256 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

// size is a byte count flag: 1048576, 500MB, 4GiB.
type size int64

func (s *size) String() string {
	n := int64(*s)
	switch {
	case n > 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return mmls.Bytes(n)
}
func (s *size) Set(v string) error {
	n, err := mmls.ParseBytes(v)
	if err != nil {
		return err
	}
	*s = size(n)
	return nil
}

type options struct {
	nick, data, listen, room, logFile string
	peers, ifaces                     list
	noMDNS, headless, showVersion     bool
	noNotify                          bool
	maxFile                           size
	walkthrough, demo                 bool
	passFile                          string
	showLog                           bool
}

func defaultNick() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return n
	}
	return "anonymous"
}

func defaultData() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "mmls-chat")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "mmls-chat")
	}
	return "mmls-chat-data"
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mmls-chat", flag.ContinueOnError)
	fs.StringVar(&o.nick, "nick", "", "your nick (default: the one you last set, else your user name)")
	fs.StringVar(&o.data, "data", defaultData(), "data directory (identity, history)")
	fs.StringVar(&o.listen, "listen", fmt.Sprintf(":%d", DefaultPort), "listen address; a free port is used if this one is taken")
	fs.Var(&o.peers, "peer", "a peer's HOST:PORT to connect to (repeatable)")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not announce or browse with mDNS")
	fs.BoolVar(&o.noNotify, "no-notify", false, "no desktop notifications (mentions, direct messages) this run; /notify off for good")
	o.maxFile = size(files.DefaultMaxSize)
	fs.Var(&o.maxFile, "max-file", "largest file to send or save (e.g. 500MB, 4GiB)")
	fs.Var(&o.ifaces, "iface", "network interface for mDNS (repeatable; default: every suitable one)")
	fs.StringVar(&o.room, "room", "", "room to start in (default: the one you were in, else lobby)")
	fs.BoolVar(&o.headless, "headless", false, "no interface: text lines on stdin, JSON events on stdout")
	fs.BoolVar(&o.demo, "demo", false, "try it alone: you and two simulated participants on this machine (temporary data)")
	fs.BoolVar(&o.walkthrough, "walkthrough", false, "narrate the protocol with three participants in one process, then exit")
	fs.StringVar(&o.logFile, "log", "", "log file (default: mmls-chat.log in the data directory)")
	fs.StringVar(&o.passFile, "passphrase-file", os.Getenv("MMLS_PASSPHRASE_FILE"), "file whose first line is the passphrase of the data directory (default: $MMLS_PASSPHRASE_FILE; else the interface asks)")
	fs.BoolVar(&o.showLog, "show-log", false, "print the log file (an encrypted one needs the passphrase) and exit")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	// The flag package would print the whole usage on any mistake, on
	// stderr; --help asked for it (stdout, exit 0), a mistake gets one
	// line and a hint.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: mmls-chat [flags]")
			fmt.Fprintln(stdout, "\nEnd-to-end encrypted group chat for the LAN, no server. Peers are found by mDNS, or given with --peer.")
			fmt.Fprintln(stdout, "Type messages, or /help for the commands.")
			fmt.Fprintln(stdout)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "mmls-chat: %v (see --help)\n", err)
		return 2
	}
	nickGiven := false
	fs.Visit(func(f *flag.Flag) { nickGiven = nickGiven || f.Name == "nick" })
	if nickGiven && o.nick == "" {
		fmt.Fprintln(stderr, "mmls-chat: --nick: a nick is 1 to 32 printable characters")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mmls-chat: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	if o.showVersion {
		fmt.Fprintln(stdout, "mmls-chat", version)
		return 0
	}
	if o.walkthrough {
		if err := walkthrough.Run(stdout); err != nil {
			fmt.Fprintln(stderr, "mmls-chat:", err)
			return 1
		}
		return 0
	}
	if o.showLog {
		if err := showLog(o, stdin, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "mmls-chat:", err)
			return 1
		}
		return 0
	}
	code, err := runChat(o, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mmls-chat:", err)
	}
	return code
}

// runChat builds the node and runs it behind the terminal interface or the
// headless mode. It returns the exit code (2 for bad flags or an unusable
// data directory).
func runChat(o options, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	// SIGINT, SIGTERM and SIGHUP (the terminal went away) end the chat as
	// /quit does. main alone handles them: bubbletea's own handler, racing
	// with this one, could block on a program that had already stopped,
	// leaving the terminal frozen in the alternate screen.
	signalled, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cfg := node.Config{Nick: o.nick, DefaultNick: defaultNick(), Data: o.data, Version: version, Listen: o.listen, Peers: o.peers,
		MDNS: !o.noMDNS, Ifaces: o.ifaces, Room: o.room, MaxFileSize: int64(o.maxFile)}
	if o.demo {
		// The user and two simulated participants, in temporary data
		// directories, on loopback only.
		dir, err := os.MkdirTemp("", "mmls-chat-demo")
		if err != nil {
			return 1, err
		}
		defer os.RemoveAll(dir)
		cfg.Data, cfg.Listen, cfg.MDNS, cfg.Peers = filepath.Join(dir, "you"), "127.0.0.1:0", false, nil
		cfg.DownloadDir = filepath.Join(dir, "downloads") // a demo's files go with it
		if o.logFile == "" {
			o.logFile = filepath.Join(dir, "mmls-chat.log")
		}
	}
	if err := cfg.Validate(); err != nil {
		return 2, err
	}
	var logKey []byte
	unencrypted := false
	if !o.demo {
		// The store first: a sealed one's log is sealed too. The
		// interface asks for a passphrase before its screen starts.
		var ask func(bool) ([]byte, error)
		if f, ok := stdin.(*os.File); ok && !o.headless && xterm.IsTerminal(f.Fd()) {
			ask = func(choose bool) ([]byte, error) { return ui.AskPassphrase(signalled, stdin, stdout, cfg.Data, choose) }
		}
		st, err := node.OpenStore(cfg.Data, node.Unlock{File: o.passFile, Ask: ask})
		var usage *node.UsageError
		if errors.As(err, &usage) {
			return 2, err
		}
		if err != nil {
			return 1, err
		}
		cfg.Store, logKey, unencrypted = st, st.LogKey(), !st.Sealed()
		// Argon2id's 64 MiB are garbage now: give them back at once
		// rather than carry them for minutes.
		debug.FreeOSMemory()
	}
	logf, closeLog, err := openLog(o.logFile, cfg.Data, logKey)
	if err != nil {
		if cfg.Store != nil {
			cfg.Store.Close()
		}
		return 2, err
	}
	defer closeLog()
	cfg.Logf = logf
	// In the terminal interface nothing but the interface writes to the
	// terminal: notes go to the log and, with Ready, to the screen.
	if o.headless {
		cfg.Notes = stderr
	}
	n, err := node.Start(cfg)
	var usage *node.UsageError
	if errors.As(err, &usage) {
		return 2, err
	}
	if err != nil {
		return 1, err
	}
	defer n.Close()

	// Every goroutine main starts belongs to this group; all end when the
	// node stops (a /quit, the end of input, or a signal).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g errgroup.Group
	if o.demo {
		wait, err := demo.Start(ctx, filepath.Dir(cfg.Data), n.Listen, logf)
		if err != nil {
			return 1, err
		}
		g.Go(func() error { wait(); return nil })
	}
	g.Go(func() error {
		defer cancel() // the node stopped: stop the demo and the interface
		if err := n.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	})
	// A signal ends the chat as /quit does: the interface quits (and
	// restores the terminal), then the node stops.
	quit := cancel
	var p *tea.Program
	if !o.headless {
		mdns := n.MDNS
		if o.demo {
			mdns = "off (a demo: everyone is on this machine)"
		}
		p = tea.NewProgram(ui.New(n.Engine, ui.Options{MDNS: mdns, NoNotify: o.noNotify, Unencrypted: unencrypted}), tea.WithAltScreen(), tea.WithMouseCellMotion(),
			tea.WithInput(stdin), tea.WithOutput(stdout), tea.WithContext(ctx), tea.WithoutSignalHandler())
		quit = p.Quit
	}
	g.Go(func() error {
		select {
		case <-signalled.Done():
			quit()
		case <-ctx.Done():
		}
		return nil
	})
	g.Go(func() error {
		defer cancel() // the interface ended: stop the node
		if o.headless {
			return headless.Run(ctx, n.Engine, stdin, stdout)
		}
		_, err := p.Run()
		cancel()
		for range n.Engine.Events() { // let the engine stop
		}
		if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			return fmt.Errorf("ui: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		logf("mmls-chat: %v", err)
		return 1, err
	}
	return 0, nil
}

// openLog opens the log file (default: mmls-chat.log in the data
// directory, made 0700 first) and points the standard logger at it, since
// zeroconf logs there: nothing but the interface may write to the
// terminal.
func openLog(path, data string, key []byte) (logf func(string, ...any), closeLog func(), err error) {
	own := path == "" // the data directory's own log, not a file the user named
	if own {
		if err := os.MkdirAll(data, 0o700); err != nil {
			return nil, nil, fmt.Errorf("--data %s: %w", data, err)
		}
		path = filepath.Join(data, logName)
	}
	// With a key (the store is sealed) every line is sealed: the log
	// shows a thief of the folder how many lines, not what they say.
	f, err := store.OpenLog(path, key, own)
	if err != nil {
		return nil, nil, fmt.Errorf("--log: %w", err)
	}
	logger := log.New(f, "", log.LstdFlags|log.Lmicroseconds)
	log.SetOutput(f)
	return logger.Printf, func() {
		log.SetOutput(os.Stderr)
		f.Close()
	}, nil
}

// logName is the log file in the data directory.
const logName = "mmls-chat.log"

// showLog prints the log: a sealed one opened with the data's passphrase
// (from --passphrase-file, else asked), read while no chat runs on it.
func showLog(o options, stdin io.Reader, stdout, stderr io.Writer) error {
	path := o.logFile
	if path == "" {
		path = filepath.Join(o.data, logName)
	}
	var key []byte
	st, err := store.Inspect(o.data)
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("--data %s is in use: stop that chat, then --show-log", o.data)
		}
		return err
	}
	if st == store.StateSealed {
		var ask func(bool) ([]byte, error)
		if f, ok := stdin.(*os.File); ok && xterm.IsTerminal(f.Fd()) {
			ask = func(bool) ([]byte, error) {
				return ui.AskPassphrase(context.Background(), stdin, stderr, o.data, false)
			}
		}
		s, err := node.OpenStore(o.data, node.Unlock{File: o.passFile, Ask: ask})
		if err != nil {
			return err
		}
		key = s.LogKey()
		s.Close()
	}
	return store.ReadLog(path, key, stdout)
}
