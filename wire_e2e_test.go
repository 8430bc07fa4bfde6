package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery/netnstest"
	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
	"github.com/mmls-chat/mmls-chat/ui/headless"
)

// freePorts returns n loopback ports free at the time of the call.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var held []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range held {
		l.Close()
	}
	return ports
}

// capture runs tcpdump on loopback for the given ports until stop.
func capture(t *testing.T, file string, ports []int) (stop func()) {
	t.Helper()
	path, err := exec.LookPath("tcpdump")
	if err != nil {
		netnstest.Unavailable(t, "needs tcpdump (CI installs it)")
	}
	var filter []string
	for _, p := range ports {
		filter = append(filter, fmt.Sprintf("port %d", p))
	}
	cmd := exec.Command(path, "-i", "lo", "--immediate-mode", "-Z", "root", "-s", "0", "-w", file, "tcp and ("+strings.Join(filter, " or ")+")")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		netnstest.Unavailable(t, fmt.Sprintf("tcpdump: %v", err))
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
	}()
	select {
	case line := <-ready:
		if !strings.Contains(line, "listening on") {
			cmd.Process.Kill()
			cmd.Wait()
			netnstest.Unavailable(t, "tcpdump: "+line)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("tcpdump did not start")
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGINT)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}

// TestE2EPrivateRoomOnTheWire: alice creates a private room and invites
// bob; carol, connected too, types /join with the same name and sees
// nothing of it. A capture of all their traffic holds none of the nicks,
// room names, room ids, participant ids or message texts: a passive
// observer learns that three addresses talk, and nothing else.
func TestE2EPrivateRoomOnTheWire(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ports := freePorts(t, 3)
	pcap := filepath.Join(dir, "wire.pcap")
	stop := capture(t, pcap, ports)
	nick := map[string]string{"alice": "alice-7Qx9w", "bob": "bob-7Qx9wz", "carol": "carol-7Qx9w"}
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	alice := start(t, nick["alice"], filepath.Join(dir, "alice"), addr(0))
	bob := start(t, nick["bob"], filepath.Join(dir, "bob"), addr(1), "--peer", alice.listen)
	carol := start(t, nick["carol"], filepath.Join(dir, "carol"), addr(2), "--peer", alice.listen)
	for _, p := range []*proc{alice, bob, carol} {
		for _, q := range []*proc{alice, bob, carol} {
			if p != q {
				waitLink(t, p, q)
			}
		}
	}
	const room, secret = "budget-plans-7qx9", "the budget is 4.2M, keep it quiet" // an open room's name has no case
	alice.say("/create " + room)
	alice.waitFor("the private room", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "joined" && e.Room == room && e.Private
	})
	alice.say("/invite " + nick["bob"])
	bob.waitFor("the invitation", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "invite" && e.Room == room && e.Private && e.FromID == alice.id
	})
	bob.say("/accept " + room)
	carol.say("/join " + room)
	carol.waitFor("an open room", 10*time.Second, func(e headless.Record) bool {
		return e.Type == "joined" && e.Room == room && !e.Private
	})
	waitLinkIn(t, bob, alice, room)
	waitLinkIn(t, alice, bob, room)
	alice.say(secret)
	bob.waitFor("the message", 30*time.Second, func(e headless.Record) bool {
		return e.Type == "message" && e.Room == room && e.Text == secret
	})
	carol.say("anyone here?")
	alice.say("/switch lobby")
	carol.say("/switch lobby")
	sentinels(t, alice, carol)
	if carol.messages()[secret] != 0 || alice.messages()["anyone here?"] != 0 {
		t.Fatal("the open room and the private room shared a message")
	}
	for _, p := range []*proc{alice, bob, carol} {
		p.quit()
	}
	stop()

	// What the wire must not show.
	st, err := store.Open(filepath.Join(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	rooms, err := st.Rooms()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string][]byte{"message text": []byte(secret), "room name": []byte(room),
		"lobby room id": roomID(dmls.RoomIDOf("lobby")), "open room id": roomID(dmls.RoomIDOf(room))}
	for _, r := range rooms {
		if r.Private {
			needles["private room id"] = roomID(dmls.PrivateRoomID(r.Secret))
			needles["private room secret"] = r.Secret
		}
	}
	for who, n := range nick {
		needles[who+"'s nick"] = []byte(n)
	}
	for _, p := range []*proc{alice, bob, carol} {
		id, _ := hex.DecodeString(p.id)
		needles[p.nick+"'s id"] = id
		needles[p.nick+"'s hex id"] = []byte(p.id)
	}
	if needles["private room id"] == nil {
		t.Fatal("alice's store holds no private room")
	}
	streams, err := tcpStreams(pcap)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, s := range streams {
		total += len(s)
	}
	if len(streams) < 4 || total < 10_000 {
		t.Fatalf("the capture holds %d streams, %d bytes: it did not see the traffic", len(streams), total)
	}
	if found := seen(streams, needles); len(found) > 0 {
		t.Fatalf("a passive observer sees: %v", found)
	}
	// Sanity: the needles are found where they are in clear (this file's
	// own check would pass on an empty capture otherwise).
	plain := map[string][]byte{"x": append([]byte("..."), needles["message text"]...)}
	if len(seen(plain, needles)) != 1 {
		t.Fatal("the search does not find what is there")
	}
	t.Logf("captured %d streams, %d bytes of TCP payload; none of %d secrets in them", len(streams), total, len(needles))
}

func roomID(id dmls.RoomID) []byte { return id[:] }
