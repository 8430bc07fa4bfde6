package mmls

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
)

// Commands lists the slash commands with their help text, in /help order.
var Commands = []string{
	"/join ROOM        join (or create) a room and make it current",
	"/leave [ROOM]     leave a room (default: the current one)",
	"/rooms            list your rooms",
	"/who [ROOM]       list a room's members and which way each link holds",
	"/peers            list the peers on the network",
	"/connect HOST:PORT  connect to a peer by address (where multicast is blocked)",
	"/msg NICK TEXT    write to NICK alone (a direct, two-person room)",
	"/invite NICK      tell NICK the name of the current room (sent encrypted)",
	"/kick NICK        remove someone from the current room",
	"/verify NICK [yes]  show the safety number to compare with NICK out loud; yes: it matched",
	"/update           refresh your keys in the current room now",
	"/nick NAME        change your nick (from the next start)",
	"/info             show your id, address and status",
	"/help             this list",
	"/quit             leave the program",
}

// onInput runs one input line; it reports whether to quit.
func (e *Engine) onInput(line string) bool {
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "/") {
		r := e.rooms[e.current]
		if r == nil {
			e.fail(fmt.Errorf("you are in no room: /join one first"))
			return false
		}
		e.say(r, line)
		return false
	}
	cmd, arg, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(cmd) {
	case "quit", "exit":
		return true
	case "join":
		e.join(arg)
	case "switch":
		if e.rooms[arg] == nil {
			e.fail(fmt.Errorf("switch: you are not in %q", arg))
		} else {
			e.current = arg
		}
	case "leave", "part":
		e.leave(arg)
	case "rooms":
		e.listRooms()
	case "who", "members":
		e.who(arg)
	case "peers":
		e.listPeers()
	case "connect":
		if arg == "" {
			e.fail(fmt.Errorf("usage: /connect HOST:PORT"))
		} else if err := e.net.Connect(arg); err != nil {
			e.fail(err)
		}
	case "kick":
		e.kick(arg)
	case "verify":
		e.verify(arg)
	case "update":
		if r := e.rooms[e.current]; r != nil {
			e.in(r)(r.s.Update())
			e.emit(Event{Type: "update", Room: r.name})
		}
	case "nick":
		e.nick(arg)
	case "info":
		e.info()
	case "help":
		e.emit(Event{Type: "help", Commands: Commands})
	case "msg", "query":
		nick, text, _ := strings.Cut(arg, " ")
		if nick == "" || strings.TrimSpace(text) == "" {
			e.fail(fmt.Errorf("usage: /msg NICK TEXT"))
			return false
		}
		fp, err := e.byNick(nick)
		if err != nil {
			e.fail(fmt.Errorf("msg: %w", err))
			return false
		}
		if r := e.direct(fp); r != nil {
			e.say(r, text)
		}
	case "invite":
		r := e.rooms[e.current]
		if r == nil || r.direct || arg == "" {
			e.fail(fmt.Errorf("usage: /invite NICK, in a room (not a direct conversation)"))
			return false
		}
		fp, err := e.byNick(arg)
		if err != nil {
			e.fail(fmt.Errorf("invite: %w", err))
			return false
		}
		e.invite(r, fp)
	default:
		e.fail(fmt.Errorf("unknown command /%s (try /help)", cmd))
	}
	return false
}

func validRoom(name string) error {
	if name == "" || len(name) > 64 || !utf8.ValidString(name) || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("a room name is 1 to 64 characters without spaces")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("a room name has no control characters")
		}
	}
	return nil
}

func (e *Engine) join(name string) {
	if err := validRoom(name); err != nil {
		e.fail(fmt.Errorf("join: %w", err))
		return
	}
	if strings.HasPrefix(name, directPrefix) {
		e.fail(fmt.Errorf("join: names starting with %q are direct conversations: use /msg NICK", directPrefix))
		return
	}
	if err := e.st.JoinRoom(name, e.now()); err != nil {
		e.fail(err)
		return
	}
	if _, err := e.openRoom(name); err != nil {
		e.fail(err)
		return
	}
	e.current = name
}

func (e *Engine) leave(name string) {
	if name == "" {
		name = e.current
	}
	r := e.rooms[name]
	if r == nil {
		e.fail(fmt.Errorf("leave: you are not in %q", name))
		return
	}
	e.in(r)(r.s.Leave())
	if err := e.st.LeaveRoom(name); err != nil {
		e.fail(err)
	}
	if err := e.st.ClearMembers(name); err != nil {
		e.fail(err)
	}
	delete(e.rooms, name)
	delete(e.byID, r.id)
	e.announceRooms()
	e.emit(Event{Type: "left", Room: name})
	if e.current == name {
		e.current = ""
		if names := e.roomNames(); len(names) > 0 {
			e.current = names[0]
		}
	}
}

