package discovery

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grandcat/zeroconf"

	"github.com/mmls-chat/mmls-chat/discovery/netnstest"
	"github.com/mmls-chat/mmls-chat/transport/peerid"
)

func fakeID(s string) peerid.ID { return sha256.Sum256([]byte(s)) }

// waitEvent reads d's events until one matches, failing after d.
func waitEvent(t *testing.T, d *Discovery, timeout time.Duration, typ EventType, id peerid.ID) Peer {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case e, ok := <-d.Events():
			if !ok {
				t.Fatal("events closed")
			}
			if e.Type == typ && e.Peer.ID == id {
				return e.Peer
			}
		case <-deadline:
			t.Fatalf("no event %v for %s within %v", typ, id[:8], timeout)
		}
	}
}

// TestLoopbackFoundAndLost: two instances on lo find each other by mDNS;
// when one stops answering the other reports it lost.
func TestLoopbackFoundAndLost(t *testing.T) {
	t.Parallel()
	cfg := func(name string, port int) Config {
		return Config{ID: fakeID(name), Nick: name, Port: port, Interfaces: []string{"lo"},
			Refresh: time.Second, LostAfter: 3 * time.Second}
	}
	a, err := Start(cfg("alice", 7001))
	if err != nil {
		// Under CI a regression in Start must fail here, not read as
		// a machine without mDNS.
		netnstest.Unavailable(t, fmt.Sprintf("mDNS on the loopback interface is not available on this machine: %v", err))
	}
	defer a.Close()
	b, err := Start(cfg("bob", 7002))
	if err != nil {
		t.Fatal(err)
	}
	p := waitEvent(t, a, 20*time.Second, Found, fakeID("bob"))
	if p.Nick != "bob" || len(p.Addrs) == 0 || p.Addrs[0] != "127.0.0.1:7002" {
		t.Fatalf("found %+v", p)
	}
	waitEvent(t, b, 20*time.Second, Found, fakeID("alice"))
	b.Close()
	waitEvent(t, a, 20*time.Second, Lost, fakeID("bob"))
}

func entry(txt []string, port int, ips ...string) *zeroconf.ServiceEntry {
	e := zeroconf.NewServiceEntry("inst", Service, Domain)
	e.Text, e.Port = txt, port
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip.To4() != nil {
			e.AddrIPv4 = append(e.AddrIPv4, ip)
		} else {
			e.AddrIPv6 = append(e.AddrIPv6, ip)
		}
	}
	return e
}

func TestParseEntry(t *testing.T) {
	t.Parallel()
	id := fakeID("peer").String()
	good := []string{"v=1", "id=" + id, "nick=peer"}
	tests := []struct {
		name  string
		e     *zeroconf.ServiceEntry
		ok    bool
		addrs string
	}{
		{"good", entry(good, 7420, "10.0.0.2"), true, "10.0.0.2:7420"},
		{"v6 global kept, link-local dropped", entry(good, 7420, "10.0.0.2", "fe80::1", "2001:db8::1"), true, "10.0.0.2:7420,[2001:db8::1]:7420"},
		{"uppercase id", entry([]string{"v=1", "id=" + strings.ToUpper(id), "nick=p"}, 1, "10.0.0.2"), true, "10.0.0.2:1"},
		{"wrong version", entry([]string{"v=2", "id=" + id, "nick=peer"}, 7420, "10.0.0.2"), false, ""},
		{"no version", entry([]string{"id=" + id, "nick=peer"}, 7420, "10.0.0.2"), false, ""},
		{"short id", entry([]string{"v=1", "id=abcd", "nick=peer"}, 7420, "10.0.0.2"), false, ""},
		{"id not hex", entry([]string{"v=1", "id=" + strings.Repeat("zz", 32), "nick=peer"}, 7420, "10.0.0.2"), false, ""},
		{"no nick", entry([]string{"v=1", "id=" + id}, 7420, "10.0.0.2"), false, ""},
		{"long nick", entry([]string{"v=1", "id=" + id, "nick=" + strings.Repeat("x", 65)}, 7420, "10.0.0.2"), false, ""},
		{"bad utf-8 nick", entry([]string{"v=1", "id=" + id, "nick=\xff"}, 7420, "10.0.0.2"), false, ""},
		{"no address", entry(good, 7420), false, ""},
		{"only link-local v6", entry(good, 7420, "fe80::1"), false, ""},
		{"port zero", entry(good, 0, "10.0.0.2"), false, ""},
		{"highest port", entry(good, 65535, "10.0.0.2"), true, "10.0.0.2:65535"},
		{"port past the highest", entry(good, 65536, "10.0.0.2"), false, ""},
		{"nick of 64 bytes", entry([]string{"v=1", "id=" + id, "nick=" + strings.Repeat("x", 64)}, 1, "10.0.0.2"), true, "10.0.0.2:1"},
		{"eight addresses kept", entry(good, 1, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"), true,
			"10.0.0.1:1,10.0.0.2:1,10.0.0.3:1,10.0.0.4:1,10.0.0.5:1,10.0.0.6:1,10.0.0.7:1,10.0.0.8:1"},
		{"a ninth dropped", entry(good, 1, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8", "10.0.0.9"), true,
			"10.0.0.1:1,10.0.0.2:1,10.0.0.3:1,10.0.0.4:1,10.0.0.5:1,10.0.0.6:1,10.0.0.7:1,10.0.0.8:1"},
		{"junk records ignored", entry(append([]string{"garbage", "=x"}, good...), 7420, "10.0.0.2"), true, "10.0.0.2:7420"},
		{"nil", nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := parseEntry(tc.e)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (%+v)", ok, tc.ok, p)
			}
			if ok && strings.Join(p.Addrs, ",") != tc.addrs {
				t.Fatalf("addrs %v, want %s", p.Addrs, tc.addrs)
			}
		})
	}
}

