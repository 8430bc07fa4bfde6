package mmls

import (
	"sort"
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
}

// open restores the rooms from the store (or joins the default room on a
// first start) and says Ready.
func (e *Engine) open() error {
	rooms, err := e.st.Rooms()
	if err != nil {
		return err
	}
	if len(rooms) == 0 {
		if err := e.st.JoinRoom(e.cfg.Room, e.now()); err != nil {
			return err
		}
		rooms = []store.Room{{Name: e.cfg.Room}}
	}
	// The room to start in opens first; a stored room stands in for it
	// when it is not one of ours.
	sort.SliceStable(rooms, func(i, j int) bool { return rooms[i].Name == e.cfg.Room && rooms[j].Name != e.cfg.Room })
	e.start = rooms[0].Name
	e.emit(&Ready{ID: e.me, Nick: e.id.Nick(), Listen: e.cfg.Listen, Room: e.start})
	for _, r := range rooms {
		if _, err := e.openRoom(r.Name); err != nil {
			return err
		}
	}
	return nil
}

// openRoom creates the in-memory session for a stored room, reports it
// with its history, and says hello to the online peers in it.
func (e *Engine) openRoom(name string) (*room, error) {
	if r := e.rooms[name]; r != nil {
		return r, nil
	}
	s, err := dmls.NewSession(e.id, e.cfg.Env, dmls.RoomIDOf(name), e.cfg.Policy)
	if err != nil {
		return nil, err
	}
	r := &room{name: name, id: dmls.RoomIDOf(name), s: s}
	if IsDirect(name) {
		with, ok := e.DirectPeer(name)
		if !ok {
			return nil, failf(ErrBadName, "%q is not a direct conversation of ours", name)
		}
		r.with, r.direct = with, true
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
		if fp, ok := ParseID(k); ok {
			s.MarkKicked(fp)
		}
	}
	e.rooms[name], e.byID[r.id] = r, r
	e.emit(&Joined{Room: name})
	if hist, err := e.st.History(name, HistoryLines); err != nil {
		e.fail(storageErr(err))
	} else if len(hist) > 0 {
		lines := make([]Line, len(hist))
		for i, m := range hist {
			from, _ := ParseID(m.FromID)
			lines[i] = Line{MsgID: m.ID, From: m.FromNick, FromID: from, Text: m.Text, SentAt: m.SentAt, Mine: m.Mine}
		}
		e.emit(&History{Room: name, Lines: lines})
	}
	e.announceRooms()
	for _, p := range e.peers {
		if p.online && p.rooms[r.id] {
			e.in(r)(r.s.Hello(p.id))
		}
	}
	return r, nil
}

// joinStored records and opens a room (or returns it if open).
func (e *Engine) joinStored(name string) (*room, error) {
	if r := e.rooms[name]; r != nil {
		return r, nil
	}
	if err := e.st.JoinRoom(name, e.now()); err != nil {
		return nil, storageErr(err)
	}
	return e.openRoom(name)
}

// join joins an open room by name.
func (e *Engine) join(name string) error {
	if err := validRoom(name); err != nil {
		return err
	}
	_, err := e.joinStored(name)
	return err
}

func validRoom(name string) error {
	if IsDirect(name) {
		return failf(ErrBadName, "names starting with %q are direct conversations: use /msg NICK", directPrefix)
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

// leave leaves a room: every owner whose group we are in is asked to
// remove us, and the room is forgotten.
func (e *Engine) leave(name string) error {
	r, err := e.room(name)
	if err != nil {
		return err
	}
	e.in(r)(r.s.Leave())
	delete(e.rooms, name)
	delete(e.byID, r.id)
	e.announceRooms()
	e.emit(&Left{Room: name})
	if err := e.st.LeaveRoom(name); err != nil {
		return storageErr(err)
	}
	if err := e.st.ClearMembers(name); err != nil {
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

// announceRooms tells every online peer which rooms we are in.
func (e *Engine) announceRooms() {
	frame := roomsFrame(e.roomIDs())
	for _, p := range e.peers {
		if p.online {
			e.send(p.id, frame)
		}
	}
}

func (e *Engine) roomIDs() []dmls.RoomID {
	ids := make([]dmls.RoomID, 0, len(e.rooms))
	for _, r := range e.rooms {
		ids = append(ids, r.id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}
