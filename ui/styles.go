package ui

import (
	"hash/fnv"

	"github.com/charmbracelet/lipgloss"
)

// Styles are the interface's colours and frames.
type Styles struct {
	Status, StatusDim, Panel, PanelTitle, Room, RoomCurrent, Unread   lipgloss.Style
	Time, System, Mine, Text, Check, Pending, Alert, Verified, Action lipgloss.Style
	Mention, Day                                                      lipgloss.Style
	Nicks                                                             []lipgloss.Style
}

// DefaultStyles returns the default look.
func DefaultStyles() Styles {
	nickColors := []string{"39", "208", "141", "42", "203", "220", "45", "170", "118", "214"}
	s := Styles{
		Status:      lipgloss.NewStyle().Background(lipgloss.Color("236")).Foreground(lipgloss.Color("252")).Padding(0, 1),
		StatusDim:   lipgloss.NewStyle().Background(lipgloss.Color("236")).Foreground(lipgloss.Color("244")),
		Panel:       lipgloss.NewStyle().Border(lipgloss.NormalBorder(), false, true, false, false).BorderForeground(lipgloss.Color("238")).Padding(0, 1),
		PanelTitle:  lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("244")),
		Room:        lipgloss.NewStyle().Foreground(lipgloss.Color("250")),
		RoomCurrent: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(lipgloss.Color("24")),
		Unread:      lipgloss.NewStyle().Foreground(lipgloss.Color("214")).Bold(true),
		Time:        lipgloss.NewStyle().Foreground(lipgloss.Color("242")),
		System:      lipgloss.NewStyle().Foreground(lipgloss.Color("243")).Italic(true),
		Action:      lipgloss.NewStyle().Foreground(lipgloss.Color("177")).Bold(true),
		Mine:        lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("252")),
		Text:        lipgloss.NewStyle(),
		Check:       lipgloss.NewStyle().Foreground(lipgloss.Color("42")),
		Pending:     lipgloss.NewStyle().Foreground(lipgloss.Color("242")),
		Alert:       lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("231")).Background(lipgloss.Color("160")).Padding(0, 1),
		Verified:    lipgloss.NewStyle().Foreground(lipgloss.Color("42")),
		Mention:     lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("16")).Background(lipgloss.Color("214")),
		Day:         lipgloss.NewStyle().Foreground(lipgloss.Color("244")),
	}
	for _, c := range nickColors {
		s.Nicks = append(s.Nicks, lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color(c)))
	}
	return s
}

func preferredColour(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// Colours gives each id its own nick colour while there are colours
// left: an id's preferred colour (from its hash, so mostly the same from
// one start to the next) unless someone seen first has it, then the next
// colour free. Past the palette, colours repeat. Shared by the model's
// copies; the interface's one goroutine uses it.
type Colours struct {
	of   map[string]int
	used map[int]bool
}

// NewColours returns colours nobody has yet.
func NewColours() *Colours { return &Colours{of: map[string]int{}, used: map[int]bool{}} }

// Index is the colour of id among n.
func (c *Colours) Index(id string, n int) int {
	if i, ok := c.of[id]; ok {
		return i
	}
	i := preferredColour(id, n)
	for k := 0; k < n && c.used[i]; k++ {
		i = (i + 1) % n
	}
	c.of[id], c.used[i] = i, true
	return i
}
