package transport

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sampleFrames() [][]byte {
	h := &hello{nick: "alice", listenPort: 7420, incarnation: 42}
	peers := marshalPeers([]peerAddr{{id: ID{1}, addr: "10.0.0.2:7420"}})
	return [][]byte{
		appendFrame(nil, frameHello, h.marshal()),
		appendFrame(nil, frameData, seqPayload(7, []byte("payload"))),
		appendFrame(nil, frameAck, seqPayload(7, nil)),
		appendFrame(nil, framePing, nil),
		appendFrame(nil, framePeers, peers),
	}
}

// FuzzReadFrame: any byte stream yields frames or an error, never a panic,
// and never a payload over the bound; a decoded frame re-encodes exactly.
func FuzzReadFrame(f *testing.F) {
	for _, s := range sampleFrames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		for {
			fr, err := readFrame(r, 4096)
			if err != nil {
				return
			}
			if len(fr.payload) > 4096 {
				t.Fatalf("payload of %d bytes passed the bound", len(fr.payload))
			}
			enc := appendFrame(nil, fr.typ, fr.payload)
			if !bytes.Contains(data, enc) {
				t.Fatal("decoded frame does not re-encode to its input")
			}
			switch fr.typ {
			case frameHello:
				_, _ = parseHello(fr.payload)
			case framePeers:
				_, _ = parsePeers(fr.payload)
			case frameData, frameAck:
				_, _, _ = parseSeq(fr.payload)
			}
		}
	})
}

// FuzzParseHello: the hello parser accepts exactly what re-encodes to it.
func FuzzParseHello(f *testing.F) {
	h := &hello{nick: "bob", listenPort: 1, incarnation: 3}
	f.Add(h.marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHello(data)
		if err != nil {
			return
		}
		if !bytes.Equal(h.marshal(), data) {
			t.Fatal("hello round trip differs")
		}
	})
}

// FuzzAccept: whatever bytes a client sends when it connects, the
// accepting side's handshake (TLS 1.3, then the hello inside it) ends in
// an error, never a panic and never an authenticated peer.
func FuzzAccept(f *testing.F) {
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5})
	f.Add(appendFrame(nil, frameHello, (&hello{nick: "x"}).marshal()))
	f.Add(clientHello(f))
	cfg := testConfig("server")
	cfg.HandshakeTimeout = 50 * time.Millisecond
	tr, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	defer tr.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer server.Close()
		go func() {
			go io.Copy(io.Discard, client)
			client.Write(data)
			client.Close()
		}()
		c := &conn{t: tr, raw: server, nc: server, wake: make(chan struct{}, 1), closed: make(chan struct{})}
		if h, err := tr.handshake(c, nil); err == nil {
			t.Fatalf("fuzzed bytes authenticated as %s (%q)", c.remote.Short(), h.nick)
		}
	})
}

// clientHello is the first flight of a real dialer.
func clientHello(t testing.TB) []byte {
	tr, err := New(testConfig("dialer"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	client, server := net.Pipe()
	defer server.Close()
	go func() { _ = tls.Client(client, tr.tlsConfig(nil)).Handshake() }() // only its first flight is wanted
	buf := make([]byte, 4096)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := server.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	return buf[:n]
}

func FuzzParsePeers(f *testing.F) {
	f.Add(marshalPeers([]peerAddr{{id: ID{9}, addr: "127.0.0.1:1"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parsePeers(data)
		if err != nil {
			return
		}
		if !bytes.Equal(marshalPeers(list), data) {
			t.Fatal("peers round trip differs")
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when MMLS_WRITE_CORPUS is
// set; the files are committed.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("MMLS_WRITE_CORPUS") == "" {
		t.Skip("set MMLS_WRITE_CORPUS=1 to regenerate testdata/fuzz")
	}
	h := &hello{nick: "carol", listenPort: 7420, incarnation: 1}
	sets := map[string][][]byte{
		"FuzzReadFrame":  sampleFrames(),
		"FuzzParseHello": {h.marshal()},
		"FuzzParsePeers": {marshalPeers([]peerAddr{{id: ID{3}, addr: "192.0.2.1:7420"}, {id: ID{4}, addr: "[fe80::1]:7420"}})},
		"FuzzAccept":     {clientHello(t), appendFrame(nil, frameHello, h.marshal())},
	}
	for target, seeds := range sets {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
