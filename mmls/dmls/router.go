package dmls

import "math/rand/v2"

// Packet is one DMLS message in flight in a [Router].
type Packet struct {
	Seq      uint64 // order of queueing, over all pairs
	From, To Fingerprint
	Kind     Kind
	Data     []byte
}

type link struct{ from, to Fingerprint }

// Router delivers DMLS messages between sessions in one process: no
// sockets, no goroutines, no clock. Each (sender, receiver) pair has its
// own queue that stays in order, as a TCP connection keeps it; the caller
// chooses which queue moves next (oldest first, a random one, one pair), so
// one router serves the protocol tests, the benchmarks and the
// --walkthrough.
type Router struct {
	// OnOutput, when set, sees every session call's result at a
	// participant (after its messages were queued): its events and its
	// error.
	OnOutput func(at Fingerprint, out Output, err error)
	// Delivered and Bytes count the messages handed to sessions.
	Delivered, Bytes int

	sessions map[Fingerprint]*Session
	queues   map[link][]Packet
	links    []link // in creation order, so that runs are reproducible
	seq      uint64
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{sessions: map[Fingerprint]*Session{}, queues: map[link][]Packet{}}
}

// Attach makes s the session that receives its identity's messages,
// replacing an earlier one (a restart).
func (r *Router) Attach(s *Session) { r.sessions[s.Identity().Fingerprint()] = s }

// On returns Apply bound to at, to take a session call's two results:
// r.On(alice)(s.Update()).
func (r *Router) On(at Fingerprint) func(Output, error) {
	return func(out Output, err error) { r.Apply(at, out, err) }
}

// Apply queues what a call at participant at produced and reports it to
// OnOutput.
func (r *Router) Apply(at Fingerprint, out Output, err error) {
	for _, o := range out.Sends {
		k := link{at, o.To}
		if _, ok := r.queues[k]; !ok {
			r.links = append(r.links, k)
		}
		r.seq++
		r.queues[k] = append(r.queues[k], Packet{Seq: r.seq, From: at, To: o.To, Kind: o.Kind, Data: o.Data})
	}
	if r.OnOutput != nil {
		r.OnOutput(at, out, err)
	}
}

// Handle hands p to its receiver's session and returns what it produced,
// without queuing it. A packet for nobody attached is dropped.
func (r *Router) Handle(p Packet) (Output, error) {
	s := r.sessions[p.To]
	if s == nil {
		return Output{}, nil
	}
	r.Delivered++
	r.Bytes += len(p.Data)
	return s.Handle(p.From, p.Data)
}

// Deliver hands p to its receiver and applies the result there.
func (r *Router) Deliver(p Packet) {
	out, err := r.Handle(p)
	if r.sessions[p.To] != nil {
		r.Apply(p.To, out, err)
	}
}

// Heads returns the first packet of every non-empty queue, in the order
// the queues were created.
func (r *Router) Heads() []Packet {
	var out []Packet
	for _, k := range r.links {
		if q := r.queues[k]; len(q) > 0 {
			out = append(out, q[0])
		}
	}
	return out
}

func (r *Router) pop(k link) Packet {
	p := r.queues[k][0]
	r.queues[k] = r.queues[k][1:]
	return p
}

// DeliverOldest delivers the packet queued first; it reports false when
// nothing is queued.
func (r *Router) DeliverOldest() bool {
	heads := r.Heads()
	if len(heads) == 0 {
		return false
	}
	oldest := heads[0]
	for _, h := range heads[1:] {
		if h.Seq < oldest.Seq {
			oldest = h
		}
	}
	r.Deliver(r.pop(link{oldest.From, oldest.To}))
	return true
}

// DeliverRandom delivers the head of a queue chosen with rng: messages of
// one pair stay in order, messages of different pairs are reordered.
func (r *Router) DeliverRandom(rng *rand.Rand) bool {
	heads := r.Heads()
	if len(heads) == 0 {
		return false
	}
	h := heads[rng.IntN(len(heads))]
	r.Deliver(r.pop(link{h.From, h.To}))
	return true
}

// DeliverPair delivers, in order, everything queued from one participant
// to another, and nothing else.
func (r *Router) DeliverPair(from, to Fingerprint) {
	k := link{from, to}
	for len(r.queues[k]) > 0 {
		r.Deliver(r.pop(k))
	}
}

// Filter discards every queued packet that keep rejects (messages lost
// on the way).
func (r *Router) Filter(keep func(Packet) bool) {
	for k, q := range r.queues {
		kept := q[:0]
		for _, p := range q {
			if keep(p) {
				kept = append(kept, p)
			}
		}
		r.queues[k] = kept
	}
}

// DropTo discards everything queued for fp (it crashed with those
// messages in flight).
func (r *Router) DropTo(fp Fingerprint) {
	for k := range r.queues {
		if k.to == fp {
			r.queues[k] = nil
		}
	}
}

// Queued reports how many packets are in flight.
func (r *Router) Queued() int {
	n := 0
	for _, q := range r.queues {
		n += len(q)
	}
	return n
}
