package main

import (
	"bytes"
	be "encoding/binary"
	"fmt"
	"os"
)

// tcpStreams reads a pcap file (as tcpdump writes it, on loopback) and
// returns the TCP payload of each direction of each connection, in
// capture order: the bytes an observer of the wire saw.
func tcpStreams(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("pcap: %d bytes", len(b))
	}
	var order be.ByteOrder
	switch be.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		order = be.LittleEndian
	default:
		order = be.BigEndian
	}
	link := order.Uint32(b[20:])
	skip := map[uint32]int{1: 14, 113: 16, 276: 20, 0: 4}[link]
	streams := map[string][]byte{}
	for p := b[24:]; len(p) >= 16; {
		n := int(order.Uint32(p[8:]))
		if len(p) < 16+n {
			break
		}
		pkt := p[16 : 16+n]
		p = p[16+n:]
		if len(pkt) < skip+20 {
			continue
		}
		ip := pkt[skip:]
		if ip[0]>>4 != 4 || ip[9] != 6 {
			continue // IPv4 TCP only: the nodes listen on 127.0.0.1
		}
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+20 {
			continue
		}
		tcp := ip[ihl:]
		off := int(tcp[12]>>4) * 4
		if len(tcp) < off {
			continue
		}
		key := fmt.Sprintf("%d->%d", be.BigEndian.Uint16(tcp[0:]), be.BigEndian.Uint16(tcp[2:]))
		streams[key] = append(streams[key], tcp[off:]...)
	}
	return streams, nil
}

// seen reports which of the needles occur in any stream.
func seen(streams map[string][]byte, needles map[string][]byte) []string {
	var out []string
	for name, n := range needles {
		for _, s := range streams {
			if bytes.Contains(s, n) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}
