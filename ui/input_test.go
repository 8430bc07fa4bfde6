package ui

import (
	"fmt"
	"slices"
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

func alt(r rune) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: true} }

// press gives the model a key and runs what follows (see settle),
// failing if that does not end within 5 s.
func press(t *testing.T, m Model, k tea.KeyMsg) Model {
	t.Helper()
	done := make(chan Model, 1)
	go func() {
		mm, cmd := m.Update(k)
		done <- settle(mm.(Model), cmd)
	}()
	select {
	case m = <-done:
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("the key %q did not return", k)
		return m
	}
}

// TestRoomKeys: Alt+1..9 show room N of the panel, Alt+← and Alt+→ the
// previous and next room, Alt+A the next room with news; nothing is
// typed, and the engine is told the room on screen.
func TestRoomKeys(t *testing.T) {
	t.Parallel()
	right, left := tea.KeyMsg{Type: tea.KeyRight, Alt: true}, tea.KeyMsg{Type: tea.KeyLeft, Alt: true}
	tests := []struct {
		name string
		keys []tea.KeyMsg
		want []string // the room on screen after each key
	}{
		{"alt+2, alt+4, alt+1", []tea.KeyMsg{alt('2'), alt('4'), alt('1')}, []string{"dev", dmCarol, "lobby"}},
		{"alt+9: no such room", []tea.KeyMsg{alt('9')}, []string{"lobby"}},
		{"alt+→, alt+←", []tea.KeyMsg{right, right, left, left, left}, []string{"dev", dmBob, "dev", "lobby", dmCarol}},
		{"alt+a", []tea.KeyMsg{alt('a'), alt('A'), alt('a')}, []string{"dev", dmCarol, dmCarol}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eng := &scriptEngine{fakeEngine: newFakeEngine(), answer: answers}
			m := withDirectRooms(eng)
			m.input.Cursor.SetMode(cursor.CursorStatic)
			m.onEvent(&mmls.Message{Room: "dev", MsgID: "m1", From: "bob", FromID: bobID, Text: "news in dev", SentAt: t0})
			m.onEvent(&mmls.Message{Room: dmCarol, MsgID: "m2", From: "carol", FromID: carolID, Text: "psst", SentAt: t0})
			eng.commands()
			var shown []string
			for _, k := range tc.keys {
				m = press(t, m, k)
				shown = append(shown, m.current)
			}
			if strings.Join(shown, " ") != strings.Join(tc.want, " ") {
				t.Errorf("on screen %q, want %q", shown, tc.want)
			}
			if m.input.Value() != "" {
				t.Errorf("the keys typed %q", m.input.Value())
			}
			var told string
			for _, c := range eng.commands() {
				if s, ok := c.(mmls.Switch); ok {
					told = s.Room
				}
			}
			if want := tc.want[len(tc.want)-1]; want != "lobby" && told != want {
				t.Errorf("the engine was told %q, want %q", told, want)
			}
		})
	}
}

// TestWordLeftOverBlanks: Alt+B (a word left) with nothing but blanks
// before the cursor does nothing; the input used to look for a word
// there for ever, and the interface froze.
func TestWordLeftOverBlanks(t *testing.T) {
	t.Parallel()
	tests := []struct{ value, before string }{
		{"", ""},
		{"   ", "   "},
		{"\n", "\n"},
		{"  \n ", "  \n "},
		{"hello world", "hello "},
	}
	for _, tc := range tests {
		m := startedModel(newFakeEngine())
		m.input.SetValue(tc.value)
		m = press(t, m, alt('b'))
		if m.input.Value() != tc.value {
			t.Errorf("%q: the input holds %q", tc.value, m.input.Value())
		}
		if tc.before != "" && m.beforeCursor() != tc.before {
			t.Errorf("%q: %q before the cursor, want %q", tc.value, m.beforeCursor(), tc.before)
		}
	}
}

