package mmls

import (
	"fmt"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Consent. A direct room opened by someone who shares no room with us and
// whom we have not verified is a request: what it carries is kept within
// a small bound and nothing of it is saved on its own (auto-save), until
// the user accepts it (/accept NICK, or writing there) or ignores its
// author (/ignore NICK: its direct rooms are refused from then on, across
// restarts). And every sender has a storage quota per room: past it, its
// messages are refused (not kept, not acknowledged), and the user is told
// once.

// Quotas: what one sender may make us store in one room (its messages'
// text, and its file offers), and in a request.
const (
	RoomQuota    = 16 << 20
	RequestQuota = 64 << 10
)

// quota is what r lets one sender make us store.
func (r *room) quota() int64 {
	if r.request {
		return RequestQuota
	}
	return RoomQuota
}

// overQuota reports whether n more bytes from sender would take it past
// its quota in r, and says so once.
func (e *Engine) overQuota(r *room, from ID, n int) bool {
	key := r.name + "\x00" + from.String()
	used, ok := e.quota.used[key]
	if !ok {
		var err error
		if used, err = e.st.Stored(r.name, from.String()); err != nil {
			e.fail(storageErr(err))
			return true
		}
		e.quota.used[key] = used
	}
	if used+int64(n) > r.quota() {
		if !e.quota.told[key] {
			e.quota.told[key] = true
			what := fmt.Sprintf("%s has sent more than %s in %s: what it sends there is not kept", e.nickOf(from, ""), Bytes(r.quota()), e.title(r.name))
			if r.request {
				what += fmt.Sprintf(" until you /accept %s", e.nickOf(from, ""))
			}
			e.emit(&Refused{Room: r.name, ID: from, Nick: e.nickOf(from, ""), Reason: what})
		}
		return true
	}
	return false
}

// countStored counts n bytes sender made us store in r (overQuota read
// its count first); the count is written with the batch (flushQuota).
func (e *Engine) countStored(r *room, from ID, n int) {
	key := r.name + "\x00" + from.String()
	e.quota.used[key] += int64(n)
	e.quota.added[key] += int64(n)
	if e.commit.held == nil {
		e.flushQuota()
	}
}

// flushQuota writes what senders made us store since the last flush: one
// write per sender and batch, not per message.
func (e *Engine) flushQuota() {
	for key, n := range e.quota.added {
		room, sender, _ := strings.Cut(key, "\x00")
		if err := e.st.AddStored(room, sender, n); err != nil {
			e.fail(storageErr(err))
		}
	}
	clear(e.quota.added)
}

// openRequest joins the direct room a stranger opened with us, as a
// request.
func (e *Engine) openRequest(from ID) error {
	_, err := e.joinStored(store.Room{Name: directRoom(e.me, from), Request: true})
	return err
}

// acceptRequest accepts the request of the peer called who: its direct
// room is an ordinary one from now on. It reports whether there was one.
func (e *Engine) acceptRequest(who string) (*room, bool, error) {
	peer, err := e.byNick(who)
	if err != nil {
		return nil, false, nil
	}
	r := e.rooms[directRoom(e.me, peer)]
	if r == nil || !r.request {
		return nil, false, nil
	}
	if err := e.st.SetRequest(r.name, false); err != nil {
		return nil, true, storageErr(err)
	}
	r.request = false
	delete(e.quota.told, r.name+"\x00"+peer.String())
	return r, true, nil
}

// ignore refuses peer's direct rooms from now on, and leaves the one it
// opened if we had not accepted it.
func (e *Engine) ignore(who string) (Event, error) {
	peer, err := e.byNick(who)
	if err != nil {
		return nil, err
	}
	if peer == e.me {
		return nil, failf(ErrSelf, "that is you")
	}
	if err := e.st.Ignore(peer.String(), e.now()); err != nil {
		return nil, storageErr(err)
	}
	if r := e.rooms[directRoom(e.me, peer)]; r != nil && r.request {
		if err := e.leave(r.name); err != nil {
			return nil, err
		}
	}
	return &Ignored{ID: peer, Nick: e.nickOf(peer, "")}, nil
}

// ignored reports whether the user ignores peer's direct messages.
func (e *Engine) ignored(peer ID) bool {
	ignored, err := e.st.Ignored(peer.String())
	return err == nil && ignored
}

// stored size of a message as the quota counts it.
func storedSize(env *dmls.Envelope) int { return len(env.Body) }

// preferred reports whom a full room r makes room for: people we
// verified, share another room with, or knew before this start. A flood
// of fresh ids is none of those.
func (e *Engine) preferred(r *room, peer ID) bool {
	if e.knownBefore[peer] {
		return true
	}
	if verified, err := e.st.Verified(peer.String()); err == nil && verified {
		return true
	}
	for _, o := range e.rooms {
		if o != r && !o.direct && (o.s.InSendGroup(peer) || o.s.HasGroupOf(peer)) {
			return true
		}
	}
	return false
}

// roomFull tells, once per peer and room, who waits for a place in our
// full send group, and who left one to someone we prefer.
func (e *Engine) roomFull(r *room, ev dmls.Event) {
	key := r.name + "\x00" + ev.Peer.String()
	if e.toldFull[key] {
		return
	}
	e.toldFull[key] = true
	e.emit(&RoomFull{Room: r.name, ID: ev.Peer, Nick: e.nickOf(ev.Peer, ev.Nick), MadeRoom: ev.Detail == "made room"})
}

// quotas is what each (room, sender) made us store: used, as read and
// counted since; added, counted since the last write; told, the pairs the
// user was told are past their quota.
type quotas struct {
	told        map[string]bool
	used, added map[string]int64
}
