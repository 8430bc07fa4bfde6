package mmls

import (
	"encoding/hex"
	"slices"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Delivery through members. Every message of ours is numbered per
// recipient (dmls.Envelope.Seq) and signed; recipients say what they hold
// with one cumulative record per room (dmls.Acks: per author, up to where
// and which gaps): each author hears its own entry at most once per batch,
// on the channel (frame.Ack); the signed record goes to every member met,
// and to the members online while an author is away, who hand it on (a
// record speaks for its signer alone); and members keep others' signed messages
// (store.HeldMessage) to hand them on to the recipients who have not
// acknowledged them, when they meet: a line reaches every member of its
// room even when its author has gone. The recipient checks a handed-on
// message as if its author had sent it (the author's signature over the
// room and the whole envelope, its place among the recipients, the
// author's membership); a holder can withhold, never alter, forge, or
// get a message taken twice. Direct rooms are not held by anyone else:
// their other person is the only recipient, and only the author re-sends.

// DefaultHoldLimits bound what we hold for others in each room: 500
// messages and 8 MiB per author, 4000 messages and 32 MiB in all (README,
// "Delivery through members").
var DefaultHoldLimits = store.HoldLimits{PerAuthor: 500, PerAuthorBytes: 8 << 20, PerRoom: 4000, PerRoomBytes: 32 << 20}

const (
	// HoldFor is how long a held message is kept at most.
	HoldFor = 7 * 24 * time.Hour
	// HandOnEvery: while a member stays online, what it still misses is
	// looked for again this often (at a meeting, at once).
	HandOnEvery = 30 * time.Second
	// handOnBatch bounds the messages one pass hands to one member; the
	// next pass goes on.
	handOnBatch = 1000
	// maxBadHeld: a member that hands on this many messages that do not
	// check is not listened to again until it reconnects.
	maxBadHeld = 4
)

// handOn gives member what we hold of r that it misses (its record says
// what it holds), in each author's order; at a meeting, the others'
// records that hold some of its messages too, so that it learns who
// stored them while it was away (a record that holds none of them tells
// it nothing it needs: when 20 members meet at once, each would check
// 18 signatures from each of the others).
func (e *Engine) handOn(r *room, member ID, meeting bool) {
	a := r.acks
	a.passed[member] = e.now()
	if meeting {
		for other, pa := range a.theirs {
			if other == member || pa.rec.Entry(member).Upto == 0 {
				continue
			}
			if !pa.verified {
				// Checked before it is handed on: a member that signs its
				// records badly must not make us look like a bad holder.
				if err := pa.rec.Verify(); err != nil {
					e.cfg.Logf("mmls: room %s: the record of %s does not verify: dropped", r.name, other.Short())
					delete(a.theirs, other)
					continue
				}
				pa.verified = true
			}
			e.send(member, frame.New(frame.Acks, pa.raw))
		}
	}
	if r.direct || !r.s.Expects(member) && !r.s.InSendGroup(member) {
		return
	}
	held, err := e.heldFor(r)
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	theirs := a.theirs[member]
	sent := 0
	for _, h := range held {
		env, err := dmls.UnmarshalEnvelope(h.Envelope)
		if err != nil || env.Author() == member {
			continue
		}
		seq, ok := env.SeqFor(member)
		if !ok || seq == 0 {
			continue
		}
		if theirs != nil {
			if entry := theirs.rec.Entry(env.Author()); entry.Has(seq) {
				continue
			}
		}
		raw, err := (&dmls.Held{Room: r.id, Envelope: h.Envelope}).Marshal()
		if err != nil {
			continue
		}
		e.send(member, frame.New(frame.Held, raw))
		if sent++; sent >= handOnBatch {
			break
		}
	}
	if sent > 0 {
		e.cfg.Logf("mmls: room %s: handed %d held messages to %s", r.name, sent, member.Short())
	}
}

// onHeld takes a message a member hands on: checked as if its author had
// sent it, kept once, shown as the author's.
func (e *Engine) onHeld(from ID, body []byte) {
	h, err := dmls.UnmarshalHeld(body)
	if err != nil {
		e.badHeld(from, "a held message", err)
		return
	}
	r := e.byID[h.Room]
	switch {
	case r == nil:
		e.cfg.Logf("mmls: from %s: a held message for a room we are not in", from.Short())
		return
	case r.direct:
		e.cfg.Logf("mmls: from %s: a held message of a direct room: refused", from.Short())
		return
	case !e.shares(r, from):
		e.cfg.Logf("mmls: from %s: a held message of %s, which it is not a member of: refused", from.Short(), r.name)
		return
	case e.distrusted(from):
		return
	}
	env, err := dmls.UnmarshalEnvelope(h.Envelope)
	if err != nil {
		e.badHeld(from, "a held message", err)
		return
	}
	author := env.Author()
	seq, addressed := env.SeqFor(e.me)
	switch {
	case author == e.me:
		return
	case env.Kind != dmls.EnvelopeText && env.Kind != dmls.EnvelopeFile:
		e.badHeld(from, "a held message", errNotHeld)
		return
	case !addressed || seq == 0:
		e.cfg.Logf("mmls: from %s: a held message not addressed to us: refused", from.Short())
		return
	case r.s.Kicked(author) || !e.isMember(r, author):
		e.cfg.Logf("mmls: from %s: a held message of %s, not a member of %s: refused", from.Short(), author.Short(), r.name)
		return
	}
	had, err := e.st.HasMessage(r.name, author.String(), hex.EncodeToString(env.ID[:]))
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	if had {
		e.stored(r, author, env) // we hold it: say so
		return
	}
	if err := env.Verify(r.id); err != nil {
		e.badHeld(from, "a held message", err)
		return
	}
	e.received(r, dmls.Event{Type: dmls.EventMessage, Peer: author, Envelope: env}, from)
}

var errNotHeld = failf(ErrUsage, "only texts and file offers are handed on")

// shares reports whether peer is in r with us: the other person of a
// direct room; in another room, not kicked and linked either way, or
// announcing it.
func (e *Engine) shares(r *room, peer ID) bool {
	if r.direct {
		return peer == r.with
	}
	if r.s.Kicked(peer) {
		return false
	}
	if r.s.InSendGroup(peer) || r.s.HasGroupOf(peer) {
		return true
	}
	p := e.peers[peer]
	return p != nil && p.rooms[r.id]
}

// isMember reports whether id is a member of r as we see it: linked
// either way, or in our send group before our restart.
func (e *Engine) isMember(r *room, id ID) bool {
	if r.s.Kicked(id) {
		return false
	}
	if r.s.InSendGroup(id) || r.s.HasGroupOf(id) {
		return true
	}
	members, err := e.st.Members(r.name)
	return err == nil && slices.Contains(members, id.String())
}

func (e *Engine) distrusted(peer ID) bool {
	p := e.peers[peer]
	return p != nil && p.badHeld >= maxBadHeld
}

// badHeld counts what a member handed on that did not check; past
// maxBadHeld nothing more of it is looked at until it reconnects.
func (e *Engine) badHeld(from ID, what string, err error) {
	p := e.peer(from)
	p.badHeld++
	e.cfg.Logf("mmls: from %s: %s that does not check (%d): %v", from.Short(), what, p.badHeld, err)
	if p.badHeld == maxBadHeld {
		e.cfg.Logf("mmls: %s: what it hands on is ignored until it reconnects", from.Short())
	}
}

// hold keeps author's message env of r to hand on to its other
// recipients, unless the user turned holding off.
func (e *Engine) hold(r *room, author ID, env *dmls.Envelope) {
	if r.direct || !e.holds.on {
		return
	}
	others := false
	for _, to := range env.To {
		if to != e.me && to != author {
			others = true
			break
		}
	}
	if !others {
		return
	}
	raw, err := env.Marshal()
	if err != nil {
		return
	}
	m := store.HeldMessage{Room: r.name, Author: author.String(), ID: hex.EncodeToString(env.ID[:]), SentAt: env.SentAt,
		HeldAt: e.now(), Envelope: raw}
	// Written behind (heldbuffer.go); taken once the message is stored
	// (a batch that fails stores nothing: the message comes again).
	e.afterCommit(func() { e.bufferHold(r, m, env) })
}

// setHold turns holding for others on or off; off forgets what we hold.
func (e *Engine) setHold(on bool) (Event, error) {
	value := "on"
	if !on {
		value = "off"
	}
	if err := e.st.SetSetting(store.SettingHold, value); err != nil {
		return nil, storageErr(err)
	}
	e.holds.on = on
	if !on {
		for _, r := range e.rooms {
			e.dropBuffered(r)
		}
		rooms, err := e.st.HeldRooms()
		if err != nil {
			return nil, storageErr(err)
		}
		for _, room := range rooms {
			if err := e.st.DropHeld(room); err != nil {
				return nil, storageErr(err)
			}
		}
	}
	return &HoldChanged{On: on}, nil
}

// pruneHeld forgets what every recipient holds now, and what is older
// than HoldFor; and keeps the members' records that came since the last
// tick.
func (e *Engine) pruneHeld() {
	now := e.now()
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		a := r.acks
		for member := range a.news {
			if pa := a.theirs[member]; pa != nil {
				if err := e.st.PutPeerAcks(r.name, member.String(), pa.raw); err != nil {
					e.fail(storageErr(err))
				}
			}
		}
		clear(a.news)
		if r.direct {
			continue
		}
		if len(a.mine) > 0 && (a.signed == nil || a.version > a.told) {
			// What we hold changed since the members last heard:
			// holders forget what everyone has.
			e.tellMembers(r, nil)
		}
		held, err := e.st.HeldIn(r.name)
		if err != nil {
			e.fail(storageErr(err))
			continue
		}
		var done []store.HeldMessage
		for _, h := range held {
			if now.Sub(h.HeldAt) >= HoldFor || e.everyoneHolds(r, h) {
				done = append(done, h)
			}
		}
		if err := e.st.Unhold(r.name, done); err != nil {
			e.fail(storageErr(err))
		}
		e.writeHeld(r, false)
	}
}

// everyoneHolds reports whether every recipient of h but us and its
// author has said it holds it (or is no longer a member).
func (e *Engine) everyoneHolds(r *room, h store.HeldMessage) bool {
	env, err := dmls.UnmarshalEnvelope(h.Envelope)
	if err != nil {
		return true
	}
	return e.everyoneHoldsEnv(r, env)
}

// everyoneHoldsEnv is everyoneHolds of a decoded envelope.
func (e *Engine) everyoneHoldsEnv(r *room, env *dmls.Envelope) bool {
	author := env.Author()
	for i, to := range env.To {
		if to == e.me || to == author || r.s.Kicked(to) {
			continue
		}
		pa := r.acks.theirs[to]
		if pa == nil {
			return false
		}
		if entry := pa.rec.Entry(author); !entry.Has(env.SeqOf(i)) {
			return false
		}
	}
	return true
}
