package transport

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func sampleFrames() [][]byte {
	h := &hello{key: make([]byte, 32), nick: "alice", listenPort: 7420, incarnation: 42}
	peers := marshalPeers([]peerAddr{{id: ID{1}, addr: "10.0.0.2:7420"}})
	return [][]byte{
		appendFrame(nil, frameHello, h.marshal()),
		appendFrame(nil, frameAuth, append([]byte{0, 64}, make([]byte, 64)...)),
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
	h := &hello{key: make([]byte, 32), nick: "bob", listenPort: 1, incarnation: 3}
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
	h := &hello{key: make([]byte, 32), nick: "carol", listenPort: 7420, incarnation: 1}
	sets := map[string][][]byte{
		"FuzzReadFrame":  sampleFrames(),
		"FuzzParseHello": {h.marshal()},
		"FuzzParsePeers": {marshalPeers([]peerAddr{{id: ID{3}, addr: "192.0.2.1:7420"}, {id: ID{4}, addr: "[fe80::1]:7420"}})},
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
