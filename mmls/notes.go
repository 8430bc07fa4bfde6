package mmls

import (
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Lines worth keeping across restarts (who joined or left our group, who
// removed us, invitations) are kept as notes, and the peers we see as
// known peers: gathered as they happen, written together each tick and
// when the engine stops (neither is worth an fsync of its own; a crash
// may lose the last second of them, never a message).

// keep gathers the note an event makes, if any.
func (e *Engine) keep(ev Event) {
	var n store.Note
	switch ev := ev.(type) {
	case *MemberChanged:
		if ev.By != e.me || ev.ID == e.me || ev.Restored {
			return // another owner's group (told by what we did about it), or nothing new
		}
		n = store.Note{Room: ev.Room, Kind: store.NoteMember, Peer: ev.ID.String(), Nick: ev.Nick, By: ev.By.String(),
			Change: string(ev.Change), Departure: ev.Departure}
		if ev.Following != (ID{}) {
			n.Following = ev.Following.String()
		}
	case *Removed:
		n = store.Note{Room: ev.Room, Kind: store.NoteRemoved, By: ev.By.String(), ByNick: ev.ByNick}
	case *InviteReceived:
		n = store.Note{Kind: store.NoteInvite, Subject: ev.Room, By: ev.FromID.String(), ByNick: ev.From, Private: ev.Private}
	default:
		return
	}
	n.At = ev.When()
	e.kept.notes = append(e.kept.notes, n)
}

// keptLater is what the engine writes at each tick rather than at once:
// lines worth keeping (notes) and the peers seen.
type keptLater struct {
	notes []store.Note
	peers []store.KnownPeer
}

// flushKept writes the gathered notes and the peers seen.
func (e *Engine) flushKept() {
	if err := e.st.AddNotes(e.kept.notes); err != nil {
		e.cfg.Logf("mmls: keep %d notes: %v", len(e.kept.notes), err)
	}
	if err := e.st.SawPeers(e.kept.peers); err != nil {
		e.cfg.Logf("mmls: remember %d peers: %v", len(e.kept.peers), err)
	}
	e.kept.notes, e.kept.peers = nil, nil
}

// pastEvents are room's kept notes as the events they were (stamped when
// they happened), for its History.
func (e *Engine) pastEvents(room string) []Event {
	notes, err := e.st.Notes(room)
	if err != nil {
		e.cfg.Logf("mmls: notes of %s: %v", room, err)
		return nil
	}
	var out []Event
	for _, n := range notes {
		peer, _ := ParseID(n.Peer)
		by, _ := ParseID(n.By)
		var ev Event
		switch n.Kind {
		case store.NoteMember:
			following, _ := ParseID(n.Following)
			ev = &MemberChanged{Room: n.Room, ID: peer, Nick: n.Nick, By: by, Change: Change(n.Change), Departure: n.Departure, Following: following}
		case store.NoteRemoved:
			ev = &Removed{Room: n.Room, By: by, ByNick: n.ByNick}
		case store.NoteInvite:
			ev = &InviteReceived{Room: n.Subject, From: n.ByNick, FromID: by, Private: n.Private}
		default:
			continue
		}
		ev.stamp(n.At)
		out = append(out, ev)
	}
	return out
}
