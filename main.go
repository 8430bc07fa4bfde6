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
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery"
	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/mmls/walkthrough"
	"github.com/mmls-chat/mmls-chat/transport"
	"github.com/mmls-chat/mmls-chat/ui"
	"github.com/mmls-chat/mmls-chat/ui/headless"

	tea "github.com/charmbracelet/bubbletea"
)

var version = "0.2.0-dev"

// DefaultPort is tried first; a free port is used when it is taken.
const DefaultPort = 7420

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	nick, data, listen, room, logFile string
	peers, ifaces                     list
	noMDNS, headless, showVersion     bool
	walkthrough                       bool
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
	fs.SetOutput(stderr)
	fs.StringVar(&o.nick, "nick", defaultNick(), "your nick")
	fs.StringVar(&o.data, "data", defaultData(), "data directory (identity, history)")
	fs.StringVar(&o.listen, "listen", fmt.Sprintf(":%d", DefaultPort), "listen address; a free port is used if this one is taken")
	fs.Var(&o.peers, "peer", "a peer's HOST:PORT to connect to (repeatable)")
	fs.BoolVar(&o.noMDNS, "no-mdns", false, "do not announce or browse with mDNS")
	fs.Var(&o.ifaces, "iface", "network interface for mDNS (repeatable; default: every suitable one)")
	fs.StringVar(&o.room, "room", "lobby", "room to start in")
	fs.BoolVar(&o.headless, "headless", false, "no interface: text lines on stdin, JSON events on stdout")
	fs.BoolVar(&o.walkthrough, "walkthrough", false, "narrate the protocol with three participants in one process, then exit")
	fs.StringVar(&o.logFile, "log", "", "log file (default: mmls-chat.log in the data directory)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mmls-chat [flags]")
		fmt.Fprintln(stderr, "\nEnd-to-end encrypted group chat for the LAN, no server. Peers are found by mDNS, or given with --peer.")
		fmt.Fprintln(stderr, "Type messages, or /help for the commands.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
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
	if err := dmls.ValidNick(o.nick); err != nil {
		return 2, fmt.Errorf("--nick: %w", err)
	}
	if o.room == "" || strings.ContainsAny(o.room, " \t") {
		return 2, fmt.Errorf("--room: a room name is 1 to 64 characters without spaces")
	}
	st, err := store.Open(o.data)
	if err != nil {
		return 2, fmt.Errorf("--data %s: %w", o.data, err)
	}
	defer st.Close()
	logPath := o.logFile
	if logPath == "" {
		logPath = filepath.Join(o.data, "mmls-chat.log")
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return 2, fmt.Errorf("--log: %w", err)
	}
	defer logFile.Close()
	logger := log.New(logFile, "", log.LstdFlags|log.Lmicroseconds)
	log.SetOutput(logFile) // zeroconf logs to the standard logger
	logf := logger.Printf

	env := dmls.Env{Rand: rand.Reader, Now: time.Now}
	id, err := mmls.LoadIdentity(st, env, o.nick)
	if err != nil {
		return 1, err
	}
	// In the terminal interface nothing but the interface may write to the
	// terminal: notes go to the log (and the status bar shows the state).
	notes := stderr
	if !o.headless {
		notes = logFile
	}
	l, err := listen(o.listen, notes)
	if err != nil {
		return 2, fmt.Errorf("--listen: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	tr, err := transport.New(transport.Config{Identity: id, Verify: dmls.Verify, Nick: id.Nick(), ListenPort: port, Logf: logf})
	if err != nil {
		l.Close()
		return 1, err
	}
	defer tr.Close()
	go tr.Serve(l)
	for _, p := range o.peers {
		if err := tr.Connect(p); err != nil {
			return 2, fmt.Errorf("--peer: %w", err)
		}
	}
	mdns := "off (--no-mdns)"
	var disc *discovery.Discovery
	if !o.noMDNS {
		d, err := discovery.Start(discovery.Config{ID: transport.IDOf(id.PublicKey()).String(), Nick: id.Nick(),
			Port: port, Interfaces: o.ifaces, Logf: logf})
		if err != nil {
			// Said once, plainly; static peers still work.
			fmt.Fprintf(notes, "mmls-chat: %v; carrying on with --peer and /connect\n", err)
			mdns = "unavailable: " + err.Error()
		} else {
			disc = d
			defer d.Close()
			mdns = "on (" + strings.Join(d.Interfaces(), ",") + ")"
		}
	}
	cfg := mmls.Config{Identity: id, Store: st, Net: tr, Room: o.room, Listen: l.Addr().String(), MDNS: mdns,
		Env: env, Logf: logf}
	if disc != nil {
		cfg.Discovery = disc
	}
	eng, err := mmls.New(cfg)
	if err != nil {
		return 1, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- eng.Run(ctx) }()
	if o.headless {
		if err := headless.Run(eng, stdin, stdout); err != nil {
			logf("%v", err)
		}
	} else {
		p := tea.NewProgram(ui.New(eng, ui.Options{MDNS: mdns}), tea.WithAltScreen(), tea.WithMouseCellMotion(),
			tea.WithInput(stdin), tea.WithOutput(stdout))
		if _, err := p.Run(); err != nil {
			logf("ui: %v", err)
		}
		cancel() // the interface quit: stop the engine
		for range eng.Events() {
		}
	}
	if err := <-runErr; err != nil {
		return 1, err
	}
	return 0, nil
}

// listen opens addr; when its port is taken it falls back to a free port
// and says which.
func listen(addr string, stderr io.Writer) (net.Listener, error) {
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
	fmt.Fprintf(stderr, "mmls-chat: %s is taken; listening on %s\n", addr, l.Addr())
	return l, nil
}
