package mmls

import "time"

// Frames are taken in batches: the engine handles every frame that is
// waiting (up to MaxBatch), with all their store writes in one
// transaction, and only once that is durable (one fsync for the batch,
// not one per message) does it acknowledge the frames and send the
// receipts they earned. A crash in the middle of a batch loses nothing:
// nothing of it was acknowledged, so the peers send it again. Other
// sends keep their order, after the commit, and so do the events: what an
// interface shows is stored.

// MaxBatch bounds the frames handled in one store transaction.
const MaxBatch = 256

// deferred is an action held until the batch is durable; durable ones
// (acknowledgements, receipts) are dropped when the batch fails.
type deferred struct {
	run     func() // something to do once the batch is durable, or:
	event   Event  // an event to emit, or:
	to      ID
	payload []byte // a frame to send, or nil for an Ack of seq
	seq     uint64
	durable bool
	note    string // logged just before it goes
	// answer, when set, is a command's reply, given whether or not the
	// batch's commit succeeded (its error, or nil).
	answer func(commitErr error)
}

// netBatch handles first and whatever else the network has waiting, in
// one store batch. It reports whether the network's events closed.
func (e *Engine) netBatch(first NetEvent, more <-chan NetEvent) (closed bool) {
	return e.batch(func() { e.onNet(first) }, more)
}

// batch runs first, then whatever the network has waiting (up to
// MaxBatch frames in all), with their store writes in one transaction,
// and then what they held for after it. The timers' work goes through
// here too: committing the newcomers' Adds writes two records per
// newcomer, and each was a commit of its own (two fsyncs), half of
// the commits made while a room of 20 formed. It reports whether the
// network's events closed. When no batch can begin, first runs alone.
func (e *Engine) batch(first func(), more <-chan NetEvent) (closed bool) {
	base := e.st
	b, err := base.Begin()
	if err != nil {
		e.cfg.Logf("mmls: no batch (%v): one frame at a time", err)
		first()
		e.flushAcks()
		return false
	}
	e.st, e.commit.held = b, []deferred{}
	first()
	for n := 1; n < MaxBatch && !closed; n++ {
		select {
		case ev, ok := <-more:
			if !ok {
				closed = true
				break
			}
			e.onNet(ev)
		default:
			n = MaxBatch
		}
	}
	e.holdAdds()
	e.flushAcks()
	err = b.Commit()
	e.st = base
	held := e.commit.held
	e.commit.held = nil
	e.endAcks(err != nil)
	if err != nil {
		e.fail(storageErr(err))
	}
	for _, d := range held {
		switch {
		case d.answer != nil:
			d.answer(err)
		case d.durable && err != nil:
			// Not stored: not shown, no receipt, no acknowledgement;
			// the peer sends it again.
		case d.run != nil:
			d.run()
		case d.event != nil:
			e.keep(d.event)
			e.events <- d.event
		case d.payload == nil:
			e.net.Ack(d.to, d.seq)
		default:
			if d.note != "" {
				e.cfg.Logf("%s", d.note)
			}
			e.send(d.to, d.payload)
		}
	}
	return closed
}

// sendLater sends now, or after the batch's commit when one is open
// (durable: only if the commit succeeds).
func (e *Engine) sendLater(to ID, payload []byte, durable bool, note string) {
	if e.commit.held == nil {
		if note != "" {
			e.cfg.Logf("%s", note)
		}
		e.send(to, payload)
		return
	}
	e.commit.held = append(e.commit.held, deferred{to: to, payload: payload, durable: durable, note: note})
}

// afterCommit runs f now, or once the batch's commit succeeded.
func (e *Engine) afterCommit(f func()) {
	if e.commit.held == nil {
		f()
		return
	}
	e.commit.held = append(e.commit.held, deferred{run: f, durable: true})
}

// ack acknowledges a frame now, or after the batch's commit.
func (e *Engine) ack(from ID, seq uint64) {
	if e.commit.held == nil {
		e.net.Ack(from, seq)
		return
	}
	e.commit.held = append(e.commit.held, deferred{to: from, seq: seq, durable: true})
}

// AddHold is how long a newcomer's Add waits for others to share its
// commit: forming a room, newcomers arrive a few milliseconds apart, and
// each commit costs every member (and the newcomers' Welcomes) work.
const AddHold = 25 * time.Millisecond

// holdAdds arms the release of held Adds, if some are held and it is not
// armed yet.
func (e *Engine) holdAdds() {
	if e.commit.release != nil {
		return
	}
	for _, r := range e.rooms {
		if r.s.Held() {
			e.commit.release = time.After(e.cfg.AddHold)
			return
		}
	}
}

// releaseHeld commits, in each room, the newcomers' Adds held since the
// last release: one commit for all who arrived together.
func (e *Engine) releaseHeld() {
	e.commit.release = nil
	for _, name := range e.roomNames() {
		if r := e.rooms[name]; r.s.Held() {
			e.in(r)(r.s.CommitHeld())
		}
	}
}

// doStored runs a command inside the open batch and answers it once the
// batch's commit is done: a line is reported sent only when it is stored
// (a failed commit answers with the storage error, and nothing of the
// line went out). Without a batch, it answers at once.
func (e *Engine) doStored(req request) {
	ev, err := e.do(req.cmd)
	answer := func(commitErr error) {
		if commitErr != nil && err == nil {
			ev, err = nil, failWith(ErrStorage, commitErr, "the message could not be saved, so it was not sent")
		}
		if ev != nil {
			ev.stamp(e.now())
		}
		req.reply <- reply{ev, err}
	}
	if e.commit.held == nil {
		answer(nil)
		return
	}
	e.commit.held = append(e.commit.held, deferred{answer: answer})
}

// batching is the engine's batch state: held, what waits for the open
// batch's commit (nil: no batch is open); release, armed while
// newcomers' Adds are held (AddHold).
type batching struct {
	held    []deferred
	release <-chan time.Time
}
