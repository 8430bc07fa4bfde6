package mmls

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// do runs one command on the engine's goroutine: its answer, or an error
// in plain words.
func (e *Engine) do(c Command) (Event, error) {
	switch c := c.(type) {
	case Join:
		if err := e.join(c.Room); err != nil {
			return nil, err
		}
		e.onScreen(c.Room)
		return nil, nil
	case Accept:
		if c.From == "" {
			if r, ok, err := e.acceptRequest(c.Room); ok || err != nil {
				if err != nil {
					return nil, err
				}
				e.onScreen(r.name)
				return &Switched{Room: r.name}, nil
			}
		}
		if err := e.accept(c.Room, c.From); err != nil {
			return nil, err
		}
		e.onScreen(c.Room)
		return nil, nil
	case Ignore:
		return e.ignore(c.Who)
	case Create:
		if err := e.create(c.Room); err != nil {
			return nil, err
		}
		e.onScreen(c.Room)
		return nil, nil
	case Leave:
		return nil, e.leave(c.Room)
	case Switch:
		if _, err := e.room(c.Room); err != nil {
			return nil, err
		}
		e.onScreen(c.Room)
		return &Switched{Room: c.Room}, nil
	case Say:
		r, err := e.room(c.Room)
		if err != nil {
			return nil, err
		}
		return nil, e.say(r, c.Text)
	case Direct:
		peer, err := e.byNick(c.To)
		if err != nil {
			return nil, err
		}
		r, err := e.direct(peer)
		if err != nil {
			return nil, err
		}
		if r.request {
			// Writing back accepts the request.
			if _, _, err := e.acceptRequest(c.To); err != nil {
				return nil, err
			}
		}
		if err := e.say(r, c.Text); err != nil {
			return nil, err
		}
		e.onScreen(r.name)
		return &DirectRoom{Room: r.name, With: peer}, nil
	case Invite:
		r, err := e.room(c.Room)
		if err != nil {
			return nil, err
		}
		return nil, e.invite(r, c.Who)
	case Kick:
		return nil, e.kick(c.Room, c.Who)
	case Unkick:
		r, peer, err := e.roomAndPeer(c.Room, c.Who)
		if err != nil {
			return nil, err
		}
		return nil, e.unkick(r, peer)
	case Verify:
		return e.verify(c.Who, c.Confirm)
	case Who:
		return e.who(c.Room)
	case ListPeers:
		return e.listPeers(), nil
	case ListRooms:
		return e.listRooms(), nil
	case ShowInfo:
		return e.info(), nil
	case ListAlerts:
		kept, err := e.st.Alerts()
		if err != nil {
			return nil, storageErr(err)
		}
		out := &Alerts{}
		for _, a := range kept {
			by, _ := ParseID(a.By)
			out.Alerts = append(out.Alerts, AlertView{Kind: AlertKind(a.Kind), Room: a.Room, Nick: a.Nick, By: by,
				Time: a.At, Detail: a.Detail, Epoch: a.Epoch, Digests: a.Digests})
		}
		return out, nil
	case SetNick:
		return e.setNick(c.Nick)
	case SetAway:
		return e.setAway(c.Text)
	case MarkRead:
		if _, err := e.room(c.Room); err != nil {
			return nil, err
		}
		if b, err := hex.DecodeString(c.MsgID); err != nil || len(b) != len(dmls.MessageID{}) {
			return nil, failf(ErrUsage, "%q is not a message id", c.MsgID)
		}
		if err := e.st.SetSetting(store.SettingRead+c.Room, c.MsgID); err != nil {
			return nil, storageErr(err)
		}
		return nil, nil
	case Connect:
		contact, err := ParseContact(c.Addr)
		if err != nil {
			return nil, failWith(ErrConnect, err, "cannot connect to %q: an address is HOST:PORT, or FINGERPRINT@HOST:PORT as /info shows it", c.Addr)
		}
		if err := e.net.Connect(contact.Addr, contact.ID); err != nil {
			return nil, failWith(ErrConnect, err, "cannot connect to %q", c.Addr)
		}
		return nil, nil
	case Update:
		r, err := e.room(c.Room)
		if err != nil {
			return nil, err
		}
		e.in(r)(r.s.Update())
		return &KeysUpdated{Room: r.name}, nil
	case Search:
		return e.search(c.Room, c.Text)
	case SetNotify:
		value := "on"
		if !c.On {
			value = "off"
		}
		if err := e.st.SetSetting(store.SettingNotify, value); err != nil {
			return nil, storageErr(err)
		}
		return &NotifyChanged{On: c.On}, nil
	case SendFile:
		return e.sendFile(c.Room, c.Path)
	case SaveFile:
		return e.saveFile(c)
	case LoadOlder:
		return e.olderLines(c)
	case ListFiles:
		return e.listFiles(c.Room)
	case CancelFile:
		return nil, e.cancelFile(c)
	case SetAutoSave:
		if err := e.st.SetSetting(store.SettingAutoSave, strconv.FormatInt(max(0, c.Limit), 10)); err != nil {
			return nil, storageErr(err)
		}
		e.autoSave = max(0, c.Limit)
		return &AutoSaveChanged{Limit: e.autoSave}, nil
	case ChangePassphrase:
		return e.changePassphrase(c)
	case SetHold:
		return e.setHold(c.On)
	case SetAdmin:
		r, peer, err := e.roomAndPeer(c.Room, c.Who)
		if err != nil {
			return nil, err
		}
		return e.setAdmin(r, peer)
	case RunTimers:
		e.batch(e.onTick, nil)
		return nil, nil
	case Help:
		return &HelpText{Commands: HelpLines()}, nil
	case Quit:
		return nil, nil
	case nil:
		return nil, failf(ErrUsage, "no command")
	}
	return nil, failf(ErrUnknownCommand, "unknown command %T", c)
}

