package mmls

import (
	"encoding/hex"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Direct rooms are two-person rooms named after both ids; the naming is
// the engine's alone: interfaces ask IsDirect and DirectPeer.
const directPrefix = "dm:"

// IsDirect reports whether a room is a direct (two-person) conversation.
func IsDirect(room string) bool { return strings.HasPrefix(room, directPrefix) }

// directRoom names the two-person room of a and b (the same on both
// sides).
func directRoom(a, b ID) string {
	x, y := a.String(), b.String()
	if y < x {
		x, y = y, x
	}
	return directPrefix + x + ":" + y
}

// DirectPeer returns the other person of one of our direct rooms. It only
// reads the name and our id, so any goroutine may call it.
func (e *Engine) DirectPeer(room string) (ID, bool) {
	ids := strings.Split(strings.TrimPrefix(room, directPrefix), ":")
	if !IsDirect(room) || len(ids) != 2 {
		return ID{}, false
	}
	a, okA := ParseID(ids[0])
	b, okB := ParseID(ids[1])
	switch {
	case !okA || !okB:
		return ID{}, false
	case a == e.me:
		return b, true
	case b == e.me:
		return a, true
	}
	return ID{}, false
}

// direct opens (or returns) the direct room with peer.
func (e *Engine) direct(peer ID) (*room, error) {
	if peer == e.me {
		return nil, failf(ErrSelf, "that is you")
	}
	return e.joinStored(store.Room{Name: directRoom(e.me, peer)})
}

// invite sends peer, through our direct room, the name of r.
func (e *Engine) invite(r *room, who string) error {
	if r.direct {
		return failf(ErrDirectRoom, "invite people from a room, not from a direct conversation")
	}
	peer, err := e.byNick(who)
	if err != nil {
		return err
	}
	if r.s.Kicked(peer) {
		// Inviting someone removed from the room takes the removal back.
		if err := e.unkick(r, peer); err != nil {
			return err
		}
	}
	dm, err := e.direct(peer)
	if err != nil {
		return err
	}
	inv := &dmls.Invitation{Room: r.name, Secret: r.secret}
	if r.pw != nil {
		inv.Roles, inv.Update = r.pw.rolesRaw, r.pw.updateRaw
	}
	env, err := dm.s.NewInvitation(inv, peer)
	if err != nil {
		return failWith(ErrNotSent, err, "the invitation could not be made")
	}
	out, err := e.protectStored(dm, env, store.Outgoing{Kind: store.KindInvite, Text: r.name, Secret: r.secret})
	if err != nil {
		return err
	}
	if r.private() {
		e.vouch(r, peer) // we admit whom we invite
	}
	e.emit(&InviteSent{Room: r.name, ID: peer, Nick: e.nickOf(peer, "")})
	e.apply(dm, out, nil)
	return nil
}

// invited reports an invitation that came in a direct room, once per id
// (it is kept in that room's history), and sends the receipt.
func (e *Engine) invited(r *room, ev dmls.Event) {
	if !r.direct || ev.Peer != r.with {
		e.cfg.Logf("mmls: invitation outside a direct room, from %s: ignored", ev.Peer.Short())
		return
	}
	if validRoom(ev.Detail) != nil {
		e.cfg.Logf("mmls: an invitation to a room name that is not valid, from %s: ignored", ev.Peer.Short())
		return
	}
	env := ev.Envelope
	id := hex.EncodeToString(env.ID[:])
	nick := e.nickOf(ev.Peer, ev.Nick)
	m := store.Message{ID: id, Room: r.name, FromID: ev.Peer.String(), FromNick: nick,
		Text: "invites you to " + ev.Detail, SentAt: env.SentAt, ReceivedAt: e.now().UTC()}
	added, err := e.st.AddMessage(m)
	if err != nil {
		e.fail(storageErr(err))
		return // not stored: not acknowledged, so the inviter tries again
	}
	if ev.Secret != nil {
		// Kept until accepted: /join NAME then joins this private room.
		inv := store.Invite{Room: ev.Detail, Secret: ev.Secret, From: ev.Peer.String(), At: e.now()}
		if ev.Roles != nil {
			id := dmls.PrivateRoomID(ev.Secret)
			roles, err := checkRoles(id, ev.Roles)
			if err == nil && ev.Update != nil {
				_, err = checkUpdate(id, roles, ev.Update)
			}
			if err != nil {
				// Not what its creator signed: an invitation to a room
				// whose powers someone made up.
				e.cfg.Logf("mmls: an invitation from %s with roles that do not check (%v): ignored", ev.Peer.Short(), err)
				e.stored(r, ev.Peer, env) // taken: it would never check
				return
			}
			inv.Roles, inv.Update = ev.Roles, ev.Update
		}
		if err := e.st.AddInvite(inv); err != nil {
			e.fail(storageErr(err))
			return
		}
	}
	if added {
		e.emit(&InviteReceived{Room: ev.Detail, From: nick, FromID: ev.Peer, Private: ev.Secret != nil})
	}
	e.stored(r, ev.Peer, env)
}
