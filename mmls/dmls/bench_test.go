package dmls

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchRoom is N sessions in one process joined into one room.
type benchRoom struct {
	clk      *clock
	ids      []*Identity
	sessions []*Session
	index    map[Fingerprint]int
	net      *Router
}

// formRoom runs INIT for every participant (one commit adding all others)
// and delivers every Welcome.
func formRoom(tb testing.TB, n int) *benchRoom {
	tb.Helper()
	r := &benchRoom{clk: &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}, index: map[Fingerprint]int{}, net: NewRouter()}
	for i := 0; i < n; i++ {
		env := testEnv(uint64(5000+i), r.clk)
		id, err := NewIdentity(env, fmt.Sprintf("p%03d", i))
		if err != nil {
			tb.Fatal(err)
		}
		s, err := NewSession(id, env, RoomIDOf("bench"), Config{UpdateEvery: 1 << 30})
		if err != nil {
			tb.Fatal(err)
		}
		r.ids, r.sessions = append(r.ids, id), append(r.sessions, s)
		r.net.Attach(s)
		r.index[id.Fingerprint()] = i
	}
	for i, s := range r.sessions {
		var kps [][]byte
		for j, id := range r.ids {
			if j != i {
				kp, err := id.NewKeyPackage(r.sessions[j].env, r.ids[i].Fingerprint())
				if err != nil {
					tb.Fatal(err)
				}
				kps = append(kps, kp.Bytes())
			}
		}
		out, err := s.Add(kps...)
		if err != nil {
			tb.Fatal(err)
		}
		// Joiners ask for the owner's KeyPackage; the room forms anyway
		// (every participant INITs), so those requests are dropped here.
		r.deliver(tb, i, out)
	}
	return r
}

// deliver hands out's messages to their recipients, and drops what they
// produce in turn. It returns the bytes delivered.
func (r *benchRoom) deliver(tb testing.TB, from int, out Output) int {
	tb.Helper()
	before, at := r.net.Bytes, r.ids[from].Fingerprint()
	for _, o := range out.Sends {
		if _, err := r.net.Handle(Packet{From: at, To: o.To, Kind: o.Kind, Data: o.Data}); err != nil {
			tb.Fatalf("p%03d handling %v from p%03d: %v", r.index[o.To], o.Kind, from, err)
		}
	}
	return r.net.Bytes - before
}

var roomSizes = []int{2, 8, 32, 64, 100}

// BenchmarkFormRoom: every send group created, every Welcome joined. It
// also reports the live heap per participant of the formed room (each
// holding its send group and N-1 receive groups).
func BenchmarkFormRoom(b *testing.B) {
	for _, n := range roomSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var before, after runtime.MemStats
			heap := 0.0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&before)
				b.StartTimer()
				r := formRoom(b, n)
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap += float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(r)
				b.StartTimer()
			}
			b.ReportMetric(heap/float64(b.N), "heap-B/participant")
		})
	}
}

// BenchmarkUpdateRound: every participant runs UPDATE (a path commit in its
// send group, an Update proposal in every receive group), every owner
// commits the proposals it received, and everything is delivered. It
// reports the bytes on the wire per participant's UPDATE.
func BenchmarkUpdateRound(b *testing.B) {
	for _, n := range roomSizes {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			r := formRoom(b, n)
			b.ResetTimer()
			wire := 0
			for i := 0; i < b.N; i++ {
				for p, s := range r.sessions {
					out, err := s.Update()
					if err != nil {
						b.Fatal(err)
					}
					wire += r.deliver(b, p, out)
				}
				for p, s := range r.sessions {
					out, err := s.commit()
					if err != nil {
						b.Fatal(err)
					}
					wire += r.deliver(b, p, out)
				}
			}
			b.ReportMetric(float64(wire)/float64(b.N*n), "wire-B/update")
		})
	}
}

// BenchmarkSession1KiB is PROTECT and UNPROTECT of 1 KiB through the whole
// DMLS layer (envelope, wire message, routing) in a two-party room.
func BenchmarkSession1KiB(b *testing.B) {
	text := string(make([]byte, 1024))
	b.Run("protect", func(b *testing.B) {
		r := formRoom(b, 2)
		b.SetBytes(1024)
		for i := 0; i < b.N; i++ {
			if _, _, err := r.sessions[0].Protect(text); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unprotect", func(b *testing.B) {
		r := formRoom(b, 2)
		b.StopTimer()
		msgs := make([][]byte, b.N)
		for i := range msgs {
			out, _, err := r.sessions[0].Protect(text)
			if err != nil {
				b.Fatal(err)
			}
			msgs[i] = out.Sends[len(out.Sends)-1].Data
		}
		from := r.ids[0].Fingerprint()
		b.SetBytes(1024)
		b.StartTimer()
		for _, m := range msgs {
			if _, err := r.sessions[1].Handle(from, m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
