package netnstest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSweep: namespaces left by a process that is gone are removed by the
// next New; those of a live process, and names not New's, are left.
func TestSweep(t *testing.T) {
	if os.Geteuid() != 0 {
		Unavailable(t, "needs root to create network namespaces (ip netns); CI runs as root")
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := fmt.Sprintf("mmls-%d-sweep-0", gone.Process.Pid)
	alive := fmt.Sprintf("mmls-%d-sweep-0", os.Getpid())
	other := "mmls-notapid-sweep-0"
	for _, ns := range []string{dead, alive, other} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			Unavailable(t, fmt.Sprintf("ip netns is not permitted here: %v: %s", err, out))
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	sweep()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	have := func(ns string) bool {
		for _, line := range strings.Split(string(out), "\n") {
			if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); name == ns {
				return true
			}
		}
		return false
	}
	if have(dead) || !have(alive) || !have(other) {
		t.Fatalf("after the sweep: dead %v, alive %v, other %v (want false, true, true)", have(dead), have(alive), have(other))
	}
}
