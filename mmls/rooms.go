package mmls

import (
	"crypto/hmac"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

type room struct {
	name string
	id   dmls.RoomID
	s    *dmls.Session
	// with is the other person of a direct (two-person) room.
	with   ID
	direct bool
	// secret is a private room's (nil for an open or direct room).
	secret []byte
	// seqs: the last sequence number we gave our messages to each
	// recipient (read when first needed); acks: what we and the others
	// hold of the room's messages (acks.go).
	seqs map[string]uint64
	acks *acks
	// pw: a private room's roles and tag secrets (nil: an open or direct
	// room, or a private one made before roles were signed).
	pw *powers
	// request: a direct room a stranger opened, not accepted (consent.go).
	request bool
	// buffered: what we hold of its messages for others, not written yet
	// (heldbuffer.go).
	buffered heldBuffer
}

func (r *room) private() bool { return r.secret != nil }

// tagKey keys the room's announcement tags: the (current tag) secret of a
// private room, the id (from the name) of an open one.
func (r *room) tagKey() []byte {
	if r.private() {
		return r.tagSecret()
	}
	return r.id[:]
}

// open restores the rooms from the store (or joins the default room on a
// first start) and says Ready.
func (e *Engine) open() error {
	rooms, err := e.st.Rooms()
	if err != nil {
		return err
	}
	// Peers we knew: their nicks name offline partners and members.
	known, err := e.st.KnownPeers()
	if err != nil {
		return err
	}
	for _, k := range known {
		if id, ok := ParseID(k.ID); ok && id != e.me && dmls.ValidNick(k.Nick) == nil {
			e.net.Befriend(id)
			e.knownBefore[id] = true
			p := e.peer(id)
			p.nick, p.skel, p.addr, p.stored = k.Nick, skeleton(k.Nick), k.Addr, k.Nick+"\x00"+k.Addr
		}
	}
	if len(rooms) == 0 {
		first := store.Room{Name: e.cfg.Room, JoinedAt: e.now()}
		if err := e.st.JoinRoom(first); err != nil {
			return err
		}
		rooms = []store.Room{first}
	}
	// The room to start in opens first: one given (--room) always, joined
	// if it is not one of ours; else the room on screen when we stopped,
	// for which a stored room stands in when we left it.
	want := e.cfg.Room
	if !e.roomGiven {
		if last, err := e.st.Setting(store.SettingLastRoom); err == nil && last != "" {
			want = last
		}
	} else if !slices.ContainsFunc(rooms, func(r store.Room) bool { return r.Name == want }) {
		given := store.Room{Name: want, JoinedAt: e.now()}
		if err := e.st.JoinRoom(given); err != nil {
			return err
		}
		rooms = append(rooms, given)
	}
	sort.SliceStable(rooms, func(i, j int) bool { return rooms[i].Name == want && rooms[j].Name != want })
	e.start = rooms[0].Name
	if v, err := e.st.Setting(store.SettingHold); err == nil {
		e.holds.on = v != "off"
	}
	if v, err := e.st.Setting(store.SettingAutoSave); err == nil && v != "" {
		e.autoSave, _ = strconv.ParseInt(v, 10, 64)
	}
	notify, err := e.st.Setting(store.SettingNotify)
	if err != nil {
		return err
	}
	if err := e.loadPending(); err != nil {
		return err
	}
	e.emit(&Ready{ID: e.me, Nick: e.id.Nick(), Listen: e.cfg.Listen, Addrs: e.cfg.Addrs, Contacts: e.contacts(), Notes: e.cfg.Notes, Room: e.start, Notify: notify != "off"})
	for _, r := range rooms {
		if _, err := e.openRoom(r); err != nil {
			return err
		}
	}
	return nil
}

// openRoom creates the in-memory session for a stored room, reports it
// with its history, and says hello to the online peers in it.
func (e *Engine) openRoom(sr store.Room) (*room, error) {
	name := sr.Name
	if r := e.rooms[name]; r != nil {
		return r, nil
	}
	r := &room{name: name, id: dmls.RoomIDOf(name)}
	if sr.Private {
		if len(sr.Secret) != dmls.SecretSize {
			return nil, fmt.Errorf("mmls: private room %q: a secret of %d bytes", name, len(sr.Secret))
		}
		r.secret, r.id = sr.Secret, dmls.PrivateRoomID(sr.Secret)
		e.loadPowers(r, sr)
	}
	policy := e.cfg.Policy
	policy.HoldAdds = e.cfg.AddHold > 0 // newcomers of a batch go in one commit (releaseHeld)
	policy.RoomSize = e.cfg.RoomSize
	s, err := dmls.NewSession(e.id, e.cfg.Env, r.id, policy)
	if err != nil {
		return nil, err
	}
	r.s = s
	if r.private() {
		s.MakePrivate()
		// Whom we vouched for, and who was in our group, before a restart.
		vouches, err := e.st.Vouches(name)
		if err != nil {
			return nil, err
		}
		members, err := e.st.Members(name)
		if err != nil {
			return nil, err
		}
		for _, v := range append(vouches, members...) {
			if fp, ok := ParseID(v); ok {
				s.Vouch(fp)
			}
		}
	}
	if IsDirect(name) {
		with, ok := e.DirectPeer(name)
		if !ok {
			return nil, failf(ErrBadName, "%q is not a direct conversation of ours", name)
		}
		r.with, r.direct, r.request = with, true, sr.Request
		s.Restrict(with)
		// Addressed to the other person even before it is linked.
		if err := e.st.AddMember(name, with.String()); err != nil {
			return nil, err
		}
	}
	kicked, err := e.st.Kicked(name)
	if err != nil {
		return nil, err
	}
	for _, k := range kicked {
		fp, ok := ParseID(k.Peer)
		by, byOK := ParseID(k.By)
		if !byOK {
			by = e.me
		}
		if ok {
			s.MarkKicked(fp, by)
		}
	}
	s.FollowRemovals(e.removalPolicy(r))
	if !r.direct {
		s.PreferMembers(func(peer ID) bool { return e.preferred(r, peer) })
	}
	if r.pw != nil {
		// Any admin's re-admission undoes any admin's removal.
		s.FollowReadmissions(r.admin)
	}
	if err := e.loadAcks(r); err != nil {
		return nil, err
	}
	e.rooms[name], e.byID[r.id] = r, r
	joined := &Joined{Room: name, Private: r.private(), Request: r.request}
	if r.direct {
		joined.With, joined.Nick = r.with, e.nickOf(r.with, "")
	}
	e.emit(joined)
	past := e.pastEvents(name)
	if name == e.start {
		past = append(past, e.pastEvents("")...)
		sort.SliceStable(past, func(i, j int) bool { return past[i].When().Before(past[j].When()) })
	}
	if page, err := e.st.HistoryBefore(name, 0, HistoryLines); err != nil {
		e.fail(storageErr(err))
	} else if len(page.Messages) > 0 || len(past) > 0 {
		read, err := e.st.Setting(store.SettingRead + name)
		if err != nil {
			e.fail(storageErr(err))
		}
		e.emit(&History{Room: name, Lines: e.historyLines(page.Messages), Past: past, Older: olderThan(page), LastRead: read})
	}
	e.announceRooms()
	for _, p := range e.peers {
		if p.online && (p.rooms[r.id] || p.announced != nil && e.recognises(r, p.id, p.announced)) {
			p.rooms[r.id] = true
			e.in(r)(r.s.Hello(p.id))
			e.meet(r, p.id)
		}
	}
	return r, nil
}

// joinStored records and opens a room (or returns it if open).
func (e *Engine) joinStored(sr store.Room) (*room, error) {
	if r := e.rooms[sr.Name]; r != nil {
		return r, nil
	}
	sr.JoinedAt = e.now()
	if err := e.st.JoinRoom(sr); err != nil {
		return nil, storageErr(err)
	}
	// What of ours waits for receipts in the room of this name: its own
	// if we were in it before, nothing of another room of the name (the
	// store keeps rooms of one name apart).
	out, err := e.st.Outbox()
	if err != nil {
		return nil, storageErr(err)
	}
	for _, o := range out {
		if o.Room == sr.Name {
			e.pend(o)
		}
	}
	return e.openRoom(sr)
}

// join joins the open room called name. An invitation to a private room
// of that name changes nothing of it: accepting one is explicit (accept).
func (e *Engine) join(name string) error {
	if err := validRoom(name); err != nil {
		return err
	}
	if r := e.rooms[name]; r != nil {
		if r.private() {
			return failf(ErrBadName, "you are in the private room ◆%s; an open room of that name is another room (leave ◆%s to join it)", name, name)
		}
		return nil
	}
	_, err := e.joinStored(store.Room{Name: name})
	return err
}

// accept accepts an invitation to the private room called name: the one
// there is, or from's when several people invited us to rooms of that
// name.
func (e *Engine) accept(name, from string) error {
	if err := validRoom(name); err != nil {
		return err
	}
	invs, err := e.st.Invitations(name)
	if err != nil {
		return storageErr(err)
	}
	if from != "" {
		inviter, err := e.byNick(from)
		if err != nil {
			return err
		}
		invs = slices.DeleteFunc(invs, func(inv store.Invite) bool { return inv.From != inviter.String() })
	}
	switch len(invs) {
	case 0:
		if r := e.rooms[name]; r != nil && r.private() {
			return nil // accepted already
		}
		return failf(ErrBadName, "nobody invited you to a private room called %s", name)
	case 1:
	default:
		var who []string
		for _, inv := range invs {
			id, _ := ParseID(inv.From)
			who = append(who, e.nickOf(id, ""))
		}
		return failf(ErrAmbiguous, "%d people invited you to rooms called ◆%s (%s): /accept %s NICK says whose", len(invs), name, strings.Join(who, ", "), name)
	}
	inv := invs[0]
	if r := e.rooms[name]; r != nil {
		if r.private() && string(r.secret) == string(inv.Secret) {
			return nil
		}
		return failf(ErrBadName, "you are in another room called %s: leave it to accept the invitation", e.title(name))
	}
	r, err := e.joinStored(store.Room{Name: name, Private: true, Secret: inv.Secret, Roles: inv.Roles, Update: inv.Update})
	if err != nil {
		return err
	}
	if inviter, ok := ParseID(inv.From); ok {
		e.vouch(r, inviter)
	}
	if err := e.st.DropInvite(name, inv.From); err != nil {
		return storageErr(err)
	}
	return nil
}

// create makes a private room: a fresh secret, its only member us.
func (e *Engine) create(name string) error {
	if err := validRoom(name); err != nil {
		return err
	}
	if e.rooms[name] != nil {
		return failf(ErrBadName, "you are in a room called %s already", e.title(name))
	}
	secret := make([]byte, dmls.SecretSize)
	if _, err := io.ReadFull(e.cfg.Env.Rand, secret); err != nil {
		return failWith(ErrStorage, err, "no randomness for the room's secret")
	}
	roles, err := e.newPowers(dmls.PrivateRoomID(secret))
	if err != nil {
		return failWith(ErrNotSent, err, "the room's roles could not be signed")
	}
	_, err = e.joinStored(store.Room{Name: name, Private: true, Secret: secret, Roles: roles})
	return err
}

// vouch vouches for peer in the private room r, durably.
func (e *Engine) vouch(r *room, peer ID) {
	if err := e.st.Vouch(r.name, peer.String()); err != nil {
		e.fail(storageErr(err))
	}
	e.apply(r, r.s.Vouch(peer), nil)
}

func validRoom(name string) error {
	if IsDirect(name) {
		return failf(ErrBadName, "names starting with %q are direct conversations: use /msg NICK", directPrefix)
	}
	if strings.HasPrefix(name, "@") {
		return failf(ErrBadName, "@NICK is a direct conversation: /query NICK opens it")
	}
	if name == "" || len(name) > 64 || !utf8.ValidString(name) || strings.ContainsAny(name, " \t") {
		return failf(ErrBadName, "a room name is 1 to 64 characters without spaces")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return failf(ErrBadName, "a room name has no control characters")
		}
	}
	return nil
}

