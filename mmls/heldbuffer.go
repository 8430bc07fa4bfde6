package mmls

import (
	"cmp"
	"slices"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// What we hold for others is written behind: a message we keep to hand on
// waits in memory until the second pruning after it came (HandOnEvery
// apart), and is written then only if some recipient has not yet said it
// holds it. Every member tells its record at each of its prunings, so
// between our two every member online has told us, and in a room where
// everyone is there nothing is written for others at all: before, each
// member wrote a copy of every message (a kilobyte in a room of 20: the
// envelope names every recipient) and deleted it at a later pruning, half
// the bytes of every store commit. What it costs: a member killed (not
// stopped) loses the copies of its last minute; their authors still hold
// them (an outbox re-sends until every recipient has a message), and so
// may other members. A stop writes what waits; /leave and /hold off drop
// it, as they drop what is written.

const (
	// heldBufferMessages and heldBufferBytes bound what waits in memory,
	// over all rooms; past either it is written at once (within the
	// store's own bounds, DefaultHoldLimits).
	heldBufferMessages = 2048
	heldBufferBytes    = 8 << 20
)

// heldBuffer is the messages of one room we hold, not written yet.
type heldBuffer []bufferedHold

type bufferedHold struct {
	m   store.HeldMessage
	env *dmls.Envelope
	// pruned: a pruning found it already (the next one writes it).
	pruned bool
}

// holding is the engine's state of holding for others.
type holding struct {
	on       bool         // we keep others' messages to hand on (SetHold)
	buffered heldInMemory // what the rooms' buffers keep
	// lastPrune: when held messages were last pruned (HandOnEvery).
	lastPrune time.Time
}

// heldInMemory counts what the rooms' buffers keep.
type heldInMemory struct{ n, bytes int }

// bufferHold keeps m (of env) in r's buffer, and writes every buffer out
// if they grew past their bounds.
func (e *Engine) bufferHold(r *room, m store.HeldMessage, env *dmls.Envelope) {
	if e.rooms[r.name] != r || !e.holds.on {
		return // left, or holding turned off, since it came
	}
	r.buffered = append(r.buffered, bufferedHold{m: m, env: env})
	e.holds.buffered.n++
	e.holds.buffered.bytes += len(m.Envelope)
	if e.holds.buffered.n > heldBufferMessages || e.holds.buffered.bytes > heldBufferBytes {
		for _, name := range e.roomNames() {
			e.writeHeld(e.rooms[name], true)
		}
		// A disk that refuses them leaves them here: the room's oldest
		// go, as the store's bounds would have them go.
		for len(r.buffered) > 0 && (e.holds.buffered.n > heldBufferMessages || e.holds.buffered.bytes > heldBufferBytes) {
			e.holds.buffered.n--
			e.holds.buffered.bytes -= len(r.buffered[0].m.Envelope)
			r.buffered[0] = bufferedHold{}
			r.buffered = r.buffered[1:]
		}
	}
}

// writeHeld empties r's buffer at a pruning: what every recipient holds
// is dropped, the rest written when all is set or when a pruning found it
// before (else kept for the next).
func (e *Engine) writeHeld(r *room, all bool) {
	kept := r.buffered[:0]
	var refused error
	for _, b := range r.buffered {
		switch {
		case e.everyoneHoldsEnv(r, b.env):
		case all || b.pruned:
			if refused == nil {
				_, refused = e.st.Hold(b.m, e.cfg.HoldLimits)
			}
			if refused != nil {
				kept = append(kept, b) // tried again at the next pruning
				continue
			}
		default:
			b.pruned = true
			kept = append(kept, b)
			continue
		}
		e.holds.buffered.n--
		e.holds.buffered.bytes -= len(b.m.Envelope)
	}
	clear(r.buffered[len(kept):])
	r.buffered = kept
	if refused != nil {
		e.fail(storageErr(refused)) // once, not once per message
	}
}

// dropBuffered forgets r's buffer (we left r, or stopped holding).
func (e *Engine) dropBuffered(r *room) {
	for _, b := range r.buffered {
		e.holds.buffered.n--
		e.holds.buffered.bytes -= len(b.m.Envelope)
	}
	r.buffered = nil
}

// writeAllHeld writes every buffer, in one store batch: the engine stops.
func (e *Engine) writeAllHeld() {
	if e.holds.buffered.n == 0 {
		return
	}
	base := e.st
	b, err := base.Begin()
	if err == nil {
		e.st = b
	}
	for _, name := range e.roomNames() {
		e.writeHeld(e.rooms[name], true)
	}
	if err == nil {
		e.st = base
		err = b.Commit()
	}
	if err != nil {
		e.cfg.Logf("mmls: keep the messages held for others: %v", err)
	}
}

// heldFor lists what we hold of r, written or not, in the store's order:
// by author, then as each author sent them.
func (e *Engine) heldFor(r *room) ([]store.HeldMessage, error) {
	held, err := e.st.HeldIn(r.name)
	if err != nil || len(r.buffered) == 0 {
		return held, err
	}
	for _, b := range r.buffered {
		held = append(held, b.m)
	}
	slices.SortStableFunc(held, func(x, y store.HeldMessage) int {
		return cmp.Or(cmp.Compare(x.Author, y.Author), x.SentAt.Compare(y.SentAt), cmp.Compare(x.ID, y.ID))
	})
	return held, nil
}
