package mmls

import (
	"errors"
	"fmt"
	"strings"
)

// Spec describes one slash command: the one table behind [Parse], /help
// and the interface's Tab completion.
type Spec struct {
	Name    string // without the slash
	Aliases []string
	Args    string // as shown in /help
	Help    string
	// parse makes the command from its argument; current is the room the
	// interface shows ("" when none).
	parse func(arg, current string) (Command, error)
}

// Usage is the command as /help shows it: name and arguments.
func (s Spec) Usage() string { return strings.TrimSpace("/" + s.Name + " " + s.Args) }

var specs = []Spec{
	{Name: "join", Args: "ROOM", Help: "join an open room (anyone may); /join ◆ROOM accepts an invitation to a private one", parse: func(arg, _ string) (Command, error) {
		if strings.HasPrefix(strings.TrimSpace(arg), "◆") {
			return Accept{Room: roomName(arg)}, need(roomName(arg))
		}
		// An open room's name has no case: /join Dev is #dev.
		return Join{Room: strings.ToLower(roomName(arg))}, need(roomName(arg))
	}},
	{Name: "ignore", Args: "NICK", Help: "refuse NICK's direct messages from now on (and its request)", parse: func(arg, _ string) (Command, error) {
		return Ignore{Who: strings.TrimSpace(arg)}, need(strings.TrimSpace(arg))
	}},
	{Name: "accept", Args: "ROOM [NICK] | NICK", Help: "accept an invitation to a private room (NICK: whose, when several), or NICK's request to talk", parse: func(arg, _ string) (Command, error) {
		room, from, _ := strings.Cut(strings.TrimSpace(arg), " ")
		return Accept{Room: roomName(room), From: strings.TrimSpace(from)}, need(roomName(room))
	}},
	{Name: "create", Args: "ROOM", Help: "make a private room: only people its members invite get in", parse: func(arg, _ string) (Command, error) {
		return Create{Room: roomName(arg)}, need(roomName(arg))
	}},
	{Name: "leave", Aliases: []string{"part"}, Args: "[ROOM]", Help: "leave a room (default: the one shown; @NICK: a direct room)", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr(roomName(arg), cur)
		return Leave{Room: room}, err
	}},
	{Name: "switch", Args: "ROOM", Help: "show another of your rooms (@NICK: a direct room; or Ctrl+N / Ctrl+P)", parse: func(arg, _ string) (Command, error) {
		return Switch{Room: roomName(arg)}, need(roomName(arg))
	}},
	{Name: "rooms", Help: "list your rooms", parse: func(string, string) (Command, error) { return ListRooms{}, nil }},
	{Name: "who", Aliases: []string{"members"}, Args: "[ROOM]", Help: "list a room's members and which way each link holds", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr(roomName(arg), cur)
		return Who{Room: room}, err
	}},
	{Name: "peers", Help: "list the peers on the network", parse: func(string, string) (Command, error) { return ListPeers{}, nil }},
	{Name: "connect", Args: "HOST:PORT", Help: "connect to a peer by address (where multicast is blocked)", parse: func(arg, _ string) (Command, error) {
		return Connect{Addr: arg}, need(arg)
	}},
	{Name: "msg", Args: "NICK TEXT", Help: "write to NICK alone (a direct, two-person room)", parse: func(arg, _ string) (Command, error) {
		nick, text, _ := strings.Cut(arg, " ")
		if strings.TrimSpace(text) == "" {
			return nil, errUsage
		}
		return Direct{To: nick, Text: text}, nil
	}},
	{Name: "query", Args: "NICK [TEXT]", Help: "open the direct room with NICK (and write TEXT there)", parse: func(arg, _ string) (Command, error) {
		nick, text, _ := strings.Cut(arg, " ")
		nick = strings.TrimPrefix(nick, "@")
		return Direct{To: nick, Text: strings.TrimSpace(text)}, need(nick)
	}},
	{Name: "invite", Args: "NICK", Help: "tell NICK the name of the room shown (sent encrypted)", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return Invite{Room: room, Who: arg}, err
	}},
	{Name: "kick", Args: "NICK", Help: "remove someone from the room shown", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return Kick{Room: room, Who: arg}, err
	}},
	{Name: "admin", Args: "NICK", Help: "let NICK remove people from the private room shown, for everyone (its creator only)", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return SetAdmin{Room: room, Who: arg}, err
	}},
	{Name: "unkick", Args: "NICK", Help: "take back a removal from the room shown (an /invite does too)", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return Unkick{Room: room, Who: arg}, err
	}},
	{Name: "verify", Args: "NICK [yes]", Help: "show the safety number to compare with NICK out loud; yes: it matched", parse: func(arg, _ string) (Command, error) {
		nick, confirm, _ := strings.Cut(arg, " ")
		return Verify{Who: nick, Confirm: strings.TrimSpace(confirm) == "yes"}, need(nick)
	}},
	{Name: "update", Help: "refresh your keys in the room shown, now", parse: func(_, cur string) (Command, error) {
		room, err := roomOr("", cur)
		return Update{Room: room}, err
	}},
	{Name: "nick", Args: "NAME", Help: "change your nick, at once (everyone you share a room with is told)", parse: func(arg, _ string) (Command, error) {
		return SetNick{Nick: arg}, need(arg)
	}},
	{Name: "me", Args: "ACTION", Help: "say what you do, as IRC's /me: \"/me waves\" shows as \"* you waves\"", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr("", cur)
		if err == nil && arg == "" {
			err = errUsage
		}
		return Say{Room: room, Text: actionPrefix + arg}, err
	}},
	{Name: "passphrase", Help: "change the passphrase that encrypts your data on this disk (asked without echo); unencrypted data: be asked for one at the next start", parse: func(arg, _ string) (Command, error) {
		if strings.TrimSpace(arg) != "" {
			return nil, failf(ErrUsage, "type /passphrase alone: it asks for the passphrases without echo (what followed it was not kept)")
		}
		return ChangePassphrase{}, nil
	}},
	{Name: "away", Args: "[TEXT]", Help: "say you are away, and why (shown to the others); /away alone: you are back", parse: func(arg, _ string) (Command, error) {
		return SetAway{Text: arg}, nil
	}},
	{Name: "topic", Args: "TEXT", Help: "set the topic of the room shown, for everyone in it (shown in its header)", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr("", cur)
		if err == nil && arg == "" {
			err = errUsage
		}
		return Say{Room: room, Text: topicPrefix + arg}, err
	}},
	{Name: "send", Args: "PATH", Help: "offer a file to the room shown (encrypted; members fetch it with /save)", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return SendFile{Room: room, Path: arg}, err
	}},
	{Name: "save", Args: "[ID] [PATH]", Help: "fetch a file offered in the room shown (default: the latest) into PATH or ~/Downloads/mmls-chat", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr("", cur)
		id, path := fileArgs(arg)
		return SaveFile{Room: room, ID: id, Path: path}, err
	}},
	{Name: "cancel", Args: "[ID]", Help: "stop fetching a file (default: the latest being fetched)", parse: func(arg, cur string) (Command, error) {
		room, err := roomOr("", cur)
		id, _ := fileArgs(arg)
		return CancelFile{Room: room, ID: id}, err
	}},
	{Name: "autosave", Args: "SIZE|off", Help: "save files up to SIZE (e.g. 20MB) as they come, from direct and private rooms and verified people", parse: func(arg, _ string) (Command, error) {
		if strings.EqualFold(strings.TrimSpace(arg), "off") {
			return SetAutoSave{}, nil
		}
		n, err := ParseBytes(arg)
		if err != nil {
			return nil, errUsage
		}
		return SetAutoSave{Limit: n}, nil
	}},
	{Name: "files", Help: "list the files offered in the room shown", parse: func(_, cur string) (Command, error) {
		room, err := roomOr("", cur)
		return ListFiles{Room: room}, err
	}},
	{Name: "search", Aliases: []string{"find"}, Args: "TEXT", Help: "find the messages of the room shown that contain TEXT", parse: func(arg, cur string) (Command, error) {
		room, err := shownAnd(arg, cur)
		return Search{Room: room, Text: arg}, err
	}},
	{Name: "notify", Args: "on|off", Help: "desktop notifications for mentions and direct messages", parse: func(arg, _ string) (Command, error) {
		switch strings.ToLower(arg) {
		case "on":
			return SetNotify{On: true}, nil
		case "off":
			return SetNotify{On: false}, nil
		}
		return nil, errUsage
	}},
	{Name: "hold", Args: "on|off", Help: "keep others' messages to hand on to members who missed them (on by default)", parse: func(arg, _ string) (Command, error) {
		switch strings.ToLower(strings.TrimSpace(arg)) {
		case "on":
			return SetHold{On: true}, nil
		case "off":
			return SetHold{On: false}, nil
		}
		return nil, errUsage
	}},
	{Name: "info", Help: "show your id, address and status", parse: func(string, string) (Command, error) { return ShowInfo{}, nil }},
	{Name: "alerts", Help: "list security alerts, each with its evidence", parse: func(string, string) (Command, error) { return ListAlerts{}, nil }},
	{Name: "help", Help: "this list", parse: func(string, string) (Command, error) { return Help{}, nil }},
	{Name: "quit", Aliases: []string{"exit"}, Help: "leave the program", parse: func(string, string) (Command, error) { return Quit{}, nil }},
}

