package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// startedModel is a model 80x20 that has seen started(), with the
// member refreshes it asked for done. Its cursor does not blink, so the
// commands a key returns can be run (a blink waits half a second).
func startedModel(eng *fakeEngine) Model {
	m := New(eng, Options{Now: func() time.Time { return t0 }})
	m.input.Cursor.SetMode(cursor.CursorStatic)
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	m = mm.(Model)
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.busy, m.queue = false, nil
	return m
}

// words is text as bubbletea delivers what arrives in one read: a
// KeyRunes message per word, a KeySpace per space.
func words(text string) []tea.KeyMsg {
	var out []tea.KeyMsg
	for i, w := range strings.Split(text, " ") {
		if i > 0 {
			out = append(out, tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
		}
		if w != "" {
			out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(w)})
		}
	}
	return out
}

// TestChunksOfTextStayText: words that are key names ("end", "enter",
// "up", "ctrl+c"...) typed in one read are text: they arrive whole in the
// input, and nothing is sent, scrolled, switched or quit.
func TestChunksOfTextStayText(t *testing.T) {
	t.Parallel()
	chunks := []string{"see you at the end", "enter", "up", "ctrl+c", "end", "home", "tab", "esc", "f1", "f2", "pgup",
		"ctrl+n", "ctrl+p", "alt+enter", "backspace", "ctrl+u", "ctrl+w", "alt+1", "alt+left", "left"}
	for _, text := range chunks {
		for _, split := range []bool{false, true} {
			keys := []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune(text)}}
			if split {
				keys = words(text)
			}
			eng := newFakeEngine()
			m := startedModel(eng)
			m.onEvent(&mmls.Joined{Room: "dev"})
			m.busy, m.queue = false, nil
			for _, k := range keys {
				mm, cmd := m.Update(k)
				m = mm.(Model)
				if cmd != nil {
					if msg := cmd(); msg != nil {
						switch msg.(type) {
						case tea.QuitMsg, doneMsg:
							t.Fatalf("%q (split %v): the chunk %q did %T", text, split, k.Runes, msg)
						}
					}
				}
			}
			if got := m.input.Value(); got != text {
				t.Errorf("%q (split %v): the input holds %q", text, split, got)
			}
			if m.current != "lobby" || m.fullHelp || m.panelToggled || len(eng.cmds) > 0 {
				t.Errorf("%q (split %v): current %q, help %v, panel %v, %d commands", text, split, m.current, m.fullHelp, m.panelToggled, len(eng.cmds))
			}
		}
	}
}
