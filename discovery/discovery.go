// Package discovery announces this participant on the local network with
// mDNS / DNS-SD and reports the peers it finds and loses. It knows nothing
// of MLS or of the transport.
//
// # Records
//
// Service _mmls._tcp in domain local., one instance per participant named
// "<nick>-<first 8 hex digits of its id>" (unsafe characters replaced),
// with TXT records
//
//	v=1            record version
//	id=<64 hex>    the participant's id (SHA-256 of its public key)
//	nick=<nick>    at most 64 bytes
//
// and the port the transport listens on. Records whose v, id or nick do not
// parse are ignored, and so is our own.
//
// # Found and lost
//
// zeroconf's browser reports an instance once and forwards no goodbye, so
// browsing runs in cycles (Config.Refresh) with a fresh resolver (so no
// cache outlives a cycle); a peer not seen for Config.LostAfter is reported
// lost. (zeroconf's Server.TTL races with the goroutines Register starts,
// so records keep its default TTL; that only affects other browsers'
// caches.)
//
// # Interfaces
//
// By default every interface that is up, can multicast and is not a
// loopback or a virtual bridge or tunnel (docker, veth, virbr, tun, tap,
// wireguard, tailscale, zerotier, ...) is used: those would announce
// addresses peers cannot reach. Config.Interfaces names interfaces
// explicitly; naming the loopback interface announces 127.0.0.1 on it, so
// several instances on one machine find each other.
//
// zeroconf logs to the standard library logger; a program that owns the
// terminal must point that logger elsewhere (mmls-chat's main does).
package discovery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/grandcat/zeroconf"

	"github.com/mmls-chat/mmls-chat/transport/peerid"
)

// Service and Domain of the DNS-SD records.
const (
	Service = "_mmls._tcp"
	Domain  = "local."
)

// Peer is a participant found on the network.
type Peer struct {
	ID       peerid.ID
	Nick     string
	Instance string
	Addrs    []string // host:port, IPv4 first
}

// EventType says whether a peer was found or lost.
type EventType int

// Event types.
const (
	Found EventType = iota + 1
	Lost
)

// Event reports a peer found or lost.
type Event struct {
	Type EventType
	Peer Peer
}

// Config configures discovery.
type Config struct {
	ID   peerid.ID // ours
	Nick string
	Port int // the transport's listening port
	// Interfaces by name; empty selects the default set (see package doc).
	Interfaces []string
	// Refresh is the browse cycle (default 10 s); LostAfter the silence
	// after which a peer is lost (default 3 x Refresh).
	Refresh   time.Duration
	LostAfter time.Duration
	Logf      func(format string, args ...any)
}

// ErrUnavailable wraps every failure to start mDNS (no usable interface,
// no multicast): the caller carries on with static peers.
var ErrUnavailable = errors.New("discovery: mDNS unavailable")

// Discovery announces us and browses for peers until Close.
type Discovery struct {
	cfg    Config
	ifaces []net.Interface
	server *zeroconf.Server
	events chan Event
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	table *table
}

// Start announces us and starts browsing.
func Start(cfg Config) (*Discovery, error) {
	if cfg.ID == (peerid.ID{}) {
		return nil, errors.New("discovery: no id")
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 10 * time.Second
	}
	if cfg.LostAfter <= 0 {
		cfg.LostAfter = 3 * cfg.Refresh
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	ifaces, err := SelectInterfaces(cfg.Interfaces)
	if err != nil {
		return nil, err
	}
	txt := []string{"v=1", "id=" + cfg.ID.String(), "nick=" + cfg.Nick}
	instance := InstanceName(cfg.Nick, cfg.ID)
	var server *zeroconf.Server
	if loopbackOnly(ifaces) {
		server, err = zeroconf.RegisterProxy(instance, Service, Domain, cfg.Port, instance, []string{"127.0.0.1"}, txt, ifaces)
	} else {
		server, err = zeroconf.Register(instance, Service, Domain, cfg.Port, txt, ifaces)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: announce: %v", ErrUnavailable, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Discovery{cfg: cfg, ifaces: ifaces, server: server, events: make(chan Event, 64), cancel: cancel,
		table: newTable(cfg.ID)}
	d.wg.Add(1)
	go d.loop(ctx)
	return d, nil
}

// Events returns found and lost peers; it is closed by Close.
func (d *Discovery) Events() <-chan Event { return d.events }

// Interfaces returns the names of the interfaces in use.
func (d *Discovery) Interfaces() []string {
	var out []string
	for _, i := range d.ifaces {
		out = append(out, i.Name)
	}
	return out
}

// Peers lists the peers currently known.
func (d *Discovery) Peers() []Peer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.table.peers()
}

