package discovery

import (
	"bytes"
	"encoding/binary"
	"net"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grandcat/zeroconf"
)

// entryFrom builds the service entry a peer's mDNS records would give:
// port u16 | count of IPv4 u8 | IPv4 x count | count of IPv6 u8 | IPv6 x
// count | TXT strings separated by NUL.
func entryFrom(b []byte) *zeroconf.ServiceEntry {
	e := zeroconf.NewServiceEntry("someone", "_mmls._tcp", "local.")
	if len(b) < 2 {
		return e
	}
	e.Port = int(binary.BigEndian.Uint16(b))
	b = b[2:]
	take := func(size int) []net.IP {
		if len(b) == 0 {
			return nil
		}
		n := int(b[0])
		b = b[1:]
		var ips []net.IP
		for ; n > 0 && len(b) >= size; n-- {
			ips = append(ips, net.IP(append([]byte(nil), b[:size]...)))
			b = b[size:]
		}
		return ips
	}
	e.AddrIPv4 = take(4)
	e.AddrIPv6 = take(16)
	for _, txt := range bytes.Split(b, []byte{0}) {
		e.Text = append(e.Text, string(txt))
	}
	return e
}

// FuzzParseEntry: whatever a host on the LAN announces, parseEntry does
// not panic, and what it accepts is well formed: a 64-hex-digit id, a nick
// of 1 to 64 bytes of UTF-8, 1 to 8 addresses with the announced port.
func FuzzParseEntry(f *testing.F) {
	id := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	good := []byte{0x1d, 0x04, 1, 10, 0, 0, 2, 0}
	good = append(good, []byte("v=1\x00id="+id+"\x00nick=alice")...)
	f.Add(good)
	f.Add([]byte{0x1d, 0x04, 2, 10, 0, 0, 2, 127, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 'v', '=', '1'})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := entryFrom(data)
		p, ok := parseEntry(e)
		if !ok {
			return
		}
		if !strings.Contains(strings.ToLower(strings.Join(e.Text, "\x00")), "id="+p.ID.String()) {
			t.Fatalf("accepted id %s, not the one announced", p.ID)
		}
		if p.Nick == "" || len(p.Nick) > 64 || !utf8.ValidString(p.Nick) {
			t.Fatalf("accepted nick %q", p.Nick)
		}
		if len(p.Addrs) == 0 || len(p.Addrs) > 8 {
			t.Fatalf("accepted %d addresses", len(p.Addrs))
		}
		for _, a := range p.Addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil || net.ParseIP(host) == nil || port != strconv.Itoa(e.Port) {
				t.Fatalf("accepted address %q (port %d): %v", a, e.Port, err)
			}
		}
	})
}