func (e *Engine) kick(room, who string) error {
	r, err := e.room(room)
	if err != nil {
		return err
	}
	peer, err := e.byNick(who)
	if err != nil {
		return err
	}
	if !r.admin(e.me) {
		return failf(ErrNotAllowed, "only the admins of %s remove people from it (%s)", e.title(r.name), strings.Join(e.admins(r), ", "))
	}
	if err := e.st.Kick(r.name, store.Kick{Peer: peer.String(), At: e.now()}); err != nil {
		return storageErr(err)
	}
	out, err := r.s.Remove(peer)
	if errors.Is(err, dmls.ErrNotMember) {
		// Not linked right now (offline, say): it stays out when it
		// comes back.
		r.s.MarkKicked(peer, e.me)
		return e.rotateSecret(r)
	}
	e.apply(r, out, err)
	// The members left get a fresh secret: the one removed no longer
	// recognises the room.
	return e.rotateSecret(r)
}

// unkick lifts a removal of peer from r: ours, or one we followed.
func (e *Engine) unkick(r *room, peer ID) error {
	if !r.admin(e.me) {
		return failf(ErrNotAllowed, "only the admins of %s take removals back (%s)", e.title(r.name), strings.Join(e.admins(r), ", "))
	}
	out, err := r.s.Unkick(peer)
	if errors.Is(err, dmls.ErrNotMember) {
		return failf(ErrNoSuchPeer, "%s is not removed from %s", e.nickOf(peer, ""), e.title(r.name))
	}
	e.apply(r, out, err)
	if err := e.st.Unkick(r.name, peer.String()); err != nil {
		return storageErr(err)
	}
	return nil
}

// verify answers the safety number with a peer; confirm records that the
// user compared it out loud and it matched.
func (e *Engine) verify(who string, confirm bool) (Event, error) {
	peer, err := e.byNick(who)
	if err != nil {
		return nil, err
	}
	if confirm {
		e.net.Befriend(peer)
		if err := e.st.SetVerified(peer.String(), e.now()); err != nil {
			return nil, storageErr(err)
		}
	}
	verified, err := e.st.Verified(peer.String())
	if err != nil {
		return nil, storageErr(err)
	}
	return &SafetyNumber{Nick: e.nickOf(peer, who), ID: peer, Number: dmls.SafetyNumber(e.me[:], peer[:]), Verified: verified}, nil
}

func (e *Engine) who(room string) (Event, error) {
	r, err := e.room(room)
	if err != nil {
		return nil, err
	}
	var out []MemberView
	for _, m := range r.s.Members() {
		if m.Kicked && !m.WeReach && !m.TheyReach {
			continue
		}
		p := e.peers[m.ID]
		verified, err := e.st.Verified(m.ID.String())
		if err != nil {
			return nil, storageErr(err)
		}
		out = append(out, MemberView{ID: m.ID, Nick: e.nickOf(m.ID, m.Nick), WeReach: m.WeReach,
			TheyReach: m.TheyReach, Online: p != nil && p.online, Verified: verified, Away: awayOf(p),
			Stale: m.WeReach && m.Stale, Refreshed: m.Refreshed, Rotated: m.Rotated, LookAlike: e.lookAlike(m.ID)})
	}
	return &Members{Room: r.name, Private: r.private(), Members: out}, nil
}