// Close withdraws our records, stops browsing and closes Events.
func (d *Discovery) Close() {
	d.cancel()
	d.wg.Wait()
	d.server.Shutdown()
	close(d.events)
}

// loop runs browse cycles and sweeps lost peers until ctx ends.
func (d *Discovery) loop(ctx context.Context) {
	defer d.wg.Done()
	for {
		d.browseOnce(ctx)
		d.mu.Lock()
		lost := d.table.sweep(time.Now(), d.cfg.LostAfter)
		d.mu.Unlock()
		for _, p := range lost {
			if !d.emit(ctx, Event{Type: Lost, Peer: p}) {
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// browseOnce browses for one Refresh period with a fresh resolver.
func (d *Discovery) browseOnce(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, d.cfg.Refresh)
	defer cancel()
	r, err := zeroconf.NewResolver(zeroconf.SelectIfaces(d.ifaces), zeroconf.SelectIPTraffic(zeroconf.IPv4))
	if err != nil {
		d.cfg.Logf("discovery: resolver: %v", err)
		<-cctx.Done()
		return
	}
	entries := make(chan *zeroconf.ServiceEntry, 16)
	if err := r.Browse(cctx, Service, Domain, entries); err != nil {
		d.cfg.Logf("discovery: browse: %v", err)
		<-cctx.Done()
		return
	}
	// zeroconf closes entries when cctx ends; never close it here.
	for e := range entries {
		d.mu.Lock()
		p, isNew := d.table.see(e, time.Now())
		d.mu.Unlock()
		if isNew && !d.emit(ctx, Event{Type: Found, Peer: p}) {
			cancel()
			for range entries {
			}
			return
		}
	}
}

func (d *Discovery) emit(ctx context.Context, e Event) bool {
	select {
	case d.events <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// ---- the peer table (no I/O: tests drive it with made-up entries) ----

type seen struct {
	peer Peer
	last time.Time
}

type table struct {
	self  peerid.ID
	known map[peerid.ID]*seen
}

func newTable(self peerid.ID) *table { return &table{self: self, known: map[peerid.ID]*seen{}} }

// maxTableSize bounds the peers remembered from the network.
const maxTableSize = 1024

// see records a service entry; it returns the peer and whether it is new
// (or its address or nick changed, which callers treat as found again).
func (t *table) see(e *zeroconf.ServiceEntry, now time.Time) (Peer, bool) {
	p, ok := parseEntry(e)
	if !ok || p.ID == t.self {
		return Peer{}, false
	}
	old := t.known[p.ID]
	if old == nil && len(t.known) >= maxTableSize {
		return Peer{}, false
	}
	changed := old == nil || old.peer.Nick != p.Nick || strings.Join(old.peer.Addrs, ",") != strings.Join(p.Addrs, ",")
	t.known[p.ID] = &seen{peer: p, last: now}
	return p, changed
}

// sweep removes and returns the peers not seen for lostAfter.
func (t *table) sweep(now time.Time, lostAfter time.Duration) []Peer {
	var lost []Peer
	for id, s := range t.known {
		if now.Sub(s.last) >= lostAfter {
			lost = append(lost, s.peer)
			delete(t.known, id)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return bytes.Compare(lost[i].ID[:], lost[j].ID[:]) < 0 })
	return lost
}

func (t *table) peers() []Peer {
	out := make([]Peer, 0, len(t.known))
	for _, s := range t.known {
		out = append(out, s.peer)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].ID[:], out[j].ID[:]) < 0 })
	return out
}

// parseEntry validates a service entry's TXT records and addresses.
func parseEntry(e *zeroconf.ServiceEntry) (Peer, bool) {
	if e == nil || e.Port <= 0 || e.Port > 65535 {
		return Peer{}, false
	}
	var p Peer
	version, idOK := "", false
	for _, kv := range e.Text {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "v":
			version = v
		case "id":
			p.ID, idOK = peerid.Parse(v)
		case "nick":
			p.Nick = v
		}
	}
	if version != "1" || !idOK || p.Nick == "" || len(p.Nick) > 64 || !utf8.ValidString(p.Nick) {
		return Peer{}, false
	}
	port := strconv.Itoa(e.Port)
	for _, ip := range e.AddrIPv4 {
		p.Addrs = append(p.Addrs, net.JoinHostPort(ip.String(), port))
	}
	for _, ip := range e.AddrIPv6 {
		if ip.IsGlobalUnicast() || ip.IsLoopback() {
			p.Addrs = append(p.Addrs, net.JoinHostPort(ip.String(), port))
		}
	}
	if len(p.Addrs) == 0 {
		return Peer{}, false
	}
	if len(p.Addrs) > 8 {
		p.Addrs = p.Addrs[:8]
	}
	p.Instance = e.Instance
	return p, true
}

// InstanceName is "<nick>-<first 8 hex digits of id>", with characters
// outside [A-Za-z0-9_-] replaced by '-' and the nick cut to 40 bytes.
func InstanceName(nick string, id peerid.ID) string {
	var b strings.Builder
	for _, r := range nick {
		if b.Len() >= 40 {
			break
		}
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String() + "-" + id.Short()
}

// virtualPrefixes are interface name prefixes skipped by default.
var virtualPrefixes = []string{"docker", "br-", "veth", "virbr", "vnet", "tun", "tap", "wg", "tailscale",
	"zt", "utun", "vmnet", "vboxnet", "lxc", "lxd", "cni", "flannel", "cali", "kube", "podman", "cilium", "weave"}

// SelectInterfaces returns the named interfaces, or the default set.
func SelectInterfaces(names []string) ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("%w: list interfaces: %v", ErrUnavailable, err)
	}
	if len(names) > 0 {
		var out []net.Interface
		for _, name := range names {
			found := false
			for _, i := range all {
				if i.Name == name {
					if i.Flags&net.FlagUp == 0 {
						return nil, fmt.Errorf("%w: interface %s is down", ErrUnavailable, name)
					}
					out, found = append(out, i), true
				}
			}
			if !found {
				return nil, fmt.Errorf("%w: no interface %q", ErrUnavailable, name)
			}
		}
		return out, nil
	}
	out := DefaultInterfaces(all)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no interface is up with multicast (name one with --iface, or use --peer)", ErrUnavailable)
	}
	return out, nil
}

// DefaultInterfaces filters a list to those that are up, can multicast,
// and are neither loopback nor virtual bridges or tunnels.
func DefaultInterfaces(all []net.Interface) []net.Interface {
	var out []net.Interface
	for _, i := range all {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagMulticast == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		virtual := false
		for _, p := range virtualPrefixes {
			virtual = virtual || strings.HasPrefix(i.Name, p)
		}
		if !virtual {
			out = append(out, i)
		}
	}
	return out
}

func loopbackOnly(ifaces []net.Interface) bool {
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			return false
		}
	}
	return len(ifaces) > 0
}
