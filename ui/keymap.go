package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap lists the interface's keys; the help bubble renders it.
type KeyMap struct {
	Send, Newline, PageUp, PageDown, NextRoom, PrevRoom, Complete, Dismiss, Help, Panel, Quit key.Binding
	// AltNext and AltPrev are the next and previous room too (Alt+→,
	// Alt+←); GoTo shows room N of the panel (Alt+1..9); Active the next
	// room with news (Alt+A).
	AltNext, AltPrev, GoTo, Active key.Binding
	// History recalls the lines sent before (Up, Down).
	History key.Binding
}

// DefaultKeyMap returns the keys described in the README.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Send:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "send")),
		Newline:  key.NewBinding(key.WithKeys("alt+enter"), key.WithHelp("alt+enter", "new line")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "scroll up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "scroll down")),
		NextRoom: key.NewBinding(key.WithKeys("ctrl+n"), key.WithHelp("ctrl+n", "next room")),
		PrevRoom: key.NewBinding(key.WithKeys("ctrl+p"), key.WithHelp("ctrl+p", "previous room")),
		AltNext:  key.NewBinding(key.WithKeys("alt+right"), key.WithHelp("alt+→", "next room")),
		AltPrev:  key.NewBinding(key.WithKeys("alt+left"), key.WithHelp("alt+←", "previous room")),
		GoTo: key.NewBinding(key.WithKeys("alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9"),
			key.WithHelp("alt+1…9", "room 1 to 9")),
		Active:   key.NewBinding(key.WithKeys("alt+a", "alt+A"), key.WithHelp("alt+a", "room with news")),
		Complete: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete")),
		History:  key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "lines sent")),
		Dismiss:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "dismiss alert")),
		Help:     key.NewBinding(key.WithKeys("f1"), key.WithHelp("f1", "keys")),
		Panel:    key.NewBinding(key.WithKeys("f2"), key.WithHelp("f2", "rooms panel")),
		Quit:     key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "clear, then quit")),
	}
}

// ShortHelp is the help line.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Send, k.NextRoom, k.Complete, k.Help, k.Quit}
}

// FullHelp is the help view.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Send, k.Newline, k.Complete, k.History}, {k.PageUp, k.PageDown, k.Help, k.Panel}, {k.NextRoom, k.PrevRoom, k.AltNext, k.AltPrev},
		{k.GoTo, k.Active, k.Dismiss, k.Quit}}
}
