package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"testing"
)

var kib = make([]byte, 1024)

// rawPair returns two ends of a loopback TCP connection.
func rawPair(b *testing.B) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	c1, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c2 := <-ch
	b.Cleanup(func() { c1.Close(); c2.Close() })
	return c1, c2
}

func pairUp(b *testing.B) (*node, *node) {
	x, y := startNode(b, testConfig("x")), startNode(b, testConfig("y"))
	x.t.Connect(y.addr)
	waitUp(b, x, y.t.ID())
	waitUp(b, y, x.t.ID())
	return x, y
}

func sendRetry(b *testing.B, tr *Transport, to ID, p []byte) {
	for {
		_, err := tr.Send(to, p)
		if err == nil {
			return
		}
		if !errors.Is(err, ErrBackpressure) {
			b.Fatal(err)
		}
		runtime.Gosched()
	}
}

// BenchmarkThroughput1KiB: one-way 1 KiB frames over loopback, raw TCP with
// a 4-byte length prefix against the transport (sequence numbers, acks,
// queueing), in the same run.
func BenchmarkThroughput1KiB(b *testing.B) {
	b.Run("raw-tcp", func(b *testing.B) {
		c1, c2 := rawPair(b)
		b.SetBytes(1024)
		b.ResetTimer()
		done := make(chan error, 1)
		go func() {
			br := bufio.NewReader(c2)
			buf := make([]byte, 1028)
			for i := 0; i < b.N; i++ {
				if _, err := io.ReadFull(br, buf); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		bw := bufio.NewWriter(c1)
		frame := binary.BigEndian.AppendUint32(nil, 1024)
		frame = append(frame, kib...)
		for i := 0; i < b.N; i++ {
			bw.Write(frame)
		}
		bw.Flush()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	})
	b.Run("transport", func(b *testing.B) {
		x, y := pairUp(b)
		b.SetBytes(1024)
		b.ResetTimer()
		done := make(chan struct{})
		go func() {
			got := 0
			for e := range y.t.Events() {
				if e.Type == Message {
					y.t.Ack(e.Peer, e.Seq)
					if got++; got == b.N {
						close(done)
						return
					}
				}
			}
		}()
		for i := 0; i < b.N; i++ {
			sendRetry(b, x.t, y.t.ID(), kib)
		}
		<-done
	})
}

// BenchmarkRoundTrip1KiB: a 1 KiB ping answered by a 1 KiB pong.
func BenchmarkRoundTrip1KiB(b *testing.B) {
	b.Run("raw-tcp", func(b *testing.B) {
		c1, c2 := rawPair(b)
		go func() {
			buf := make([]byte, 1024)
			for {
				if _, err := io.ReadFull(c2, buf); err != nil {
					return
				}
				if _, err := c2.Write(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 1024)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			c1.Write(kib)
			if _, err := io.ReadFull(c1, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transport", func(b *testing.B) {
		x, y := pairUp(b)
		go func() {
			for e := range y.t.Events() {
				if e.Type == Message {
					y.t.Ack(e.Peer, e.Seq)
					if _, err := y.t.Send(e.Peer, e.Payload); err != nil {
						return
					}
				}
			}
		}()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			sendRetry(b, x.t, y.t.ID(), kib)
			for e := range x.t.Events() {
				if e.Type == Message {
					x.t.Ack(e.Peer, e.Seq)
					break
				}
			}
		}
	})
}