func (e *Engine) listRooms() {
	var out []RoomView
	for _, n := range e.roomNames() {
		out = append(out, RoomView{Name: n, Current: n == e.current, Members: len(e.rooms[n].s.Members())})
	}
	e.emit(Event{Type: "rooms", Rooms: out})
}

func (e *Engine) who(name string) {
	if name == "" {
		name = e.current
	}
	r := e.rooms[name]
	if r == nil {
		e.fail(fmt.Errorf("who: you are not in %q", name))
		return
	}
	var out []MemberView
	for _, m := range r.s.Members() {
		if m.Kicked && !m.WeReach && !m.TheyReach {
			continue
		}
		p := e.peers[m.ID]
		verified, err := e.st.Verified(hexID(m.ID))
		if err != nil {
			e.fail(err)
		}
		out = append(out, MemberView{ID: hexID(m.ID), Nick: e.nickOf(m.ID, m.Nick), WeReach: m.WeReach,
			TheyReach: m.TheyReach, Online: p != nil && p.online, Verified: verified})
	}
	e.emit(Event{Type: "who", Room: name, Members: out})
}

func (e *Engine) listPeers() {
	var out []PeerView
	for _, p := range e.net.Peers() {
		out = append(out, PeerView{ID: p.ID.String(), Nick: p.Nick, Addr: p.Addr, Online: p.Online, Queued: p.Queued})
	}
	e.emit(Event{Type: "peers", Peers: out})
}

// byNick finds a peer by nick (or id prefix) among the known peers.
func (e *Engine) byNick(nick string) (dmls.Fingerprint, error) {
	var found []dmls.Fingerprint
	for id, p := range e.peers {
		if p.nick == nick || len(nick) >= 8 && strings.HasPrefix(hexID(id), strings.ToLower(nick)) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return dmls.Fingerprint{}, fmt.Errorf("no peer called %q", nick)
	case 1:
		return found[0], nil
	}
	return dmls.Fingerprint{}, fmt.Errorf("%d peers are called %q: use an id prefix (see /peers)", len(found), nick)
}

func (e *Engine) kick(nick string) {
	r := e.rooms[e.current]
	if r == nil || nick == "" {
		e.fail(fmt.Errorf("usage: /kick NICK, in a room"))
		return
	}
	fp, err := e.byNick(nick)
	if err != nil {
		e.fail(fmt.Errorf("kick: %w", err))
		return
	}
	if err := e.st.Kick(r.name, hexID(fp), e.now()); err != nil {
		e.fail(err)
		return
	}
	e.in(r)(r.s.Remove(fp))
}

// verify shows the safety number with a peer; "/verify NICK yes" records
// that the user compared it out loud and it matched.
func (e *Engine) verify(arg string) {
	nick, confirm, _ := strings.Cut(arg, " ")
	fp, err := e.byNick(nick)
	if err != nil {
		e.fail(fmt.Errorf("verify: %w", err))
		return
	}
	if strings.TrimSpace(confirm) == "yes" {
		if err := e.st.SetVerified(hexID(fp), e.now()); err != nil {
			e.fail(err)
			return
		}
	}
	verified, err := e.st.Verified(hexID(fp))
	if err != nil {
		e.fail(err)
		return
	}
	e.emit(Event{Type: "verify", Nick: e.nickOf(fp, nick), ID: hexID(fp), SafetyNumber: dmls.SafetyNumber(e.me[:], fp[:]), Verified: verified})
}

func (e *Engine) nick(name string) {
	if _, err := dmls.IdentityFromSeed(e.id.Seed(), name); err != nil {
		e.fail(fmt.Errorf("nick: %w", err))
		return
	}
	if err := e.st.SetIdentity(storeIdentity(e.id.Seed(), name)); err != nil {
		e.fail(err)
		return
	}
	e.emit(Event{Type: "nick", Nick: name, Detail: "takes effect at the next start"})
}

func (e *Engine) info() {
	online := 0
	for _, p := range e.peers {
		if p.online {
			online++
		}
	}
	e.emit(Event{Type: "info", Info: &Info{ID: hexID(e.me), Nick: e.id.Nick(), Listen: e.cfg.Listen, MDNS: e.cfg.MDNS,
		Data: e.st.Path(), Room: e.current, Rooms: len(e.rooms), Online: online}})
}
