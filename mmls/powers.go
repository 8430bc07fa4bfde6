package mmls

import (
	"io"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Private-room powers (dmls/powers.go): the room's creator signs who may
// remove people for everyone (its admins: /admin NICK); removals and
// re-admissions are followed only from them; and each removal by an
// admin gives the members left a fresh tag secret, so the member removed
// no longer recognises the room's announcements, nor who joins it. A room
// made before roles were signed keeps the old rule (any member's removals
// are followed).

// powers is a private room's roles and tag secrets.
type powers struct {
	roles     *dmls.Roles
	rolesRaw  []byte
	update    *dmls.SecretUpdate
	updateRaw []byte
	oldTags   [][]byte // earlier tag secrets, newest last (recognised from members)
}

// maxOldTags is how many earlier tag secrets a room keeps: a member away
// through that many removals still recognises the room (and is given the
// fresh secret once linked); a removed member is never sent those tags.
const maxOldTags = 16

// loadPowers checks and takes a stored private room's powers.
func (e *Engine) loadPowers(r *room, sr store.Room) {
	if sr.Roles == nil {
		return
	}
	roles, err := checkRoles(r.id, sr.Roles)
	if err != nil {
		e.cfg.Logf("mmls: room %s: stored roles: %v", r.name, err)
		return
	}
	r.pw = &powers{roles: roles, rolesRaw: sr.Roles, oldTags: sr.OldTags}
	if sr.Update != nil {
		if u, err := checkUpdate(r.id, roles, sr.Update); err == nil {
			r.pw.update, r.pw.updateRaw = u, sr.Update
		}
	}
}

func checkRoles(room dmls.RoomID, raw []byte) (*dmls.Roles, error) {
	roles, err := dmls.UnmarshalRoles(raw)
	if err != nil {
		return nil, err
	}
	if roles.Room != room {
		return nil, failf(ErrBadName, "roles of another room")
	}
	return roles, roles.Verify()
}

func checkUpdate(room dmls.RoomID, roles *dmls.Roles, raw []byte) (*dmls.SecretUpdate, error) {
	u, err := dmls.UnmarshalSecretUpdate(raw)
	if err != nil {
		return nil, err
	}
	if u.Room != room || !roles.Can(u.AdminID()) {
		return nil, failf(ErrBadName, "a room secret from someone who is not its admin")
	}
	return u, u.Verify()
}

// tagSecret is what r's announcement tags are keyed by now.
func (r *room) tagSecret() []byte {
	if r.pw != nil && r.pw.update != nil {
		return r.pw.update.Secret
	}
	return r.secret
}

// oldTagSecrets are the tag secrets r had before (members away through a
// removal still use one).
func (r *room) oldTagSecrets() [][]byte {
	if r.pw == nil {
		return nil
	}
	if r.pw.update != nil {
		return append(append([][]byte(nil), r.pw.oldTags...), r.secret)
	}
	return nil
}

// admin reports whether peer may remove people from private room r for
// everyone: an admin of a room with roles; anyone in one without.
func (r *room) admin(peer ID) bool { return r.pw == nil || r.pw.roles.Can(peer) }

// newPowers makes a new private room's roles: its creator is us.
func (e *Engine) newPowers(id dmls.RoomID) ([]byte, error) {
	roles := &dmls.Roles{Room: id, Version: 1}
	if err := roles.Sign(e.id); err != nil {
		return nil, err
	}
	return roles.Marshal()
}

// keepPowers stores r's powers as they are now.
func (e *Engine) keepPowers(r *room) {
	if err := e.st.SetPowers(r.name, r.pw.rolesRaw, r.pw.updateRaw, r.pw.oldTags); err != nil {
		e.fail(storageErr(err))
	}
}

// onPowers takes roles or a secret update a member gave us (its own, or
// handed on): counted only when signed by the room's creator (roles) or
// one of its admins (a secret), and newer than ours.
func (e *Engine) onPowers(r *room, ev dmls.Event) {
	if r.pw == nil {
		return
	}
	pw := r.pw
	if ev.Roles != nil {
		roles, err := checkRoles(r.id, ev.Roles)
		switch {
		case err != nil:
			e.cfg.Logf("mmls: room %s: roles from %s: %v", r.name, ev.Peer.Short(), err)
		case roles.CreatorID() != pw.roles.CreatorID():
			e.cfg.Logf("mmls: room %s: roles from %s signed by someone who did not make the room: ignored", r.name, ev.Peer.Short())
		case roles.Version > pw.roles.Version:
			pw.roles, pw.rolesRaw = roles, ev.Roles
			e.keepPowers(r)
			// Who may remove people changed: say so, as /admin answers.
			e.emit(&AdminsChanged{Room: r.name, Admins: e.admins(r)})
		}
	}
	if ev.Update != nil {
		u, err := checkUpdate(r.id, pw.roles, ev.Update)
		switch {
		case err != nil:
			e.cfg.Logf("mmls: room %s: a room secret from %s: %v", r.name, ev.Peer.Short(), err)
		case pw.update == nil || u.Version > pw.update.Version:
			e.adoptSecret(r, u, ev.Update)
		}
	}
}

// adoptSecret makes u r's tag secret: announcements use it from now on.
func (e *Engine) adoptSecret(r *room, u *dmls.SecretUpdate, raw []byte) {
	pw := r.pw
	if pw.update != nil {
		pw.oldTags = append(pw.oldTags, pw.update.Secret)
		if len(pw.oldTags) > maxOldTags {
			pw.oldTags = pw.oldTags[len(pw.oldTags)-maxOldTags:]
		}
	}
	pw.update, pw.updateRaw = u, raw
	e.keepPowers(r)
	e.announceRooms()
}

// rotateSecret gives the members of our send group a fresh tag secret
// after we removed someone (only an admin's counts).
func (e *Engine) rotateSecret(r *room) error {
	if r.pw == nil || !r.pw.roles.Can(e.me) {
		return nil
	}
	secret := make([]byte, dmls.SecretSize)
	if _, err := io.ReadFull(e.cfg.Env.Rand, secret); err != nil {
		return failWith(ErrStorage, err, "no randomness for the room's secret")
	}
	u := &dmls.SecretUpdate{Room: r.id, Version: 1, Secret: secret}
	if r.pw.update != nil {
		u.Version = r.pw.update.Version + 1
	}
	if err := u.Sign(e.id); err != nil {
		return err
	}
	raw, err := u.Marshal()
	if err != nil {
		return err
	}
	e.adoptSecret(r, u, raw)
	e.givePowers(r, nil, r.s.Recipients())
	return nil
}

// givePowers sends r's roles (with them) and latest secret to members of
// our send group, inside it.
func (e *Engine) givePowers(r *room, roles []byte, to []ID) {
	if r.pw == nil || len(to) == 0 {
		return
	}
	envs, err := r.s.NewPowers(roles, r.pw.updateRaw, to)
	if err != nil {
		e.cfg.Logf("mmls: room %s: powers: %v", r.name, err)
		return
	}
	for _, env := range envs {
		e.in(r)(r.s.ProtectEnvelope(env))
	}
}

// setAdmin names peer an admin of r (only its creator can).
func (e *Engine) setAdmin(r *room, peer ID) (Event, error) {
	switch {
	case r.pw == nil:
		return nil, failf(ErrUsage, "%s has no admins: it was made before rooms had them (anyone in it may remove people)", e.title(r.name))
	case r.pw.roles.CreatorID() != e.me:
		return nil, failf(ErrNotAllowed, "only the one who made %s names its admins", e.title(r.name))
	case r.pw.roles.Can(peer):
		return &AdminsChanged{Room: r.name, Admins: e.admins(r)}, nil
	case len(r.pw.roles.Admins) >= dmls.MaxAdmins:
		return nil, failf(ErrUsage, "%s has %d admins already", e.title(r.name), dmls.MaxAdmins)
	}
	roles := *r.pw.roles
	roles.Version++
	roles.Admins = append(append([]ID(nil), roles.Admins...), peer)
	if err := roles.Sign(e.id); err != nil {
		return nil, failWith(ErrNotSent, err, "the room's roles could not be signed")
	}
	raw, err := roles.Marshal()
	if err != nil {
		return nil, failWith(ErrNotSent, err, "the room's roles could not be encoded")
	}
	r.pw.roles, r.pw.rolesRaw = &roles, raw
	e.keepPowers(r)
	e.givePowers(r, raw, r.s.Recipients())
	return &AdminsChanged{Room: r.name, Admins: e.admins(r)}, nil
}

// admins lists who may remove people from r, its creator first.
func (e *Engine) admins(r *room) []string {
	if r.pw == nil {
		return nil
	}
	out := []string{e.nickOf(r.pw.roles.CreatorID(), "")}
	for _, a := range r.pw.roles.Admins {
		out = append(out, e.nickOf(a, ""))
	}
	return out
}
