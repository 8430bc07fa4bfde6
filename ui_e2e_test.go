package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery/netnstest"
	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// term is one terminal interface, run by a shell in a tmux session of
// its own: when the interface ends, the shell says so on the screen.
type term struct {
	t      *testing.T
	name   string // the tmux session
	data   string
	listen string
}

// exitedLine is what the shell shows once the interface has ended.
const exitedLine = "mmls-chat exited: "

// terminal starts the terminal interface of nick on loopback, without
// mDNS, in a tmux session 110x30; extra are more flags (--peer ...). At
// the first start's question it chooses no passphrase.
func terminal(t *testing.T, nick string, extra ...string) *term {
	t.Helper()
	tt := terminalAsked(t, nick, filepath.Join(t.TempDir(), nick), extra...)
	tt.wait("new passphrase:", 20*time.Second)
	tt.keys("Enter")
	tt.wait(nick+" (", 20*time.Second)
	return tt
}

// terminalAsked starts the interface on data and returns at once: the
// caller answers what it asks.
func terminalAsked(t *testing.T, nick, data string, extra ...string) *term {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		netnstest.Unavailable(t, "needs tmux (CI installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tt := &term{t: t, name: fmt.Sprintf("mmls%d-%s", time.Now().UnixNano()%1e9, nick), data: data, listen: l.Addr().String()}
	l.Close()
	var quoted []string
	for _, a := range append([]string{binary, "--nick", nick, "--data", tt.data, "--listen", tt.listen, "--no-mdns"}, extra...) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	tmuxSession(t, tt.name, strings.Join(quoted, " ")+"; echo "+exitedLine+"$?; exec sleep 600")
	return tt
}

// keys sends tmux key names (Enter, C-c, M-1, M-Left).
func (tt *term) keys(keys ...string) {
	tt.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", tt.name}, keys...)...).CombinedOutput(); err != nil {
		tt.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// text sends text as it is, in one write: the interface reads it in one
// go, as from a paste without bracketed paste, a script or a slow link.
func (tt *term) text(s string) {
	tt.t.Helper()
	if out, err := exec.Command("tmux", "send-keys", "-l", "-t", tt.name, s).CombinedOutput(); err != nil {
		tt.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// wait waits until the screen shows want, and returns the screen.
func (tt *term) wait(want string, timeout time.Duration) string {
	tt.t.Helper()
	return waitScreen(tt.t, tt.name, want, timeout)
}

// screen is what the pane shows now.
func (tt *term) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", tt.name).Output()
	return string(out)
}

// format is a tmux format of the pane (#{alternate_on}...).
func (tt *term) format(f string) string {
	tt.t.Helper()
	out, err := exec.Command("tmux", "display-message", "-p", "-t", tt.name, f).Output()
	if err != nil {
		tt.t.Fatalf("tmux display-message: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// pid is the interface's process id: the one child of the pane's shell.
func (tt *term) pid() int {
	tt.t.Helper()
	shell := tt.format("#{pane_pid}")
	b, err := os.ReadFile("/proc/" + shell + "/task/" + shell + "/children")
	if err != nil {
		tt.t.Fatalf("the children of the pane's shell: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		tt.t.Fatalf("the pane's shell has children %q, want one", f)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		tt.t.Fatal(err)
	}
	return pid
}

// inputLine is the line of the screen with the input prompt.
func inputLine(screen string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "›") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestE2ETextThatNamesKeys: words that are key names, typed in one read,
// stay text: "see you at the end" is typed whole (the word "end" used to
// move the cursor instead), a chunk "enter" is typed, not sent, and the
// text "ctrl+c" on an empty line is typed, not a quit.
func TestE2ETextThatNamesKeys(t *testing.T) {
	t.Parallel()
	alice := terminal(t, "alice")
	alice.text("see you at the end")
	alice.wait("› see you at the end", 10*time.Second)
	alice.keys("Enter")
	alice.wait("see you at the end · no one else here yet", 10*time.Second)
	alice.text("enter")
	alice.wait("› enter", 10*time.Second)
	alice.keys("C-u") // clear the line
	alice.text("ctrl+c")
	alice.wait("› ctrl+c", 10*time.Second)
	alice.keys("Enter")
	screen := alice.wait("ctrl+c · no one else here yet", 10*time.Second)
	if strings.Contains(screen, exitedLine) {
		t.Fatalf("the interface ended:\n%s", screen)
	}
	if in := inputLine(screen); strings.Contains(in, "ctrl+c") {
		t.Errorf("the input holds %q after Enter", in)
	}
}

// TestE2ESignalsRestoreTheTerminal: SIGTERM and SIGHUP end the terminal
// interface as /quit does, within 2 s, and give the terminal back: the
// shell's screen, not the alternate one, and no mouse reporting.
func TestE2ESignalsRestoreTheTerminal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			alice := terminal(t, "alice")
			if on := alice.format("#{alternate_on}"); on != "1" {
				t.Fatalf("the interface is not in the alternate screen (alternate_on %q)", on)
			}
			if err := syscall.Kill(alice.pid(), sig); err != nil {
				t.Fatal(err)
			}
			screen := alice.wait(exitedLine+"0", 2*time.Second)
			if strings.Contains(screen, "alice (") {
				t.Errorf("the screen still shows the interface:\n%s", screen)
			}
			if got := alice.format("#{alternate_on} #{mouse_any_flag} #{mouse_button_flag} #{mouse_sgr_flag}"); got != "0 0 0 0" {
				t.Errorf("alternate screen, mouse any, button, SGR: %s, want 0 0 0 0", got)
			}
		})
	}
}

// TestE2ERoomGivenWins: --room NAME wins over the room on screen when we
// stopped, and is joined when we are not in it: ready names it, and a
// typed line goes there (it went to the first stored room, a direct
// room here).
func TestE2ERoomGivenWins(t *testing.T) {
	t.Parallel()
	nodes := room(t, "alice", "bob")
	alice, bob := nodes[0], nodes[1]
	alice.say("/msg bob psst")
	alice.waitFor("sent psst", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == "psst" })
	alice.say("/switch lobby")
	alice.say("/rooms") // answered once the switch is done
	alice.waitFor("rooms", 10*time.Second, func(e headless.Record) bool { return e.Type == "rooms" })
	alice.quit()

	again := start(t, "alice", alice.data, "127.0.0.1:0", "--peer", bob.listen, "--room", "dev")
	ready := again.waitFor("ready", 10*time.Second, func(e headless.Record) bool { return e.Type == "ready" })
	if ready.Room != "dev" {
		t.Errorf("ready's room is %q, want dev", ready.Room)
	}
	again.waitFor("joined dev", 10*time.Second, func(e headless.Record) bool { return e.Type == "joined" && e.Room == "dev" })
	again.say("where does this go?")
	sent := again.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" })
	if sent.Room != "dev" {
		t.Errorf("the line went to %q, want dev", sent.Room)
	}
}

// TestE2EAltKeys: Alt+1..9 show room N of the panel, Alt+← and Alt+→ the
// previous and next room, Alt+A the next room with news (they typed
// characters instead, or froze the interface).
func TestE2EAltKeys(t *testing.T) {
	t.Parallel()
	alice := terminal(t, "alice")
	bob := start(t, "bob", filepath.Join(t.TempDir(), "bob"), "127.0.0.1:0", "--peer", alice.listen)
	for _, room := range []string{"dev", "ops"} {
		alice.text("/join " + room)
		alice.keys("Enter")
		alice.wait("#"+room+" · open", 10*time.Second)
	}
	steps := []struct{ key, room string }{
		{"M-1", "lobby"}, {"M-3", "ops"}, {"M-Left", "dev"}, {"M-Left", "lobby"}, {"M-Left", "ops"}, {"M-Right", "lobby"}, {"M-2", "dev"},
	}
	for _, s := range steps {
		alice.keys(s.key)
		alice.wait("#"+s.room+" · open", 10*time.Second)
	}
	bob.say("/join dev")
	bob.waitFor("bob in alice's group in dev", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "member" && e.Room == "dev" && e.Change == "added" && e.ID == bob.id
	})
	alice.keys("M-1")
	alice.wait("#lobby · open", 10*time.Second)
	bob.say("news in dev")
	sent := bob.waitFor("sent", 10*time.Second, func(e headless.Record) bool { return e.Type == "sent" && e.Text == "news in dev" })
	bob.waitFor("alice stored it", 30*time.Second, func(e headless.Record) bool { return e.Type == "delivered" && e.ID == sent.ID })
	alice.keys("M-a")
	screen := alice.wait("bob news in dev", 10*time.Second)
	if !strings.Contains(screen, "#dev · open") {
		t.Errorf("Alt+A did not show #dev:\n%s", screen)
	}
	if in := inputLine(screen); in != "› Write a message, or /help" {
		t.Errorf("the keys typed %q", in)
	}
}