// Specs returns the slash commands in /help order.
func Specs() []Spec { return append([]Spec(nil), specs...) }

// HelpLines is /help: one aligned line per command, with its other
// names.
func HelpLines() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = fmt.Sprintf("%-19s %s", s.Usage(), s.Help)
		if len(s.Aliases) > 0 {
			out[i] += "; also /" + strings.Join(s.Aliases, ", /")
		}
	}
	return out
}

// ResolveRoom names the direct room meant by a room typed as the
// interfaces show direct rooms, "@NICK" (/switch @carol, /leave @carol,
// /who @carol): find returns the direct room with NICK, if we have one.
// Any other command, or room, is returned as it is.
func ResolveRoom(c Command, find func(nick string) (room string, ok bool)) (Command, error) {
	resolve := func(room string) (string, error) {
		nick, ok := strings.CutPrefix(room, "@")
		if !ok {
			return room, nil
		}
		if r, ok := find(nick); ok {
			return r, nil
		}
		return "", failf(ErrNotInRoom, "you have no conversation with %s (/query %s opens one)", room, nick)
	}
	var err error
	switch x := c.(type) {
	case Switch:
		x.Room, err = resolve(x.Room)
		c = x
	case Leave:
		x.Room, err = resolve(x.Room)
		c = x
	case Who:
		x.Room, err = resolve(x.Room)
		c = x
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse turns a typed line into a command. A line starting with / is a
// command (// starts a text that begins with a slash); any other text is a
// message to current, the room the interface shows. A blank line is no
// command: nil, nil. The terminal interface and the headless mode both
// parse with it, so they accept exactly the same lines.
func Parse(line, current string) (Command, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return nil, nil
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		room, err := roomOr("", current)
		if err != nil {
			return nil, err
		}
		return Say{Room: room, Text: strings.TrimPrefix(line, "/")}, nil
	}
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	arg = strings.TrimSpace(arg)
	if s, ok := lookup(name); ok {
		cmd, err := s.parse(arg, current)
		if errors.Is(err, errUsage) {
			return nil, failf(ErrUsage, "usage: %s", s.Usage())
		}
		if err != nil {
			return nil, err
		}
		return cmd, nil
	}
	return nil, failf(ErrUnknownCommand, "unknown command /%s (try /help)", name)
}

func lookup(name string) (Spec, bool) {
	name = strings.ToLower(name)
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
		for _, a := range s.Aliases {
			if a == name {
				return s, true
			}
		}
	}
	return Spec{}, false
}

