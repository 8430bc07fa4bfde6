package mmls

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mmls-chat/mmls-chat/mmls/dmls"
	"github.com/mmls-chat/mmls-chat/mmls/frame"
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
	e.nick, e.looks.selfSkel = name, skeleton(name)
	e.net.SetNick(name)
	told := e.tellOnline(frame.New(frame.Nick, []byte(name)))
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
	e.emit(&PeerRenamed{ID: p.id, Old: old, Nick: e.nickOf(p.id, ""), Rooms: e.sharedWith(p)})
}

// renameDue shows the changes of nick that waited for their pause.
func (e *Engine) renameDue() {
	for _, p := range e.peers {
		if p.wantNick != "" && e.now().Sub(p.renamedAt) >= RenameEvery {
			e.rename(p, p.wantNick)
		}
	}
}

// sharedWith lists the rooms we share with p.
func (e *Engine) sharedWith(p *peerState) []string {
	var rooms []string
	for _, name := range e.roomNames() {
		r := e.rooms[name]
		if r.direct && r.with == p.id || !r.direct && (p.rooms[r.id] || r.s.InSendGroup(p.id)) {
			rooms = append(rooms, name)
		}
	}
	return rooms
}

// MaxAway bounds why we say we are away, in bytes.
const MaxAway = 160

// validAway checks an away text: UTF-8, at most MaxAway bytes, no
// control characters ("" is back).
func validAway(text string) error {
	if len(text) > MaxAway || !utf8.ValidString(text) || strings.ContainsFunc(text, unicode.IsControl) {
		return fmt.Errorf("mmls: an away text is at most %d bytes of printable text", MaxAway)
	}
	return nil
}

// setAway says to everyone online that we are away (text: why), or back
// (""). It lasts for this run: a start is a return.
func (e *Engine) setAway(text string) (Event, error) {
	text = strings.TrimSpace(text)
	if err := validAway(text); err != nil {
		return nil, failWith(ErrUsage, err, "an away text is at most %d bytes of printable text", MaxAway)
	}
	if text == e.away {
		if text == "" {
			return nil, failf(ErrUsage, "you are not away (/away TEXT says you are)")
		}
		return nil, failf(ErrUsage, "you are away already: %s", text)
	}
	e.away = text
	told := e.tellOnline(frame.New(frame.Away, []byte(text)))
	return &AwayChanged{Text: text, Detail: fmt.Sprintf("told %d online", told)}, nil
}

// onAway takes a peer's away text (or its return) from its away frame.
func (e *Engine) onAway(from ID, body []byte) {
	text := string(body)
	if err := validAway(text); err != nil {
		e.cfg.Logf("mmls: from %s: %v", from.Short(), fmt.Errorf("%w: away frame: %w", ErrMalformed, err))
		return
	}
	p := e.peer(from)
	p.away = text
	e.showAway(p)
}

// showAway reports p's away state if it changed since it was last shown
// and the pause since then is over (awayDue shows it after).
func (e *Engine) showAway(p *peerState) {
	if p.away == p.awayShown || e.now().Sub(p.awayAt) < RenameEvery {
		return
	}
	p.awayShown, p.awayAt = p.away, e.now()
	e.emit(&PeerAway{ID: p.id, Nick: e.nickOf(p.id, ""), Text: p.away, Rooms: e.sharedWith(p)})
}

// awayDue shows the away states that waited for their pause.
func (e *Engine) awayDue() {
	for _, p := range e.peers {
		if p.online {
			e.showAway(p)
		}
	}
}

func awayOf(p *peerState) string {
	if p == nil || !p.online {
		return ""
	}
	return p.away
}

// tellOnline sends frame to every peer online and says to how many.
func (e *Engine) tellOnline(frame []byte) int {
	told := 0
	for _, p := range e.peers {
		if p.online {
			e.send(p.id, bytes.Clone(frame)) // each its own: layers below may append
			told++
		}
	}
	return told
}
