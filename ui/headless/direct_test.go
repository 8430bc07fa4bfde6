package headless

import (
	"slices"
	"strings"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// TestDirectRooms: /switch answers switched (a script had no answer to a
// /switch of a direct room); a direct room is named by its room, or as
// the terminal shows it, @nick (also a nick learnt from a room opened by
// the command just before); /query opens one without a text and text
// lines go there.
func TestDirectRooms(t *testing.T) {
	t.Parallel()
	carol, dave := mmls.ID{0xca}, mmls.ID{0xda}
	dmCarol, dmDave := "dm:a1:ca", "dm:a1:da"
	var f *fakeEngine
	f = newFake(func(c mmls.Command) (mmls.Event, error) {
		switch c := c.(type) {
		case mmls.Switch:
			if c.Room != dmCarol && c.Room != dmDave && c.Room != "lobby" {
				return nil, &mmls.Error{Kind: mmls.ErrNotInRoom, Text: "you are not in " + c.Room}
			}
			return &mmls.Switched{At: at, Room: c.Room}, nil
		case mmls.Direct:
			if c.To != "dave" {
				return nil, &mmls.Error{Kind: mmls.ErrNoSuchPeer, Text: "nobody called " + c.To}
			}
			// The engine reports the room it opened before it answers.
			f.events <- &mmls.Joined{At: at, Room: dmDave, With: dave, Nick: "dave"}
			return &mmls.DirectRoom{At: at, Room: dmDave, With: dave}, nil
		}
		return nil, nil
	})
	f.events <- &mmls.Joined{At: at, Room: "lobby"}
	f.events <- &mmls.Joined{At: at, Room: dmCarol, With: carol}
	f.events <- &mmls.PeerChanged{At: at, ID: carol, Nick: "carol", Online: true}
	script := []string{
		"/switch " + dmCarol, "one",
		"/switch lobby", "two",
		"/switch @carol", "three",
		"/switch lobby",
		"/query dave", "four",
		"/switch lobby",
		"/switch @dave", "five",
		"/leave @nobody",
		"/who @CAROL",
	}
	recs, err := run(t, f, strings.NewReader(strings.Join(script, "\n")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var said []mmls.Command
	for _, c := range f.commands() {
		switch c.(type) {
		case mmls.Say, mmls.Who, mmls.Leave:
			said = append(said, c)
		}
	}
	want := []mmls.Command{mmls.Say{Room: dmCarol, Text: "one"}, mmls.Say{Room: "lobby", Text: "two"}, mmls.Say{Room: dmCarol, Text: "three"},
		mmls.Say{Room: dmDave, Text: "four"}, mmls.Say{Room: dmDave, Text: "five"}, mmls.Who{Room: dmCarol}}
	if !slices.Equal(said, want) {
		t.Errorf("commands %#v\nwant %#v", said, want)
	}
	var answers []string
	for _, r := range recs {
		switch r.Type {
		case "switched":
			answers = append(answers, r.Type+" "+r.Room+" "+r.ID)
		case "error":
			answers = append(answers, r.Type+" "+r.Error)
		}
	}
	wantAnswers := []string{
		"switched " + dmCarol + " ", "switched lobby ", "switched " + dmCarol + " ", "switched lobby ",
		"switched " + dmDave + " " + dave.String(), "switched lobby ", "switched " + dmDave + " ",
		"error you have no conversation with @nobody (/query nobody opens one)",
	}
	if !slices.Equal(answers, wantAnswers) {
		t.Errorf("answers %q\nwant %q", answers, wantAnswers)
	}
}