// TestInputHistory: Up and Down on the input recall the lines sent this
// session (commands too, blank lines and repeats not), and back down, the
// line being written; Up and Down move between the rows of a multi-line
// text first.
func TestInputHistory(t *testing.T) {
	t.Parallel()
	up, down := tea.KeyMsg{Type: tea.KeyUp}, tea.KeyMsg{Type: tea.KeyDown}
	m := startedModel(newFakeEngine())
	for _, l := range []string{"first", "   ", "/join dev", "/join dev", "two\nlines"} {
		m = enter(m, l)
	}
	m.input.SetValue("being written")
	steps := []struct {
		key  tea.KeyMsg
		want string
		row  int
	}{
		{up, "two\nlines", 1},
		{up, "two\nlines", 0}, // to its first row
		{up, "/join dev", 0},
		{up, "first", 0},
		{up, "first", 0}, // the oldest
		{down, "/join dev", 0},
		{down, "two\nlines", 1},
		{down, "being written", 0},
		{down, "being written", 0},
	}
	for i, s := range steps {
		m = press(t, m, s.key)
		if m.input.Value() != s.want || m.input.Line() != s.row {
			t.Fatalf("step %d (%s): the input holds %q, row %d; want %q, row %d", i, s.key, m.input.Value(), m.input.Line(), s.want, s.row)
		}
	}
	m = press(t, m, up)
	m = press(t, m, tea.KeyMsg{Type: tea.KeyCtrlC}) // the line recalled is cleared
	if m = press(t, m, up); m.input.Value() != "two\nlines" {
		t.Errorf("after Ctrl+C, Up recalls %q", m.input.Value())
	}
}

// isQuitCmd reports whether cmd is tea.Quit (the other answer to Ctrl+C
// is a tick of seconds: it is not run).
func isQuitCmd(cmd tea.Cmd) bool {
	return cmd != nil && fmt.Sprintf("%p", cmd) == fmt.Sprintf("%p", tea.Quit)
}