// removalPolicy decides whose removals r follows. In a private room, its
// admins' (the creator and whom it named: powers.go); in one made before
// rooms had admins, every member's (the members vouched for one another). In an open room
// anyone can be a member, so a removal by someone else is followed only
// when the user verified the remover (/verify NICK yes); otherwise the
// user is told, and /kick follows it by hand. One stranger can then remove
// people from its own group, never from everyone's.
func (e *Engine) removalPolicy(r *room) func(dmls.Fingerprint) bool {
	if r.pw != nil {
		return r.admin // a private room with roles: its admins'
	}
	if r.private() || r.direct {
		return nil
	}
	return func(remover dmls.Fingerprint) bool {
		verified, err := e.st.Verified(remover.String())
		if err != nil {
			e.cfg.Logf("mmls: %v", err)
		}
		return verified
	}
}

// leave leaves a room: every owner whose group we are in is asked to
// remove us, and the room is forgotten.
func (e *Engine) leave(name string) error {
	r, err := e.room(name)
	if err != nil {
		return err
	}
	e.in(r)(r.s.Leave())
	e.dropBuffered(r)
	delete(e.rooms, name)
	delete(e.byID, r.id)
	// The room's counts stay with it in the store: another room of its
	// name, joined later, starts from none (joinStored).
	e.flushQuota()
	delete(e.ours.pending, name)
	for _, m := range []map[string]bool{e.quota.told, e.toldFull} {
		maps.DeleteFunc(m, func(k string, _ bool) bool { return strings.HasPrefix(k, name+"\x00") })
	}
	maps.DeleteFunc(e.quota.used, func(k string, _ int64) bool { return strings.HasPrefix(k, name+"\x00") })
	e.announceRooms()
	e.emit(&Left{Room: name})
	if err := e.st.LeaveRoom(name); err != nil {
		return storageErr(err)
	}
	if err := e.st.ClearMembers(name); err != nil {
		return storageErr(err)
	}
	if err := e.st.DropHeld(name); err != nil {
		return storageErr(err)
	}
	return nil
}

