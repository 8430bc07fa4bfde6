package ui

import (
	"slices"
	"sort"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// tabRound is one round of Tab presses: the text before the word being
// completed, and the completions the presses cycle through.
type tabRound struct {
	base  string
	cands []string
	i     int
}

// complete completes the word being typed: a command name (from the
// engine's command table), a room after a room command (a direct room as
// @nick), else a nick.
// Pressing Tab again on the result cycles to the next candidate.
func (m *Model) complete(text string) string {
	if r := m.tab; r != nil && text == r.base+r.cands[r.i] {
		r.i = (r.i + 1) % len(r.cands)
		return r.base + r.cands[r.i]
	}
	base, cands := m.candidates(text)
	if len(cands) == 0 {
		m.tab = nil
		return text
	}
	m.tab = &tabRound{base: base, cands: cands}
	return base + cands[0]
}

// roomCommands take a room; nickCommands a nick.
var (
	roomCommands = []string{"join", "switch", "leave", "part", "who", "members"}
	nickCommands = []string{"msg", "query", "invite", "kick", "unkick", "verify"}
)

// candidates splits text into what stays and the completions of its last
// word.
func (m *Model) candidates(text string) (string, []string) {
	if strings.HasPrefix(text, "/") && !strings.Contains(text, " ") {
		var out []string
		for _, s := range mmls.Specs() {
			if name := "/" + s.Name; strings.HasPrefix(name, strings.ToLower(text)) {
				out = append(out, name+" ")
			}
		}
		return "", out
	}
	i := strings.LastIndex(text, " ") + 1
	base, word := text[:i], text[i:]
	cmd, _, _ := strings.Cut(strings.TrimPrefix(text, "/"), " ")
	if strings.HasPrefix(text, "/") && i == len(cmd)+2 && slices.Contains(roomCommands, strings.ToLower(cmd)) {
		// Open and private rooms by name, then (but after /join) direct
		// rooms as shown: @nick.
		word = strings.TrimPrefix(strings.TrimPrefix(word, "#"), "◆")
		var out, direct []string
		for _, r := range m.rooms {
			switch {
			case !mmls.IsDirect(r):
				if hasPrefixFold(r, word) {
					out = append(out, r+" ")
				}
			case !strings.EqualFold(cmd, "join"):
				if title := m.roomTitle(r); hasPrefixFold(title, "@"+strings.TrimPrefix(word, "@")) {
					direct = append(direct, title+" ")
				}
			}
		}
		sort.Strings(out)
		sort.Strings(direct)
		return base, append(out, direct...)
	}
	word = strings.TrimPrefix(word, "@")
	if word == "" && !(strings.HasPrefix(text, "/") && slices.Contains(nickCommands, strings.ToLower(cmd))) {
		return text, nil
	}
	suffix := " "
	if i == 0 {
		suffix = ": "
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range m.peers {
		if p.nick != "" && !seen[p.nick] && hasPrefixFold(p.nick, word) {
			seen[p.nick] = true
			out = append(out, p.nick+suffix)
		}
	}
	sort.Strings(out)
	return base, out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
