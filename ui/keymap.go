package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap lists the interface's keys; the help bubble renders it.
type KeyMap struct {
	Send, Newline, PageUp, PageDown, NextRoom, PrevRoom, Complete, Dismiss, Help, Panel, Quit key.Binding
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
		Complete: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "complete")),
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
	return [][]key.Binding{{k.Send, k.Newline, k.Complete}, {k.PageUp, k.PageDown}, {k.NextRoom, k.PrevRoom}, {k.Dismiss, k.Help, k.Panel, k.Quit}}
}