// room returns the room a command names.
func (e *Engine) room(name string) (*room, error) {
	if r := e.rooms[name]; r != nil {
		return r, nil
	}
	return nil, failf(ErrNotInRoom, "you are not in %s", e.title(name))
}

// title shows a room to people: #name, or @nick for a direct room.
func (e *Engine) title(name string) string {
	if peer, ok := e.DirectPeer(name); ok {
		return "@" + e.nickOf(peer, "")
	}
	return "#" + name
}

// announceRooms tells every online peer which rooms we share with it.
func (e *Engine) announceRooms() {
	for _, p := range e.peers {
		if p.online {
			e.announceTo(p.id)
		}
	}
}

// announceTo tells peer which rooms we are in, in terms it can only
// recognise for the rooms it is in too.
func (e *Engine) announceTo(peer ID) {
	a := &announcement{}
	if _, err := io.ReadFull(e.cfg.Env.Rand, a.nonce[:]); err != nil {
		e.fail(failWith(ErrStorage, err, "no randomness"))
		return
	}
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		if r.direct {
			a.direct = a.direct || r.with == peer
			continue
		}
		a.tags = append(a.tags, dmls.RoomTag(r.tagKey(), a.nonce[:], e.me, peer))
		if old := r.oldTagSecrets(); len(old) > 0 && e.isMember(r, peer) {
			// A member away through a removal knows the room by an
			// earlier secret (it is given the fresh one once linked);
			// the member removed is never sent these.
			for _, s := range old {
				a.tags = append(a.tags, dmls.RoomTag(s, a.nonce[:], e.me, peer))
			}
		}
	}
	e.send(peer, a.frame())
}