// errUsage is a parse function's "arguments missing"; Parse turns it
// into the command's usage line.
var errUsage = errors.New("mmls: usage")

func need(arg string) error {
	if arg == "" {
		return errUsage
	}
	return nil
}

// shownAnd is the room shown, for a command that also needs an argument.
func shownAnd(arg, current string) (string, error) {
	room, err := roomOr("", current)
	if err == nil {
		err = need(arg)
	}
	return room, err
}

// roomName is a room as typed: "#dev" and "◆plans", as the interface
// shows rooms, name the rooms dev and plans.
func roomName(arg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(arg, "#"), "◆")
}

// roomOr is room, or the room shown when room is empty.
func roomOr(room, current string) (string, error) {
	switch {
	case room != "":
		return room, nil
	case current == "":
		return "", failf(ErrUsage, "you are in no room: /join one first")
	}
	return current, nil
}

// fileArgs splits /save's argument: an id (hex digits, as /files shows
// it) then a path; a first word that is not hex is the path.
func fileArgs(arg string) (id, path string) {
	arg = strings.TrimSpace(arg)
	first, rest, _ := strings.Cut(arg, " ")
	if first != "" && len(first) <= 32 && strings.Trim(strings.ToLower(first), "0123456789abcdef") == "" {
		return strings.ToLower(first), strings.TrimSpace(rest)
	}
	return "", arg
}

// actionPrefix starts a line written with /me. It travels as text, so a
// peer that knows no actions shows it as typed.
const actionPrefix = "/me "

// Action reports whether text is a /me line, and the action it tells.
func Action(text string) (string, bool) {
	action, ok := strings.CutPrefix(text, actionPrefix)
	return action, ok && strings.TrimSpace(action) != ""
}

// topicPrefix starts a line written with /topic: the room's topic is the
// latest such line (anyone in the room may set it, as on IRC without +t).
const topicPrefix = "/topic "

// Topic reports whether text is a /topic line, and the topic it sets.
func Topic(text string) (string, bool) {
	topic, ok := strings.CutPrefix(text, topicPrefix)
	return strings.TrimSpace(topic), ok && strings.TrimSpace(topic) != ""
}
