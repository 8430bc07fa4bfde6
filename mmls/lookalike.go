package mmls

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Nicks are chosen by their owners, so two peers may pick the same nick or
// ones that look the same (case, Unicode look-alikes: a Cyrillic "о" for
// a Latin "o", fullwidth letters, "rn" for "m"). Keys are what identify
// peers; a nick that looks like another peer's is shown with the short id
// (see nickOf), and the user is warned once per peer.

// confusables maps runes that look like a Latin letter or digit to it
// (lower case; a selection of Unicode's confusables.txt: Cyrillic, Greek,
// and Latin look-alikes).
var confusables = map[rune]rune{
	'а': 'a', 'в': 'b', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'ё': 'e', 'һ': 'h', 'і': 'i', 'ї': 'i', 'ј': 'j', 'к': 'k',
	'м': 'm', 'н': 'h', 'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'т': 't', 'у': 'y', 'х': 'x', 'ԝ': 'w', 'ү': 'y',
	'α': 'a', 'β': 'b', 'ε': 'e', 'η': 'n', 'ι': 'i', 'κ': 'k', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'τ': 't', 'υ': 'u',
	'χ': 'x', 'ω': 'w', 'ɡ': 'g', 'ı': 'i', 'ɩ': 'i', 'ℓ': 'l', 'ʟ': 'l', 'ᴏ': 'o', 'ɑ': 'a',
	'0': 'o', '1': 'l', '|': 'l', 'i': 'l', '5': 's', '$': 's', '@': 'a', '3': 'e', '_': '-', '.': '-',
}

// skeleton is what a nick looks like: compatibility forms decomposed
// (fullwidth letters, ligatures, accents apart: NFKD), marks dropped, lower
// case, look-alike runes and pairs folded, spaces gone. Two nicks with one
// skeleton are confusable.
func skeleton(nick string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(nick) {
		if unicode.Is(unicode.Mn, r) || unicode.IsSpace(r) {
			continue
		}
		r = unicode.ToLower(r)
		if c, ok := confusables[r]; ok {
			r = c
		}
		b.WriteRune(r)
	}
	s := b.String()
	for _, p := range [][2]string{{"rn", "m"}, {"vv", "w"}, {"cl", "d"}} {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	return s
}

// lookAlikes lists the other known peers whose nick looks like peer's,
// and us (e.me) when ours does.
func (e *Engine) lookAlikes(peer ID) []ID {
	p := e.peers[peer]
	if p == nil || p.nick == "" {
		return nil
	}
	var out []ID
	for id, o := range e.peers {
		if id != peer && o.nick != "" && o.skel == p.skel {
			out = append(out, id)
		}
	}
	if peer != e.me && e.looks.selfSkel == p.skel {
		out = append(out, e.me)
	}
	return out
}

// shownAs is a peer's (or our) nick and short id, for a warning.
func (e *Engine) shownAs(id ID) string {
	if id == e.me {
		return "you, " + e.nick + " (" + id.Short() + ")"
	}
	return e.peers[id].nick + " (" + id.Short() + ")"
}

// warnLookAlikes raises, once per peer, an alert that peer's nick looks
// like other known peers' (or ours). Once per peer, not per pair: n
// look-alikes make n-1 warnings, not n(n-1)/2.
func (e *Engine) warnLookAlikes(peer ID) {
	others := e.lookAlikes(peer)
	if len(others) == 0 || e.looks.warned[peer] {
		return
	}
	e.looks.warned[peer] = true
	var names []string
	for _, o := range others[:min(len(others), 3)] {
		names = append(names, e.shownAs(o))
	}
	if len(others) > 3 {
		names = append(names, fmt.Sprintf("%d more", len(others)-3))
	}
	e.raise(&Alert{Kind: LookAlike, Nick: e.peers[peer].nick, ID: peer, By: others[0],
		Detail: e.shownAs(peer) + " looks like " + strings.Join(names, ", ") +
			"; they are different keys, shown with their ids: /verify before trusting anyone"})
}

// raise keeps a and shows it.
func (e *Engine) raise(a *Alert) {
	kept := store.Alert{Kind: string(a.Kind), Room: a.Room, Nick: a.Nick, By: a.ID.String(), At: e.now().UTC(), Detail: a.Detail}
	if err := e.st.AddAlert(kept); err != nil {
		e.fail(storageErr(err))
	}
	e.emit(a)
}

// lookAlikes is what the engine keeps to tell look-alike nicks apart:
// the peers whose look-alike the user was told of, and our own nick's
// skeleton.
type lookAlikes struct {
	warned   map[ID]bool
	selfSkel string
}