// recognises reports whether an announcement from peer carries the tag of
// room r.
func (e *Engine) recognises(r *room, peer ID, a *announcement) bool {
	if r.direct {
		return false
	}
	for _, key := range append([][]byte{r.tagKey()}, r.oldTagSecrets()...) {
		want := dmls.RoomTag(key, a.nonce[:], peer, e.me)
		for _, t := range a.tags {
			if hmac.Equal(t[:], want[:]) {
				return true
			}
		}
	}
	return false
}

// historyLines turns stored messages into lines; ours keep their
// delivery marks across restarts.
func (e *Engine) historyLines(hist []store.Message) []Line {
	lines := make([]Line, len(hist))
	var mine []string
	for i, m := range hist {
		from, _ := ParseID(m.FromID)
		lines[i] = Line{MsgID: m.ID, From: m.FromNick, FromID: from, Text: m.Text, SentAt: m.SentAt, Mine: m.Mine, File: e.lineFile(m.File)}
		if m.Mine {
			mine = append(mine, m.ID)
		}
	}
	deliveries, err := e.st.Deliveries(mine)
	if err != nil {
		e.fail(storageErr(err))
	}
	for i := range lines {
		if d, ok := deliveries[lines[i].MsgID]; ok && lines[i].Mine {
			lines[i].Recipients = d.To - d.Dropped
			for _, a := range d.Acked {
				if id, ok := ParseID(a); ok {
					lines[i].StoredBy = append(lines[i].StoredBy, id)
				}
			}
		}
	}
	return lines
}

// olderThan is where the lines older than page start (0: there are none).
func olderThan(page store.Page) uint64 {
	if !page.More {
		return 0
	}
	return page.Before
}

// olderLines answers LoadOlder: the HistoryLines lines of room stored
// before the place the last History said.
func (e *Engine) olderLines(c LoadOlder) (Event, error) {
	if _, err := e.room(c.Room); err != nil {
		return nil, err
	}
	if c.Before == 0 {
		return &History{Room: c.Room, Earlier: true}, nil
	}
	page, err := e.st.HistoryBefore(c.Room, c.Before, HistoryLines)
	if err != nil {
		return nil, storageErr(err)
	}
	return &History{Room: c.Room, Lines: e.historyLines(page.Messages), Older: olderThan(page), Earlier: true}, nil
}
