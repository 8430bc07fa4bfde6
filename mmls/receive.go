package mmls

import (
	"encoding/hex"
	"slices"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// in returns apply bound to r, to take a session call's two results:
// e.in(r)(r.s.Update()).
func (e *Engine) in(r *room) func(dmls.Output, error) {
	return func(out dmls.Output, err error) { e.apply(r, out, err) }
}

// apply sends a session call's messages and acts on its events. A
// session error is the peer's problem or the network's, never a person's
// command: it is logged.
func (e *Engine) apply(r *room, out dmls.Output, err error) {
	var last, frame []byte // one frame for the members a message goes to
	for _, o := range out.Sends {
		if len(o.Data) == 0 || len(last) == 0 || &o.Data[0] != &last[0] || len(o.Data) != len(last) {
			last, frame = o.Data, dmlsFrame(o.Data)
		}
		// An application message leaves only once the batch that
		// stored it is durable; other frames (a commit the group made)
		// go whatever happens to the batch.
		if o.Kind == dmls.KindApp {
			e.sendLater(o.To, frame, true, "")
		} else {
			e.send(o.To, frame)
		}
	}
	for _, ev := range out.Events {
		e.onSessionEvent(r, ev)
	}
	if err != nil {
		e.cfg.Logf("mmls: room %s: %v", r.name, err)
	}
}

var changes = map[dmls.EventType]Change{
	dmls.EventMemberAdded:   ChangeAdded,
	dmls.EventMemberRemoved: ChangeRemoved,
	dmls.EventRejoined:      ChangeRejoined,
}

func (e *Engine) onSessionEvent(r *room, ev dmls.Event) {
	switch ev.Type {
	case dmls.EventMessage:
		e.received(r, ev, ID{})
	case dmls.EventMemberAdded, dmls.EventMemberRemoved, dmls.EventRejoined:
		restored := false
		if ev.By == e.me {
			if ev.Type == dmls.EventMemberAdded {
				members, err := e.st.Members(r.name)
				restored = err == nil && slices.Contains(members, ev.Peer.String())
			}
			e.ourGroupChanged(r, ev)
		}
		if ev.Type != dmls.EventMemberRemoved && ev.By == e.me {
			e.rememberMember(r, ev.Peer)
		}
		mc := &MemberChanged{Room: r.name, ID: ev.Peer, Nick: e.nickOf(ev.Peer, ev.Nick), Change: changes[ev.Type], By: ev.By, Departure: ev.Departure, Restored: restored}
		if by, ok := r.s.KickedBy(ev.Peer); ok && ev.By == e.me && by != e.me && ev.Type == dmls.EventMemberRemoved {
			mc.Following = by
		}
		e.emit(mc)
	case dmls.EventJoined:
		e.rememberMember(r, ev.By)
		e.emit(&MemberChanged{Room: r.name, ID: e.me, Nick: e.nick, Change: ChangeAdded, By: ev.By})
	case dmls.EventRemoved:
		e.emit(&Removed{Room: r.name, By: ev.By, ByNick: e.nickOf(ev.By, ev.Nick)})
	case dmls.EventEquivocation:
		e.equivocation(r, ev)
	case dmls.EventInvite:
		e.invited(r, ev)
	case dmls.EventRemovalIgnored:
		e.emit(&RemovalIgnored{Room: r.name, ID: ev.Peer, Nick: e.nickOf(ev.Peer, ev.Nick), By: ev.By, ByNick: e.nickOf(ev.By, "")})
	case dmls.EventKickLifted:
		if err := e.st.Unkick(r.name, ev.Peer.String()); err != nil {
			e.fail(storageErr(err))
		}
		e.emit(&KickLifted{Room: r.name, ID: ev.Peer, Nick: e.nickOf(ev.Peer, ev.Nick), By: ev.By})
	case dmls.EventResent:
		e.resentToUs(r, ev)
	case dmls.EventPowers:
		e.onPowers(r, ev)
	case dmls.EventRoomFull:
		e.roomFull(r, ev)
	case dmls.EventRotated:
		e.emit(&KeyRotated{Room: r.name, By: ev.By, ByNick: e.nickOf(ev.By, ev.Nick)})
	case dmls.EventNeedRejoin:
		e.cfg.Logf("mmls: room %s: asked %s to re-add us", r.name, ev.By.Short())
	}
}

// rememberMember keeps peer as a known peer once it is linked with us in
// r: an open or private room, or a direct room with someone verified.
func (e *Engine) rememberMember(r *room, peer ID) {
	p := e.peers[peer]
	if p != nil && p.nick != "" && !r.direct {
		e.pin(p) // a member now: its nick is pinned to it, if free
	}
	if p == nil || p.stored != "" && p.stored == p.nick+"\x00"+p.addr {
		return
	}
	if r.direct {
		if verified, err := e.st.Verified(peer.String()); err != nil || !verified {
			return
		}
	}
	e.remember(p)
}

// ourGroupChanged keeps the store in step with our send group.
func (e *Engine) ourGroupChanged(r *room, ev dmls.Event) {
	peer := ev.Peer.String()
	if ev.Type != dmls.EventMemberRemoved {
		// The peer (re)joined our group: what it has not acknowledged
		// goes again, in the current epoch.
		if err := e.st.AddMember(r.name, peer); err != nil {
			e.fail(storageErr(err))
		}
		e.resendTo(r, ev.Peer)
		if r.pw != nil {
			// It may have missed a change of the room's powers.
			e.givePowers(r, r.pw.rolesRaw, []ID{ev.Peer})
		}
		if r.direct {
			// The direct room carries what other rooms could not re-send.
			e.resendDirect(ev.Peer)
		}
		return
	}
	if err := e.st.RemoveMember(r.name, peer); err != nil {
		e.fail(storageErr(err))
	}
	delete(e.ours.pending[r.name], ev.Peer)
	if dropped, err := e.st.DropRecipient(r.name, peer); err != nil {
		e.fail(storageErr(err))
	} else {
		for _, id := range dropped {
			e.emit(&Undelivered{Room: r.name, MsgID: id, To: ev.Peer})
		}
	}
	if by, ok := r.s.KickedBy(ev.Peer); ok {
		k := store.Kick{Peer: peer, At: e.now()}
		if by != e.me {
			k.By = by.String()
		}
		if err := e.st.Kick(r.name, k); err != nil {
			e.fail(storageErr(err))
		}
	}
}

// resentToUs takes a message of another room that its author re-sent us
// through the direct room r: it counts only if the author is a member of
// that room as we see it.
func (e *Engine) resentToUs(r *room, ev dmls.Event) {
	orig := e.byID[ev.Room]
	switch {
	case !r.direct || ev.Peer != r.with:
		e.cfg.Logf("mmls: a re-send outside a direct room, from %s: ignored", ev.Peer.Short())
	case orig == nil || orig.direct:
		e.cfg.Logf("mmls: a re-send for a room we are not in, from %s: ignored", ev.Peer.Short())
	case ev.Envelope.Author() != ev.Peer:
		e.cfg.Logf("mmls: a re-send from %s of a message by %s: ignored", ev.Peer.Short(), ev.Envelope.Author().Short())
	case orig.s.Kicked(ev.Peer) || !orig.s.HasGroupOf(ev.Peer) && !orig.s.InSendGroup(ev.Peer):
		e.cfg.Logf("mmls: a re-send from %s, not a member of %s: ignored", ev.Peer.Short(), orig.name)
	default:
		e.received(orig, dmls.Event{Type: dmls.EventMessage, Peer: ev.Peer, Nick: ev.Nick, Envelope: ev.Envelope}, ID{})
	}
}

// received stores a message (once per id for the life of the store),
// reports it, keeps it to hand on to its other recipients, and notes that
// we hold it (its author learns it after the batch). via is the member
// that handed it on, or zero when its author sent it.
func (e *Engine) received(r *room, ev dmls.Event, via ID) {
	env := ev.Envelope
	id := hex.EncodeToString(env.ID[:])
	m := store.Message{ID: id, Room: r.name, FromID: ev.Peer.String(), FromNick: e.nickOf(ev.Peer, ev.Nick),
		Text: string(env.Body), SentAt: env.SentAt, ReceivedAt: e.now().UTC()}
	if e.overQuota(r, ev.Peer, storedSize(env)) {
		// Refused (not kept, not acknowledged), unless we have it from
		// before: then its author hears it again that we hold it.
		if had, err := e.st.HasMessage(r.name, ev.Peer.String(), id); err == nil && had {
			e.stored(r, ev.Peer, env)
		}
		return
	}
	added := false
	if env.Kind == dmls.EnvelopeFile {
		offered, err := e.fileOffered(r, ev, m)
		if err != nil {
			e.fail(storageErr(err))
			return // not stored: not acknowledged, so it comes again
		}
		if added = offered != nil; added {
			e.emit(offered)
		}
	} else {
		var err error
		if added, err = e.st.AddMessage(m); err != nil {
			e.fail(storageErr(err))
			return // not stored: not acknowledged, so it comes again
		}
		if added {
			e.emit(&Message{Room: r.name, MsgID: id, From: m.FromNick, FromID: ev.Peer, Text: m.Text, SentAt: env.SentAt.UTC(), Via: via})
		}
	}
	if added {
		e.countStored(r, ev.Peer, storedSize(env))
		e.hold(r, ev.Peer, env)
	}
	e.stored(r, ev.Peer, env)
}

// equivocation keeps the evidence of an owner's two commits for one epoch
// and raises the alert.
func (e *Engine) equivocation(r *room, ev dmls.Event) {
	a := &Alert{Kind: Equivocation, Room: r.name, By: ev.By, Nick: e.nickOf(ev.By, ""), Detail: ev.Detail}
	kept := store.Alert{Kind: string(Equivocation), Room: r.name, By: ev.By.String(), Nick: a.Nick, At: e.now().UTC(), Detail: ev.Detail}
	if x := ev.Evidence; x != nil {
		for i := range x.Commits {
			a.Digests = append(a.Digests, hex.EncodeToString(x.Hashes[i][:]))
		}
		kept.Group, kept.Epoch, kept.Digests, kept.Reporter = x.Group, x.Epoch, a.Digests, x.Reporter.String()
		kept.Commits = [][]byte{x.Commits[0], x.Commits[1]}
	}
	if err := e.st.AddAlert(kept); err != nil {
		e.fail(storageErr(err))
	}
	e.emit(a)
}
