package memnet

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

func id(b byte) mmls.ID { return mmls.ID{b} }

// next returns the next event of ep, failing after 10 s.
func next(t *testing.T, ep *Endpoint) mmls.NetEvent {
	t.Helper()
	select {
	case ev := <-ep.Events():
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return mmls.NetEvent{}
	}
}

func frames(t *testing.T, ep *Endpoint, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		if ev := next(t, ep); ev.Kind == mmls.Frame {
			out = append(out, string(ev.Payload))
			ep.Ack(ev.Peer, ev.Seq)
		}
	}
	return out
}

var markers atomic.Uint32

// quiet checks that nothing is on its way to ep: a peer that joins now
// and sends ep a frame is what ep hears next (an endpoint gets its events
// in the order the hub hands them over, and the hub hands over a frame
// when it is sent), so anything handed over before comes first and fails
// the test.
func quiet(t *testing.T, h *Hub, ep *Endpoint) {
	t.Helper()
	m := h.Join(id(byte(0x10+markers.Add(1))), "marker")
	t.Cleanup(m.Close)
	if err := m.Connect(ep.addr, mmls.ID{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ep.ID(), []byte("marker")); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, ep); ev.Kind != mmls.PeerUp || ev.Peer != m.ID() {
		t.Fatalf("unexpected %+v", ev)
	}
	if ev := next(t, ep); ev.Kind != mmls.Frame || string(ev.Payload) != "marker" {
		t.Fatalf("unexpected %+v", ev)
	}
}

// The network keeps the transport's promises, and breaks them only when
// a fault says so.
func TestPromises(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, h *Hub, a, b *Endpoint)
	}{
		{"in order, once", func(t *testing.T, h *Hub, a, b *Endpoint) {
			for _, p := range []string{"1", "2", "3"} {
				if err := a.Send(b.ID(), []byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if got := frames(t, b, 3); got[0] != "1" || got[2] != "3" {
				t.Fatal(got)
			}
			quiet(t, h, b)
		}},
		{"queued through a partition, once after it heals", func(t *testing.T, h *Hub, a, b *Endpoint) {
			h.Partition(a.ID(), b.ID())
			if ev := next(t, b); ev.Kind != mmls.PeerDown {
				t.Fatalf("%+v", ev)
			}
			a.Send(b.ID(), []byte("during"))
			quiet(t, h, b)
			h.Heal(a.ID(), b.ID())
			if ev := next(t, b); ev.Kind != mmls.PeerUp {
				t.Fatalf("%+v", ev)
			}
			if got := frames(t, b, 1); got[0] != "during" {
				t.Fatal(got)
			}
			quiet(t, h, b)
		}},
		{"unacknowledged frames reach a restarted receiver", func(t *testing.T, h *Hub, a, b *Endpoint) {
			a.Send(b.ID(), []byte("kept"))
			if ev := next(t, b); ev.Kind != mmls.Frame {
				t.Fatalf("%+v", ev) // handed over, never acknowledged
			}
			b.Close()
			b2 := h.Join(b.ID(), "b")
			defer b2.Close()
			if ev := next(t, b2); ev.Kind != mmls.PeerUp {
				t.Fatalf("%+v", ev)
			}
			if got := frames(t, b2, 1); got[0] != "kept" {
				t.Fatal(got)
			}
		}},
		{"a lost frame is gone for good", func(t *testing.T, h *Hub, a, b *Endpoint) {
			h.SetFault(func(f Frame) Verdict { return Verdict{Lose: string(f.Payload) == "lost"} })
			a.Send(b.ID(), []byte("lost"))
			a.Send(b.ID(), []byte("kept"))
			if got := frames(t, b, 1); got[0] != "kept" {
				t.Fatal(got)
			}
		}},
		{"a held pair keeps its order", func(t *testing.T, h *Hub, a, b *Endpoint) {
			h.SetFault(func(f Frame) Verdict { return Verdict{Delay: 5 * time.Millisecond} })
			for _, p := range []string{"1", "2", "3"} {
				a.Send(b.ID(), []byte(p))
			}
			if got := frames(t, b, 3); got[0] != "1" || got[1] != "2" || got[2] != "3" {
				t.Fatal(got)
			}
		}},
		{"unknown peers and dead addresses are refused", func(t *testing.T, h *Hub, a, b *Endpoint) {
			if err := a.Send(id(9), []byte("x")); err == nil {
				t.Fatal("sent to a stranger")
			}
			if err := a.Connect(Addr("nobody"), mmls.ID{}); err == nil {
				t.Fatal("connected to nobody")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := New()
			a, b := h.Join(id(1), "a"), h.Join(id(2), "b")
			defer a.Close()
			defer b.Close()
			if err := a.Connect(Addr("b"), mmls.ID{}); err != nil {
				t.Fatal(err)
			}
			if ev := next(t, a); ev.Kind != mmls.PeerUp || ev.Peer != b.ID() {
				t.Fatalf("%+v", ev)
			}
			if ev := next(t, b); ev.Kind != mmls.PeerUp || ev.Peer != a.ID() {
				t.Fatalf("%+v", ev)
			}
			tc.run(t, h, a, b)
		})
	}
}
