package ui

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/mmls-chat/mmls-chat/mmls"
)

func typed(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

var enterKey = tea.KeyMsg{Type: tea.KeyEnter}

// TestUnlockPrompt: the start-up question, answer by answer: a new
// passphrase is typed twice (two that differ start again), Enter alone
// chooses none, Esc gives up; an existing one is asked once and Enter
// alone asks again. Nothing typed shows.
func TestUnlockPrompt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		choose  bool
		keys    []tea.KeyMsg
		answer  string
		done    bool
		aborted bool
	}{
		{"chosen twice", true, []tea.KeyMsg{typed("sea"), enterKey, typed("sea"), enterKey}, "sea", true, false},
		{"two that differ, then twice", true, []tea.KeyMsg{typed("sea"), enterKey, typed("see"), enterKey, typed("sky"), enterKey, typed("sky"), enterKey}, "sky", true, false},
		{"none", true, []tea.KeyMsg{enterKey}, "", true, false},
		{"given up", true, []tea.KeyMsg{typed("sea"), {Type: tea.KeyEsc}}, "", false, true},
		{"unlock", false, []tea.KeyMsg{typed("sea"), enterKey}, "sea", true, false},
		{"unlock: Enter alone asks again", false, []tea.KeyMsg{enterKey, typed("sea"), enterKey}, "sea", true, false},
		{"unlock given up", false, []tea.KeyMsg{{Type: tea.KeyCtrlC}}, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var m tea.Model = unlockModel{dir: "/data", choose: tc.choose, in: secretInput("passphrase: ")}
			for _, k := range tc.keys {
				m, _ = m.Update(k)
				if v := m.View(); strings.Contains(v, "sea") || strings.Contains(v, "sky") {
					t.Fatalf("the prompt shows what is typed:\n%s", v)
				}
			}
			got := m.(unlockModel)
			if got.done != tc.done || got.aborted != tc.aborted || string(got.answer) != tc.answer {
				t.Fatalf("done %v aborted %v answer %q, want %v %v %q", got.done, got.aborted, got.answer, tc.done, tc.aborted, tc.answer)
			}
			if tc.done && got.answer == nil {
				t.Fatal("an answer of none must be empty, not missing")
			}
		})
	}
}

// TestUnlockPromptSays: what each question says, and that a mismatch is
// told.
func TestUnlockPromptSays(t *testing.T) {
	t.Parallel()
	m := unlockModel{dir: "/data", choose: true, in: secretInput("new passphrase: ")}
	if v := m.View(); !strings.Contains(v, "/data") || !strings.Contains(v, "Enter with none keeps the data unencrypted") || !strings.Contains(v, "new passphrase:") {
		t.Fatalf("the first question:\n%s", v)
	}
	mm, _ := m.Update(typed("a"))
	mm, _ = mm.Update(enterKey)
	if v := mm.View(); !strings.Contains(v, "again:") {
		t.Fatalf("the second question:\n%s", v)
	}
	mm, _ = mm.Update(typed("b"))
	mm, _ = mm.Update(enterKey)
	if v := mm.View(); !strings.Contains(v, "The two differ") || !strings.Contains(v, "new passphrase:") {
		t.Fatalf("after a mismatch:\n%s", v)
	}
	u := unlockModel{dir: "/data", in: secretInput("passphrase: ")}
	if v := u.View(); !strings.Contains(v, "is encrypted") || !strings.Contains(v, "passphrase:") {
		t.Fatalf("the unlock question:\n%s", v)
	}
}

// TestPassphraseCommand: /passphrase asks the current passphrase, the new
// one and the new one again on a masked line, none of which enters the
// input history or shows; two that differ ask the new one again; Esc
// gives up; the engine gets the old and new passphrases once. On
// unencrypted data the engine is asked at once (it arranges the next
// start's question).
func TestPassphraseCommand(t *testing.T) {
	t.Parallel()
	run := func(unencrypted bool, keys ...tea.KeyMsg) (Model, []mmls.Command) {
		eng := &scriptEngine{fakeEngine: newFakeEngine(), answer: answers}
		m := startedModel(eng.fakeEngine)
		m.eng, m.opts.Unencrypted = eng, unencrypted
		eng.commands()
		m = enter(m, "/passphrase")
		for _, k := range keys {
			m = press(t, m, k)
			if v := m.View(); strings.Contains(v, "old-one") || strings.Contains(v, "new-one") {
				t.Fatalf("the screen shows a passphrase:\n%s", v)
			}
		}
		return m, eng.commands()
	}
	m, cmds := run(false, typed("old-one"), enterKey, typed("new-one"), enterKey, typed("new-one!"), enterKey,
		typed("new-one"), enterKey, typed("new-one"), enterKey)
	if len(cmds) != 1 {
		t.Fatalf("commands %#v", cmds)
	}
	if c, ok := cmds[0].(mmls.ChangePassphrase); !ok || string(c.Old) != "old-one" || string(c.New) != "new-one" {
		t.Fatalf("the engine was given %#v", cmds[0])
	}
	if m.secret != nil {
		t.Fatal("still asking after the third answer")
	}
	for _, h := range m.history {
		if strings.Contains(h, "one") {
			t.Fatalf("a passphrase entered the input history: %q", m.history)
		}
	}
	m, cmds = run(false, typed("old-one"), enterKey, tea.KeyMsg{Type: tea.KeyEsc})
	if len(cmds) != 0 || m.secret != nil || !strings.Contains(m.View(), "passphrase unchanged") {
		t.Fatalf("after Esc: commands %#v, asking %v", cmds, m.secret != nil)
	}
	m, cmds = run(false, typed("old-one"), enterKey, enterKey)
	if len(cmds) != 0 || m.secret == nil || !strings.Contains(m.View(), "cannot be empty") {
		t.Fatalf("an empty new passphrase: commands %#v", cmds)
	}
	// A passphrase typed after the command is refused, and not kept.
	eng := &scriptEngine{fakeEngine: newFakeEngine(), answer: answers}
	pm := startedModel(eng.fakeEngine)
	pm.eng = eng
	eng.commands()
	pm = enter(pm, "/passphrase hunter2")
	if c := eng.commands(); len(c) != 0 || pm.secret != nil || slices.Contains(pm.history, "/passphrase hunter2") {
		t.Fatalf("/passphrase with an argument: commands %#v, asking %v, history %q", c, pm.secret != nil, pm.history)
	}
	if !strings.Contains(pm.View(), "type /passphrase alone") {
		t.Fatalf("/passphrase with an argument says:\n%s", pm.View())
	}
	_, cmds = run(true)
	if len(cmds) != 1 || !bytes.Equal(cmds[0].(mmls.ChangePassphrase).New, nil) {
		t.Fatalf("on unencrypted data: %#v", cmds)
	}
}

// TestStatusSaysUnencrypted: the status bar says it, in one word, while
// the data is not encrypted, and only then.
func TestStatusSaysUnencrypted(t *testing.T) {
	t.Parallel()
	for _, plain := range []bool{false, true} {
		m := startedModel(newFakeEngine())
		m.opts.Unencrypted = plain
		if got := strings.Contains(m.statusBar(), "unencrypted"); got != plain {
			t.Errorf("unencrypted %v: the status bar says %q", plain, m.statusBar())
		}
	}
}