// TestCtrlCAsks: Ctrl+C on an empty line says to press it again, and
// quits only when pressed again within a few seconds; a draft is
// cleared first.
func TestCtrlCAsks(t *testing.T) {
	t.Parallel()
	now := t0
	m := New(newFakeEngine(), Options{Now: func() time.Time { return now }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
	m = mm.(Model)
	ctrlC := func(after time.Duration) bool {
		t.Helper()
		now = now.Add(after)
		mm, cmd := m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
		m = mm.(Model)
		return isQuitCmd(cmd)
	}
	m.input.SetValue("a draft")
	if ctrlC(0) || m.input.Value() != "" {
		t.Fatalf("Ctrl+C with a draft quit, or left %q", m.input.Value())
	}
	if ctrlC(time.Second) || !strings.Contains(m.View(), "press Ctrl+C again to quit") {
		t.Fatalf("the first Ctrl+C on an empty line quit, or said nothing:\n%s", m.View())
	}
	mm, _ = m.Update(quitExpiredMsg{}) // too early: the tick of an earlier press
	m = mm.(Model)
	if ctrlC(5 * time.Second) {
		t.Fatal("a second Ctrl+C 5 s later quit")
	}
	now = now.Add(quitWithin)
	mm, _ = m.Update(quitExpiredMsg{})
	if m = mm.(Model); strings.Contains(m.View(), "press Ctrl+C again") {
		t.Errorf("the question stays after its time:\n%s", m.View())
	}
	if ctrlC(0) || !ctrlC(2*time.Second) {
		t.Fatal("Ctrl+C twice within 2 s did not quit")
	}
}

// TestBigPasteAsks: Enter on a text of more than confirmLines lines asks
// first (the paste may have gone to the wrong window); a second Enter on
// it unchanged sends it; a short text and a command go at once.
func TestBigPasteAsks(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	m = mm.(Model)
	// sent reports whether Enter took the text (the input empties; the
	// command waits its turn behind the interface's own questions).
	sent := func() bool {
		t.Helper()
		mm, _ := m.Update(tea.KeyMsg{Type: tea.KeyEnter})
		m = mm.(Model)
		return m.input.Value() == ""
	}
	big := strings.TrimSuffix(strings.Repeat("a line\n", confirmLines+1), "\n")
	m.input.SetValue(big)
	if sent() || !strings.Contains(m.View(), "21 lines: Enter again sends them to #lobby") {
		t.Fatalf("the first Enter on %d lines did not ask:\n%s", confirmLines+1, m.View())
	}
	m.input.SetValue(big + " edited")
	if sent() {
		t.Fatal("an edited text went without asking again")
	}
	if !sent() {
		t.Fatal("the second Enter did not send")
	}
	if !slices.ContainsFunc(m.queue, func(j job) bool { s, ok := j.cmd.(mmls.Say); return ok && s.Text == big+" edited" }) {
		t.Fatalf("the text is not on its way: %+v", m.queue)
	}
	m.input.SetValue(strings.Repeat("short\n", confirmLines-1) + "end")
	if !sent() {
		t.Fatalf("%d lines asked", confirmLines)
	}
}

// TestBackspaceTakesAGrapheme: Backspace deletes the character a person
// sees, not one rune of it: a flag, a family, a letter with a combining
// accent; a plain letter as before.
func TestBackspaceTakesAGrapheme(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, want string }{
		{"abc", "ab"},
		{"go 🇫🇷", "go "},
		{"us 👨‍👩‍👧", "us "},
		{"café", "caf"},
		{"cafe\u0301", "caf"},
		{"", ""},
	} {
		m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
		mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 20})
		m = mm.(Model)
		m.input.SetValue(tc.text)
		mm, _ = m.Update(tea.KeyMsg{Type: tea.KeyBackspace})
		if got := mm.(Model).input.Value(); got != tc.want {
			t.Errorf("Backspace after %q left %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestSplitText: a long text is cut into parts of at most n bytes, at a
// space or line break in the second half of a part when there is one,
// never inside a UTF-8 character; the parts make the text again.
func TestSplitText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		n    int
		want []string
	}{
		{"abcdefgh", 8, []string{"abcdefgh"}},
		{"abcdefghi", 8, []string{"abcdefgh", "i"}},
		{"abcd efghijkl", 8, []string{"abcd ", "efghijkl"}}, // a space at n/2
		{"ab cdefghijkl", 8, []string{"ab cdefg", "hijkl"}}, // before n/2: cut at n
		{"abc\ndefghijk", 8, []string{"abc\ndefg", "hijk"}}, // before n/2 too
		{"abcde\nfghijk", 8, []string{"abcde\n", "fghijk"}}, // a line break after it
		{"ééé", 3, []string{"é", "é", "é"}},                 // never inside a character
		{"aéé", 2, []string{"a", "é", "é"}},
	} {
		got := splitText(tc.text, tc.n)
		if !slices.Equal(got, tc.want) || strings.Join(got, "") != tc.text {
			t.Errorf("splitText(%q, %d) = %q, want %q", tc.text, tc.n, got, tc.want)
		}
		for _, p := range got {
			if len(p) > tc.n {
				t.Errorf("splitText(%q, %d): a part of %d bytes", tc.text, tc.n, len(p))
			}
		}
	}
}

// TestTextAtTheMessageBound: a text of exactly MaxTextSize bytes goes as
// one message, without the word about a split.
func TestTextAtTheMessageBound(t *testing.T) {
	t.Parallel()
	m := New(newFakeEngine(), Options{Now: func() time.Time { return t0 }})
	for _, msg := range started() {
		m.onEvent(msg.(eventMsg).ev)
	}
	m.busy, m.queue = true, nil // the commands wait in the queue, to be read
	m.submit(strings.Repeat("x", mmls.MaxTextSize))
	if len(m.queue) != 1 || strings.Contains(fmt.Sprint(m.view("lobby").lines), "sent as") {
		t.Fatalf("%d commands queued; lines %+v", len(m.queue), m.view("lobby").lines)
	}
	m.submit(strings.Repeat("x", mmls.MaxTextSize+1))
	if len(m.queue) != 3 {
		t.Fatalf("one byte more: %d commands queued, want 1 + 2", len(m.queue))
	}
}