func TestTableFoundChangedLost(t *testing.T) {
	t.Parallel()
	selfID, otherID := fakeID("me"), fakeID("other")
	self, other := selfID.String(), otherID.String()
	tb := newTable(selfID)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	mine := entry([]string{"v=1", "id=" + self, "nick=me"}, 1, "10.0.0.1")
	if _, isNew := tb.see(mine, now); isNew {
		t.Fatal("our own record was reported")
	}
	e := entry([]string{"v=1", "id=" + other, "nick=o"}, 1, "10.0.0.2")
	if _, isNew := tb.see(e, now); !isNew {
		t.Fatal("new peer not reported")
	}
	if _, isNew := tb.see(e, now.Add(time.Second)); isNew {
		t.Fatal("same peer reported twice")
	}
	moved := entry([]string{"v=1", "id=" + other, "nick=o"}, 1, "10.0.0.3")
	if p, isNew := tb.see(moved, now.Add(2*time.Second)); !isNew || p.Addrs[0] != "10.0.0.3:1" {
		t.Fatal("address change not reported")
	}
	if lost := tb.sweep(now.Add(10*time.Second), 30*time.Second); len(lost) != 0 {
		t.Fatalf("lost too early: %v", lost)
	}
	if lost := tb.sweep(now.Add(40*time.Second), 30*time.Second); len(lost) != 1 || lost[0].ID != otherID {
		t.Fatalf("lost: %v", lost)
	}
	if len(tb.peers()) != 0 {
		t.Fatal("lost peer still listed")
	}
}

