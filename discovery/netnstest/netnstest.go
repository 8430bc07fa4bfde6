// Package netnstest builds, for tests, a small LAN out of Linux network
// namespaces: a bridge in a namespace of its own and hosts in theirs,
// joined by veth pairs (eth0 inside each host, 10.77.0.N/24). Everything
// it creates is deleted when the test ends. It needs root and ip netns;
// where those are missing the test is skipped with a clear message, or
// fails under CI (CI=true), which can run it.
package netnstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// LAN is a bridge and its hosts.
type LAN struct {
	Bridge string
	Hosts  []string
}

// New builds a LAN of n hosts, or skips the test where that is impossible.
func New(t testing.TB, n int) *LAN {
	t.Helper()
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root to create network namespaces (ip netns); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		Unavailable(t, "needs the ip command (iproute2)")
	}
	sweep()
	var suf [3]byte
	rand.Read(suf[:])
	// The creating process's pid is in every name: a run killed before
	// its cleanup (a timeout, a mutation tester's kill) leaves namespaces
	// that the next New removes.
	tag := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(suf[:]))
	l := &LAN{Bridge: "mmls-" + tag + "-br"}
	for i := 0; i < n; i++ {
		l.Hosts = append(l.Hosts, fmt.Sprintf("mmls-%s-%d", tag, i))
	}
	if out, err := exec.Command("ip", "netns", "add", l.Bridge).CombinedOutput(); err != nil {
		Unavailable(t, fmt.Sprintf("ip netns is not permitted here: %v: %s", err, out))
	}
	t.Cleanup(func() {
		for _, ns := range append(l.Hosts, l.Bridge) {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("-n", l.Bridge, "link", "add", "br0", "type", "bridge")
	run("-n", l.Bridge, "link", "set", "br0", "up")
	for i, ns := range l.Hosts {
		run("netns", "add", ns)
		port := fmt.Sprintf("p%d", i)
		run("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", l.Bridge)
		run("-n", l.Bridge, "link", "set", port, "master", "br0")
		run("-n", l.Bridge, "link", "set", port, "up")
		run("-n", ns, "addr", "add", l.Addr(i)+"/24", "dev", "eth0")
		run("-n", ns, "link", "set", "eth0", "up")
		run("-n", ns, "link", "set", "lo", "up")
	}
	return l
}

// sweep deletes the namespaces New made in processes that are gone
// ("mmls-PID-..." with no /proc/PID).
func sweep() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "mmls-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 {
			continue // another tool's, or an older run's without a pid
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
}

// Unavailable skips a test this machine cannot run, saying why; under CI
// (CI=true), which can run every test, it fails it instead, so that a
// test that stopped running is not mistaken for one that passed.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this machine must run it)", why)
	}
	t.Skip(why)
}

// Addr is host i's address.
func (l *LAN) Addr(i int) string { return fmt.Sprintf("10.77.0.%d", i+1) }

// Command runs name with args inside host i's namespace.
func (l *LAN) Command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.Hosts[i], name}, args...)...)
}
