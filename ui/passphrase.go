package ui

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// The passphrase that encrypts the data directory is typed without echo:
// at the start (AskPassphrase, before the chat's screen) and by
// /passphrase in the chat (the input line becomes a masked one for its
// three questions). Nothing typed there enters the input history.

// maxPassphrase bounds a typed passphrase.
const maxPassphrase = 1024

func secretInput(prompt string) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.EchoMode = textinput.EchoNone // not even its length shows
	in.CharLimit = maxPassphrase
	in.Cursor.SetMode(cursor.CursorStatic)
	in.Focus()
	return in
}

// secretAsk is /passphrase under way: the current passphrase, the new
// one, the new one again.
type secretAsk struct {
	step      int
	old, next []byte
	in        textinput.Model
}

var secretPrompts = []string{"current passphrase: ", "new passphrase: ", "new passphrase again: "}

// askSecret starts /passphrase's questions.
func (m *Model) askSecret() tea.Cmd {
	m.secret = &secretAsk{in: secretInput(secretPrompts[0])}
	m.tip = "changing the passphrase (typed without echo; Esc cancels)"
	return nil
}

// onSecretKey takes a key while /passphrase asks.
func (m Model) onSecretKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	s := m.secret
	switch {
	case msg.Type == tea.KeyEsc || msg.Type == tea.KeyCtrlC:
		m.secret, m.tip = nil, ""
		m.system(m.current, "passphrase unchanged")
		return m, nil
	case msg.Type != tea.KeyEnter:
		var cmd tea.Cmd
		s.in, cmd = s.in.Update(msg)
		return m, cmd
	}
	typed := []byte(s.in.Value())
	s.in.Reset()
	switch s.step {
	case 0:
		s.old = typed
	case 1:
		if len(typed) == 0 {
			m.tip = "a passphrase cannot be empty (Esc cancels)"
			return m, nil
		}
		s.next = typed
	case 2:
		if string(typed) != string(s.next) {
			s.step, s.next = 1, nil
			s.in.Prompt = secretPrompts[1]
			m.tip = "the two differ: the new passphrase again, twice (Esc cancels)"
			return m, nil
		}
		m.secret, m.tip = nil, ""
		return m, m.enqueue(job{cmd: mmls.ChangePassphrase{Old: s.old, New: s.next}, user: true, where: m.current})
	}
	s.step++
	s.in.Prompt = secretPrompts[s.step]
	return m, nil
}

// secretView is the masked input line, as tall as the input it replaces.
func (m Model) secretView() string {
	rows := max(1, m.input.Height())
	return m.secret.in.View() + strings.Repeat("\n", rows-1)
}

// unlockModel is the start-up prompt.
type unlockModel struct {
	dir     string
	choose  bool // a new passphrase (twice; empty: none), else the one the data has
	first   []byte
	in      textinput.Model
	note    string
	done    bool
	aborted bool
	answer  []byte
}

// AskPassphrase asks at the terminal, before the chat starts, for the
// passphrase of the data in dir: when choose, a new one, typed twice
// (empty: the data stays unencrypted), else the one the data has.
// A cancelled ctx (a signal) ends the question with an error.
func AskPassphrase(ctx context.Context, in io.Reader, out io.Writer, dir string, choose bool) ([]byte, error) {
	m := unlockModel{dir: dir, choose: choose, in: secretInput("passphrase: ")}
	if choose {
		m.in.Prompt = "new passphrase: "
	}
	got, err := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(out), tea.WithContext(ctx), tea.WithoutSignalHandler()).Run()
	if err != nil {
		return nil, err
	}
	res := got.(unlockModel)
	if res.aborted || !res.done {
		return nil, errors.New("no passphrase given")
	}
	return res.answer, nil
}

func (m unlockModel) Init() tea.Cmd { return nil }

func (m unlockModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		var cmd tea.Cmd
		m.in, cmd = m.in.Update(msg)
		return m, cmd
	}
	switch k.Type {
	case tea.KeyCtrlC, tea.KeyEsc, tea.KeyCtrlD:
		m.aborted = true
		return m, tea.Quit
	case tea.KeyEnter:
	default:
		var cmd tea.Cmd
		m.in, cmd = m.in.Update(asText(k))
		return m, cmd
	}
	typed := []byte(m.in.Value())
	m.in.Reset()
	switch {
	case !m.choose:
		if len(typed) == 0 {
			return m, nil
		}
		m.answer, m.done = typed, true
		return m, tea.Quit
	case m.first == nil:
		if len(typed) == 0 {
			m.answer, m.done = []byte{}, true
			return m, tea.Quit
		}
		m.first = typed
		m.in.Prompt = "again: "
		m.note = ""
		return m, nil
	case string(typed) != string(m.first):
		m.first = nil
		m.in.Prompt = "new passphrase: "
		m.note = "The two differ. Once more:"
		return m, nil
	}
	m.answer, m.done = typed, true
	return m, tea.Quit
}

func (m unlockModel) View() string {
	if m.done || m.aborted {
		return ""
	}
	title := lipgloss.NewStyle().Bold(true)
	faint := lipgloss.NewStyle().Faint(true)
	var b strings.Builder
	if m.choose {
		b.WriteString(title.Render("mmls-chat keeps your identity, rooms and history in " + m.dir + "."))
		b.WriteString("\nA passphrase encrypts them there: whoever copies the folder or takes the laptop reads nothing.\n")
		b.WriteString(faint.Render("It is asked at each start and cannot be recovered. Enter with none keeps the data unencrypted."))
	} else {
		b.WriteString(title.Render("The data in " + m.dir + " is encrypted."))
		b.WriteString("\n" + faint.Render("Its passphrase (Esc quits):"))
	}
	b.WriteString("\n")
	if m.note != "" {
		b.WriteString(m.note + "\n")
	}
	b.WriteString(m.in.View())
	b.WriteString("\n")
	return b.String()
}
