package mmls

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// say writes text in r: stored (history and outbox) before it is reported
// sent and before anything goes on the wire.
func (e *Engine) say(r *room, text string) error {
	text = strings.TrimRight(text, "\r\n")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	later, err := e.laterRecipients(r)
	if err != nil {
		return err
	}
	env, err := r.s.NewEnvelope(text, later...)
	switch {
	case errors.Is(err, dmls.ErrTooLarge):
		return failWith(ErrNotSent, err, "that message is too long (at most %d KiB)", dmls.MaxTextSize>>10)
	case err != nil:
		return failWith(ErrNotSent, err, "that message could not be sent")
	}
	out, err := e.protectStored(r, env, store.Outgoing{Kind: store.KindText, Text: text})
	if err != nil {
		return err
	}
	e.emit(&Sent{Room: r.name, MsgID: hex.EncodeToString(env.ID[:]), Text: text, Recipients: len(env.To), Waiting: waiting(r, env)})
	e.apply(r, out, nil)
	if r.direct && !r.s.InSendGroup(r.with) {
		// The other person closed our conversation (or never opened
		// it): our announcement opens it again on their side, as a
		// query does, and the link forms; the line waits till then.
		if p := e.peers[r.with]; p != nil && p.online {
			e.announceTo(r.with)
			e.in(r)(r.s.Hello(r.with))
		}
	}
	return nil
}

// protectStored protects env in r and stores it in the outbox (a text in
// the history too); the caller reports it, then sends the Output. When
// either step fails nothing of the message goes out, but a commit that
// the protection made does: our group has moved on, and members must
// follow.
func (e *Engine) protectStored(r *room, env *dmls.Envelope, o store.Outgoing) (dmls.Output, error) {
	seqs, undo, err := e.numberFor(r, env)
	if err != nil {
		return dmls.Output{}, err
	}
	out, err := r.s.ProtectEnvelope(env)
	if err != nil {
		undo()
		e.apply(r, out, nil)
		return dmls.Output{}, failWith(ErrNotSent, err, "the message could not be encrypted, so it was not sent")
	}
	sealed, err := env.Marshal()
	if err != nil {
		undo()
		e.apply(r, withoutApp(out), nil)
		return dmls.Output{}, failWith(ErrNotSent, err, "the message could not be encoded, so it was not sent")
	}
	id := hex.EncodeToString(env.ID[:])
	o.ID, o.Room, o.SentAt, o.To, o.Seqs, o.Sealed = id, r.name, env.SentAt, nil, seqs, sealed
	for _, fp := range env.To {
		o.To = append(o.To, fp.String())
	}
	if err := e.st.AddOutgoing(o, e.me.String(), e.nick); err != nil {
		undo()
		e.apply(r, withoutApp(out), nil)
		return dmls.Output{}, failWith(ErrStorage, err, "the message could not be saved, so it was not sent")
	}
	e.pend(o)
	e.resend.at[id] = e.now()
	return out, nil
}

// withoutApp is out without its application messages.
func withoutApp(out dmls.Output) dmls.Output {
	kept := dmls.Output{Events: out.Events}
	for _, o := range out.Sends {
		if o.Kind != dmls.KindApp {
			kept.Sends = append(kept.Sends, o)
		}
	}
	return kept
}

// resending is when our messages were last protected again: each
// message (at, by id), and the outbox's last scan for overdue receipts.
type resending struct {
	at       map[string]time.Time
	lastScan time.Time
}

// onTick runs the sessions' timers and, a few times per ResendAfter, the
// re-sends of overdue messages.
func (e *Engine) onTick() {
	e.flushKept()
	e.renameDue()
	e.awayDue()
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		e.in(r)(r.s.Tick())
	}
	e.releaseHeld()
	// The outbox is read from disk: scan it a few times per ResendAfter,
	// not every tick.
	if now := e.now(); now.Sub(e.resend.lastScan) >= e.cfg.ResendAfter/6 {
		e.resend.lastScan = now
		e.resendDue()
	}
	if now := e.now(); now.Sub(e.holds.lastPrune) >= HandOnEvery {
		e.holds.lastPrune = now
		e.pruneHeld()
	}
}

// resendDue protects again the messages whose receipts are overdue from a
// recipient that is online and in our send group.
func (e *Engine) resendDue() {
	out, err := e.st.Outbox()
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	now := e.now()
	live := make(map[string]bool, len(out))
	for _, o := range out {
		live[o.ID] = true
	}
	for id := range e.resend.at {
		if !live[id] {
			delete(e.resend.at, id) // delivered: forget when it was last sent
		}
	}
	e.sendOrder(out, ID{})
	for _, o := range out {
		if now.Sub(o.SentAt) < e.cfg.ResendAfter || now.Sub(e.resend.at[o.ID]) < e.cfg.ResendAfter {
			continue
		}
		r := e.rooms[o.Room]
		if r == nil {
			continue
		}
		var due []ID
		for _, to := range o.Pending() {
			fp, ok := ParseID(to)
			if p := e.peers[fp]; ok && p != nil && p.online && r.s.InSendGroup(fp) {
				due = append(due, fp)
			}
		}
		if len(due) > 0 {
			e.reprotect(r, o, due)
		}
	}
}