// TestTableOrderBoundAndEdge: peers are listed and lost in id order; a
// peer silent exactly lostAfter is lost; past maxTableSize a new peer is
// not taken, while one already known still updates.
func TestTableOrderBoundAndEdge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tb := newTable(fakeID("me"))
	ids := []peerid.ID{fakeID("a"), fakeID("b"), fakeID("c"), fakeID("d")}
	for i, id := range ids {
		tb.see(entry([]string{"v=1", "id=" + id.String(), "nick=p"}, 1, "10.0.0.2"), now.Add(time.Duration(i)*time.Second))
	}
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(x, y peerid.ID) int { return bytes.Compare(x[:], y[:]) })
	idsOf := func(ps []Peer) []peerid.ID {
		var out []peerid.ID
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if got := idsOf(tb.peers()); !slices.Equal(got, sorted) {
		t.Fatalf("peers in order %v, want %v", got, sorted)
	}
	// Seen at now, now+1s, ...: at now+3s+30s all four have been silent
	// at least 30s, the last exactly 30s.
	if lost := idsOf(tb.sweep(now.Add(3*time.Second+30*time.Second), 30*time.Second)); !slices.Equal(lost, sorted) {
		t.Fatalf("lost in order %v, want %v", lost, sorted)
	}
	for i := 0; len(tb.known) < maxTableSize; i++ {
		id := fakeID(fmt.Sprint("filler ", i))
		tb.see(entry([]string{"v=1", "id=" + id.String(), "nick=f"}, 1, "10.0.0.3"), now)
	}
	if _, isNew := tb.see(entry([]string{"v=1", "id=" + ids[0].String(), "nick=p"}, 1, "10.0.0.2"), now); isNew || len(tb.known) != maxTableSize {
		t.Fatalf("past the bound a new peer was taken (%d known)", len(tb.known))
	}
	known := fakeID("filler 0")
	if p, isNew := tb.see(entry([]string{"v=1", "id=" + known.String(), "nick=f"}, 1, "10.0.0.9"), now); !isNew || p.Addrs[0] != "10.0.0.9:1" {
		t.Fatal("at the bound a known peer's move was not taken")
	}
}

// TestStartDefaults: what Start fills in when the caller leaves it out.
func TestStartDefaults(t *testing.T) {
	t.Parallel()
	d, err := Start(Config{ID: fakeID("defaults"), Nick: "defaults", Port: 7, Interfaces: []string{"lo"}})
	if err != nil {
		netnstest.Unavailable(t, fmt.Sprintf("mDNS on the loopback interface is not available on this machine: %v", err))
	}
	defer d.Close()
	if d.cfg.Refresh != 10*time.Second || d.cfg.LostAfter != 30*time.Second || d.cfg.Logf == nil {
		t.Fatalf("defaults: refresh %v, lost after %v, logf set %v", d.cfg.Refresh, d.cfg.LostAfter, d.cfg.Logf != nil)
	}
	d.cfg.Logf("said to nobody")
	if _, err := Start(Config{Nick: "nobody", Port: 7, Interfaces: []string{"lo"}}); err == nil {
		t.Fatal("started without an id")
	}
}

func TestDefaultInterfaces(t *testing.T) {
	t.Parallel()
	up := net.FlagUp | net.FlagMulticast
	all := []net.Interface{
		{Name: "lo", Flags: net.FlagUp | net.FlagLoopback},
		{Name: "eth0", Flags: up},
		{Name: "wlan0", Flags: up},
		{Name: "eth1", Flags: net.FlagMulticast}, // down
		{Name: "ppp0", Flags: net.FlagUp},        // no multicast
		{Name: "docker0", Flags: up},
		{Name: "br-1234", Flags: up},
		{Name: "veth9", Flags: up},
		{Name: "virbr0", Flags: up},
		{Name: "tun0", Flags: up},
		{Name: "wg0", Flags: up},
		{Name: "tailscale0", Flags: up},
	}
	var names []string
	for _, i := range DefaultInterfaces(all) {
		names = append(names, i.Name)
	}
	if got := strings.Join(names, ","); got != "eth0,wlan0" {
		t.Fatalf("selected %s", got)
	}
}

func TestSelectNamedInterface(t *testing.T) {
	t.Parallel()
	if _, err := SelectInterfaces([]string{"no-such-iface0"}); err == nil {
		t.Fatal("unknown interface accepted")
	}
	ifs, err := SelectInterfaces([]string{"lo"})
	if err != nil || len(ifs) != 1 || !loopbackOnly(ifs) {
		t.Fatalf("%v %v", ifs, err)
	}
}

func TestInstanceName(t *testing.T) {
	t.Parallel()
	tests := []struct{ nick, want string }{
		{"alice", "alice-"},
		{"Émile.z", "-mile-z-"},
		{strings.Repeat("a", 60), strings.Repeat("a", 40) + "-"},
		// Each end of each kept range, and the character just past it.
		{"az`{AZ@[09/:_-", "az--AZ--09--_--"},
		{"\u007f\u0080~", "----"},
	}
	for _, tc := range tests {
		if got := InstanceName(tc.nick, fakeID("x")); got != tc.want+fakeID("x").Short() {
			t.Errorf("%q: %q", tc.nick, got)
		}
	}
}
