package ui

import (
	"sort"
	"strings"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// complete completes a command name (from the engine's command table), or
// the nick being typed.
func (m Model) complete(text string) string {
	if strings.HasPrefix(text, "/") && !strings.Contains(text, " ") {
		for _, s := range mmls.Specs() {
			name := "/" + s.Name
			if strings.HasPrefix(name, text) && name != text {
				return name + " "
			}
		}
		return text
	}
	i := strings.LastIndexAny(text, " ") + 1
	word := strings.TrimPrefix(text[i:], "@")
	if word == "" {
		return text
	}
	var nicks []string
	for _, p := range m.peers {
		if strings.HasPrefix(strings.ToLower(p.nick), strings.ToLower(word)) {
			nicks = append(nicks, p.nick)
		}
	}
	if len(nicks) == 0 {
		return text
	}
	sort.Strings(nicks)
	suffix := " "
	if i == 0 {
		suffix = ": "
	}
	return text[:i] + nicks[0] + suffix
}
