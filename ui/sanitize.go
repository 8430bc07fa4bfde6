package ui

import (
	"strings"
	"unicode"
)

// The terminal belongs to the user: nothing a peer sends (a nick, a
// message, a room name) reaches it as a control character, an escape
// sequence or a bidi override. Every peer string is cleaned where it is
// stored for display; what is not graphic becomes U+FFFD, so the user
// sees that something was there.

// clean makes a peer string safe for one line of the screen.
func clean(s string) string { return sanitize(s, false) }

// cleanText is clean that keeps a message's newlines and tabs.
func cleanText(s string) string { return sanitize(s, true) }

func sanitize(s string, text bool) string {
	ok := func(r rune) bool {
		switch {
		case text && (r == '\n' || r == '\t'):
			return true
		case r == '\u200d': // zero-width joiner: emoji sequences
			return true
		}
		return unicode.IsGraphic(r) // not Cc (C0, DEL, C1) nor Cf (bidi overrides)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !ok(r) }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if ok(r) {
			return r
		}
		return '\uFFFD'
	}, s)
}