func (e *Engine) listPeers() Event {
	var out []PeerView
	for _, p := range e.net.Peers() {
		nick := p.Nick
		if dmls.ValidNick(nick) != nil {
			nick = ""
		}
		out = append(out, PeerView{ID: p.ID, Nick: e.nickOf(p.ID, nick), Addr: p.Addr, Online: p.Online, Queued: p.Queued})
	}
	return &Peers{Peers: out}
}

func (e *Engine) listRooms() Event {
	var out []RoomView
	for _, n := range e.roomNames() {
		r := e.rooms[n]
		out = append(out, RoomView{Name: n, Members: len(r.s.Members()), Direct: r.direct, Private: r.private()})
	}
	return &Rooms{Rooms: out}
}

func (e *Engine) info() Event {
	online := 0
	for _, p := range e.peers {
		if p.online {
			online++
		}
	}
	var keys []RoomKeys
	for _, n := range e.roomNames() {
		s := e.rooms[n].s
		k := RoomKeys{Room: n, Rekeyed: s.Rekeyed().UTC()}
		for _, m := range s.Members() {
			if m.TheyReach {
				k.Leaves = append(k.Leaves, LeafRotation{Owner: m.ID, Nick: e.nickOf(m.ID, m.Nick), At: m.Rotated.UTC()})
			}
		}
		keys = append(keys, k)
	}
	return &Info{ID: e.me, Nick: e.nick, Listen: e.cfg.Listen, MDNS: e.cfg.MDNS, Data: e.st.Path(),
		Rooms: len(e.rooms), Online: online, Keys: keys, Contacts: e.contacts(), Version: e.cfg.Version}
}

// contacts are our contact strings: our id at each address others reach
// us at (or, with none known, at the one we listen on).
func (e *Engine) contacts() []string {
	addrs := e.cfg.Addrs
	if len(addrs) == 0 && e.cfg.Listen != "" {
		addrs = []string{e.cfg.Listen}
	}
	var out []string
	for _, a := range addrs {
		out = append(out, Contact{Addr: a, ID: e.me}.String())
	}
	return out
}

// onScreen remembers the room an interface now shows (Join, Create,
// Switch, Direct put it there): the next start opens it first.
func (e *Engine) onScreen(room string) {
	if e.lastRoom == room {
		return
	}
	e.lastRoom = room
	if err := e.st.SetSetting(store.SettingLastRoom, room); err != nil {
		e.cfg.Logf("mmls: remember the room on screen: %v", err)
	}
}

// MaxSearchResults bounds a Search's answer (the most recent matches).
const MaxSearchResults = 50

// search finds room's stored messages containing text, in any case.
func (e *Engine) search(room, text string) (Event, error) {
	if _, err := e.room(room); err != nil {
		return nil, err
	}
	hist, err := e.st.History(room, 0)
	if err != nil {
		return nil, storageErr(err)
	}
	want := strings.ToLower(text)
	found := &Found{Room: room, Text: text}
	for _, m := range hist {
		if !strings.Contains(strings.ToLower(m.Text), want) {
			continue
		}
		found.Total++
		from, _ := ParseID(m.FromID)
		found.Lines = append(found.Lines, Line{MsgID: m.ID, From: e.nickOf(from, m.FromNick), FromID: from, Text: m.Text, SentAt: m.SentAt, Mine: m.Mine, File: e.lineFile(m.File)})
	}
	if len(found.Lines) > MaxSearchResults {
		found.Lines = found.Lines[len(found.Lines)-MaxSearchResults:]
	}
	return found, nil
}

// roomAndPeer finds the room a command names and the peer it is about.
func (e *Engine) roomAndPeer(name, nick string) (*room, ID, error) {
	r, err := e.room(name)
	if err != nil {
		return nil, ID{}, err
	}
	peer, err := e.byNick(nick)
	if err != nil {
		return nil, ID{}, err
	}
	return r, peer, nil
}
