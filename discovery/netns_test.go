package discovery

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/discovery/netnstest"
	"github.com/mmls-chat/mmls-chat/transport"
)

// helperEnv makes the test binary act as one participant inside a network
// namespace (see TestNetnsHelper).
const helperEnv = "MMLS_NETNS_HELPER"

// TestNetnsDiscoveryAndTransport builds a small LAN of its own: a bridge in
// one network namespace and three hosts in three more, joined by veth
// pairs, with addresses in 10.77.0.0/24. It runs a participant process in
// each host that announces and browses with mDNS (default interface
// selection, no static peers) and dials every peer it finds over the
// transport. It passes when every participant has an authenticated
// connection to both others, and reports how long that took. Everything
// it created is deleted at the end.
func TestNetnsDiscoveryAndTransport(t *testing.T) {
	if os.Getenv(helperEnv) != "" {
		t.Skip("helper process")
	}
	lan := netnstest.New(t, 3)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type report struct {
		host int
		line string
	}
	lines := make(chan report, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range lan.Hosts {
		cmd := lan.Command(ctx, i, self, "-test.run=^TestNetnsHelper$", "-test.timeout=120s")
		cmd.Env = append(os.Environ(), helperEnv+"="+fmt.Sprintf("host%d", i))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- report{i, sc.Text()}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(lines)
	}()

	ids := map[int]string{}
	up := map[int]map[string]bool{}
	found := map[int]map[string]bool{}
	var foundAll time.Duration
	for {
		select {
		case r, ok := <-lines:
			if !ok {
				t.Fatalf("participants exited early; ids %v, connections %v", ids, up)
			}
			f := strings.Fields(r.line)
			switch {
			case len(f) == 2 && f[0] == "READY":
				ids[r.host] = f[1]
			case len(f) == 2 && f[0] == "FOUND":
				if found[r.host] == nil {
					found[r.host] = map[string]bool{}
				}
				found[r.host][f[1]] = true
				if foundAll == 0 && complete(ids, found, len(lan.Hosts)) {
					foundAll = time.Since(start)
				}
			case len(f) == 2 && f[0] == "UP":
				if up[r.host] == nil {
					up[r.host] = map[string]bool{}
				}
				up[r.host][f[1]] = true
			default:
				t.Logf("host%d: %s", r.host, r.line)
			}
			// Every host must find both others by mDNS itself (not only
			// through peer exchange) and hold authenticated connections.
			if complete(ids, found, len(lan.Hosts)) && complete(ids, up, len(lan.Hosts)) {
				t.Logf("three hosts found each other by mDNS in %v and were all connected and authenticated in %v",
					foundAll.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
				return
			}
		case <-ctx.Done():
			t.Fatalf("timed out: ids %v, found %v, connections %v", ids, found, up)
		}
	}
}

func complete(ids map[int]string, up map[int]map[string]bool, n int) bool {
	if len(ids) < n {
		return false
	}
	for h := range n {
		for o, id := range ids {
			if o != h && !up[h][id] {
				return false
			}
		}
	}
	return true
}

type edID struct{ priv ed25519.PrivateKey }

func (e edID) PublicKey() []byte             { return e.priv.Public().(ed25519.PublicKey) }
func (e edID) Sign(m []byte) ([]byte, error) { return ed25519.Sign(e.priv, m), nil }
func (e edID) fingerprint() transport.ID     { return transport.IDOf(e.PublicKey()) }
func newEdID() edID                          { _, p, _ := ed25519.GenerateKey(rand.Reader); return edID{p} }
func printLine(format string, args ...any)   { fmt.Fprintf(os.Stdout, format+"\n", args...) }
func discard(string, ...any)                 {}
func listenAny() (net.Listener, error)       { return net.Listen("tcp", "0.0.0.0:0") }
func portOf(l net.Listener) int              { return l.Addr().(*net.TCPAddr).Port }

// TestNetnsHelper is one participant, run by TestNetnsDiscoveryAndTransport
// inside a namespace. It prints READY <id>, FOUND <id> and UP <id> lines.
func TestNetnsHelper(t *testing.T) {
	name := os.Getenv(helperEnv)
	if name == "" {
		t.Skip("run by TestNetnsDiscoveryAndTransport")
	}
	id := newEdID()
	tr, err := transport.New(transport.Config{Identity: id, Nick: name, Logf: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	l, err := listenAny()
	if err != nil {
		t.Fatal(err)
	}
	go func(tr *transport.Transport, l net.Listener) { tr.Serve(l) }(tr, l)
	d, err := Start(Config{ID: id.fingerprint(), Nick: name, Port: portOf(l), Refresh: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	printLine("READY %s", id.fingerprint())
	for {
		select {
		case e := <-d.Events():
			if e.Type == Found {
				printLine("FOUND %s", e.Peer.ID)
				for _, a := range e.Peer.Addrs {
					tr.Connect(a)
				}
			}
		case e, ok := <-tr.Events():
			if !ok {
				return
			}
			if e.Type == transport.PeerUp {
				printLine("UP %s", e.Peer.String())
			}
		}
	}
}
