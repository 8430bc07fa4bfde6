package mmls

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Nicks change live. /nick keeps the new nick for the next start (when
// it goes into our MLS credentials) and, for this run, tells every peer
// online in a nick frame over the authenticated link, and gives it to
// the network for the handshakes to come. A peer's nick is a label its
// key's link vouches for, as the handshake's is: the look-alike rules
// and nick pins apply to a new nick as to a first one, and a peer
// changes its nick at most once per RenameEvery as we show it (a later
// change waits for the pause; the last one wins).

// RenameEvery is how often a peer's change of nick is shown at most.
const RenameEvery = 10 * time.Second

// ValidNewNick checks a nick we take (/nick, --nick): printable, 1 to 32
// characters, and without spaces, so that the others can address us by
// it (/msg NICK TEXT). A peer's nick with spaces is still shown.
func ValidNewNick(name string) error {
	if err := dmls.ValidNick(name); err != nil {
		return err
	}
	if strings.ContainsFunc(name, unicode.IsSpace) {
		return errors.New("mmls: a nick has no spaces")
	}
	return nil
}

func (e *Engine) setNick(name string) (Event, error) {
	if err := ValidNewNick(name); err != nil {
		return nil, failWith(ErrBadName, err, "a nick is 1 to 32 printable characters without spaces")
	}
	if name == e.nick {
		return nil, failf(ErrBadName, "you are %s already", name)
	}
	if err := e.st.SetIdentity(store.Identity{Seed: e.id.Seed(), Nick: name}); err != nil {
		return nil, storageErr(err)
	}
	e.nick, e.selfSkel = name, skeleton(name)
	e.net.SetNick(name)
	told := 0
	for _, p := range e.peers {
		if p.online {
			e.send(p.id, append([]byte{frameNick}, name...))
			told++
		}
	}
	return &NickChanged{Nick: name, Detail: fmt.Sprintf("told %d online", told)}, nil
}

// onNick takes a peer's new nick from its nick frame.
func (e *Engine) onNick(from ID, body []byte) {
	nick := string(body)
	if err := dmls.ValidNick(nick); err != nil {
		e.cfg.Logf("mmls: from %s: %v", from.Short(), fmt.Errorf("%w: nick frame: %w", ErrMalformed, err))
		return
	}
	e.rename(e.peer(from), nick)
}

// rename gives p the nick it says it has now (a handshake or a nick
// frame); a change of a nick we showed is reported in the rooms we share
// with it.
func (e *Engine) rename(p *peerState, nick string) {
	if p.nick == nick {
		p.wantNick = ""
		return
	}
	if p.nick != "" && e.now().Sub(p.renamedAt) < RenameEvery {
		p.wantNick = nick // shown when the pause is over (renameDue)
		return
	}
	old := e.nickOf(p.id, "")
	first := p.nick == ""
	p.nick, p.skel, p.wantNick = nick, skeleton(nick), ""
	e.pin(p)
	e.warnLookAlikes(p.id)
	if first {
		return
	}
	p.renamedAt = e.now()
	if p.stored != "" || e.known(p.id) {
		e.remember(p)
	}
	var rooms []string
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		if r.direct && r.with == p.id || !r.direct && (p.rooms[r.id] || r.s.InSendGroup(p.id)) {
			rooms = append(rooms, name)
		}
	}
	e.emit(&PeerRenamed{ID: p.id, Old: old, Nick: e.nickOf(p.id, ""), Rooms: rooms})
}

// renameDue shows the changes of nick that waited for their pause.
func (e *Engine) renameDue() {
	for _, p := range e.peers {
		if p.wantNick != "" && e.now().Sub(p.renamedAt) >= RenameEvery {
			e.rename(p, p.wantNick)
		}
	}
}