// resendTo protects again every message of r that peer has not
// acknowledged.
func (e *Engine) resendTo(r *room, peer ID) {
	out, err := e.st.Outbox()
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	e.sendOrder(out, peer)
	for _, o := range out {
		if o.Room != r.name {
			continue
		}
		if slices.Contains(o.Pending(), peer.String()) {
			e.reprotect(r, o, []ID{peer})
		}
	}
}

// sendOrder sorts our outgoing messages (the store keeps them by id) in
// the order they were first sent: by the numbers peer has for them in
// their room (as pending keeps them), else by the time. A recipient
// reads what it missed in the order it was written.
func (e *Engine) sendOrder(out []store.Outgoing, peer ID) {
	seq := map[string]uint64{}
	for _, byTo := range e.ours.pending {
		for s, id := range byTo[peer] {
			seq[id] = s
		}
	}
	slices.SortStableFunc(out, func(a, b store.Outgoing) int {
		if sa, sb := seq[a.ID], seq[b.ID]; sa > 0 && sb > 0 && a.Room == b.Room {
			return cmp.Compare(sa, sb)
		}
		return a.SentAt.Compare(b.SentAt)
	})
}

// reprotect sends a stored message again to the recipients in to, who
// have not acknowledged it. In the room's group only when everyone in it
// now was a recipient then; otherwise (someone joined since, who would
// hold the key) through the direct room with each of them.
// resendDirect re-sends peer, through our direct room, what it misses in
// rooms whose group now holds someone who was not a recipient.
func (e *Engine) resendDirect(peer ID) {
	out, err := e.st.Outbox()
	if err != nil {
		e.fail(storageErr(err))
		return
	}
	e.sendOrder(out, peer)
	for _, o := range out {
		r := e.rooms[o.Room]
		if r == nil || r.direct || !slices.Contains(o.Pending(), peer.String()) {
			continue
		}
		if env, err := envelopeOf(o); err == nil && !subset(r.s.Recipients(), env.To) {
			e.reprotect(r, o, []ID{peer})
		}
	}
}

func (e *Engine) reprotect(r *room, o store.Outgoing, to []ID) {
	env, err := envelopeOf(o)
	if err != nil {
		e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
		return
	}
	e.resend.at[o.ID] = e.now()
	if o.Sealed == nil {
		// Stored before messages were numbered and signed: number it
		// now, once, and keep it so.
		seqs, undo, err := e.numberFor(r, env)
		if err != nil {
			e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
			return
		}
		if err := env.Sign(e.id, r.id); err != nil {
			undo()
			e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
			return
		}
		if o.Sealed, err = env.Marshal(); err == nil {
			o.Seqs = seqs
			if err = e.st.Renumber(o); err == nil {
				e.pend(o)
			}
		}
		if err != nil {
			undo()
			e.cfg.Logf("mmls: outbox entry %s: %v", o.ID, err)
			return
		}
	}
	if r.direct || subset(r.s.Recipients(), env.To) {
		e.in(r)(r.s.ProtectEnvelope(env))
		return
	}
	for _, peer := range to {
		dm, err := e.direct(peer)
		if err != nil {
			e.cfg.Logf("mmls: re-send %s to %s: %v", o.ID, peer.Short(), err)
			continue
		}
		fwd, err := dm.s.NewResend(r.id, env, peer)
		if err != nil {
			e.cfg.Logf("mmls: re-send %s to %s: %v", o.ID, peer.Short(), err)
			continue
		}
		e.in(dm)(dm.s.ProtectEnvelope(fwd))
	}
}

// subset reports whether every id of a is in b.
func subset(a, b []ID) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// envelopeOf is the envelope of a stored outgoing message as it first
// went (signed, numbered), or for one stored before messages were (no
// Sealed), rebuilt with the same id, time and recipients, so receivers
// deduplicate it; reprotect numbers and signs that one.
func envelopeOf(o store.Outgoing) (*dmls.Envelope, error) {
	if o.Sealed != nil {
		return dmls.UnmarshalEnvelope(o.Sealed)
	}
	env := &dmls.Envelope{SentAt: o.SentAt, Kind: dmls.EnvelopeText, Body: []byte(o.Text), To: []ID{}}
	if o.Kind == store.KindInvite {
		body, err := dmls.InviteBody(o.Text, o.Secret)
		if err != nil {
			return nil, err
		}
		env.Kind, env.Body = dmls.EnvelopeControl, body
	}
	if o.Kind == store.KindFile {
		env.Kind, env.Body = dmls.EnvelopeFile, o.Body
	}
	if b, err := hex.DecodeString(o.ID); err != nil || len(b) != len(env.ID) {
		return nil, fmt.Errorf("mmls: bad outbox id %q", o.ID)
	} else {
		copy(env.ID[:], b)
	}
	for _, to := range o.To {
		fp, ok := ParseID(to)
		if !ok {
			return nil, fmt.Errorf("mmls: bad outbox recipient %q", to)
		}
		env.To = append(env.To, fp)
	}
	return env, nil
}
