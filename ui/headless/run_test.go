package headless

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// fakeEngine records the commands Run gives it and answers each with
// answer; Quit stops it (its events end). Events go in the buffered
// channel before Run starts, or from answer (before the answer, as the
// engine reports what a command caused before it answers).
type fakeEngine struct {
	events chan mmls.Event
	answer func(c mmls.Command) (mmls.Event, error)

	mu   sync.Mutex
	cmds []mmls.Command
	once sync.Once
}

func newFake(answer func(mmls.Command) (mmls.Event, error)) *fakeEngine {
	f := &fakeEngine{events: make(chan mmls.Event, 64), answer: answer}
	f.events <- &mmls.Ready{At: at, ID: alice, Nick: "alice", Room: "lobby"}
	return f
}

func (f *fakeEngine) Do(_ context.Context, c mmls.Command) (mmls.Event, error) {
	f.mu.Lock()
	f.cmds = append(f.cmds, c)
	f.mu.Unlock()
	if _, quit := c.(mmls.Quit); quit {
		f.stop()
		return nil, nil
	}
	if f.answer == nil {
		return nil, nil
	}
	return f.answer(c)
}

func (f *fakeEngine) Events() <-chan mmls.Event { return f.events }

func (f *fakeEngine) stop() { f.once.Do(func() { close(f.events) }) }

func (f *fakeEngine) commands() []mmls.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mmls.Command(nil), f.cmds...)
}

// run runs script through Run on f, failing after 10 s.
func run(t *testing.T, f *fakeEngine, in io.Reader) ([]Record, error) {
	t.Helper()
	out := &output{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), f, in, out) }()
	select {
	case err := <-done:
		return out.records(t), err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil, nil
	}
}

// TestWhereTextGoes: a text line goes to the start room, then to the
// room last joined, made or switched to; after leaving the room it goes
// to, to another of ours, an open one first, or to none.
func TestWhereTextGoes(t *testing.T) {
	t.Parallel()
	rooms := func(rs ...mmls.RoomView) func(mmls.Command) (mmls.Event, error) {
		return func(c mmls.Command) (mmls.Event, error) {
			if _, ok := c.(mmls.ListRooms); ok {
				return &mmls.Rooms{At: at, Rooms: rs}, nil
			}
			return nil, nil
		}
	}
	dm := mmls.RoomView{Name: "dm:a1:b0", Direct: true}
	tests := []struct {
		name   string
		script string
		answer func(mmls.Command) (mmls.Event, error)
		want   string // the room of the last line, "" for an error
	}{
		{"the start room", "hi", nil, "lobby"},
		{"a room joined", "/join dev\nhi", nil, "dev"},
		{"a room made", "/create ops\nhi", nil, "ops"},
		{"a room switched to", "/join dev\n/switch lobby\nhi", nil, "lobby"},
		// (were the current room moved, it would move to art)
		{"another room left", "/join dev\n/leave lobby\nhi", rooms(mmls.RoomView{Name: "art"}, mmls.RoomView{Name: "dev"}), "dev"},
		{"left: an open room before a direct one", "/leave\nhi", rooms(dm, mmls.RoomView{Name: "dev"}), "dev"},
		{"left: a direct room when no other", "/leave\nhi", rooms(dm), dm.Name},
		{"left: no room", "/leave\nhi", rooms(), ""},
		{"left: the rooms unknown", "/leave\nhi", func(c mmls.Command) (mmls.Event, error) {
			if _, ok := c.(mmls.ListRooms); ok {
				return nil, errors.New("no answer")
			}
			return nil, nil
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(tc.answer)
			recs, err := run(t, f, strings.NewReader(tc.script+"\n/quit\n"))
			if err != nil {
				t.Fatal(err)
			}
			cmds := f.commands()
			last := cmds[len(cmds)-2] // before the /quit
			if tc.want == "" {
				if _, said := last.(mmls.Say); said || recs[len(recs)-1].Type != "error" {
					t.Fatalf("with no room: %#v, then %+v", last, recs[len(recs)-1])
				}
				return
			}
			if say, ok := last.(mmls.Say); !ok || say != (mmls.Say{Room: tc.want, Text: "hi"}) {
				t.Fatalf("the line went as %#v, want to %s", last, tc.want)
			}
		})
	}
}

// TestAnswersFollowTheirEvents: what the engine reported before it
// answered is written before the answer; errors are answers in plain
// words; blank lines are no command; the end of the input is a /quit.
func TestAnswersFollowTheirEvents(t *testing.T) {
	t.Parallel()
	var f *fakeEngine
	f = newFake(func(c mmls.Command) (mmls.Event, error) {
		switch c := c.(type) {
		case mmls.Who:
			f.events <- &mmls.Joined{At: at, Room: c.Room}
			return &mmls.Members{At: at, Room: c.Room}, nil
		case mmls.Say:
			return nil, errors.New("disk full")
		}
		return nil, nil
	})
	recs, err := run(t, f, strings.NewReader("/who dev\n\n   \nhi\n/bogus"))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range recs {
		types = append(types, r.Type)
	}
	if got := strings.Join(types, " "); got != "ready joined who error error" {
		t.Fatalf("records: %s", got)
	}
	if recs[3].Error != mmls.Describe(errors.New("disk full")) || !strings.Contains(recs[4].Error, "unknown command /bogus") {
		t.Errorf("errors: %q, %q", recs[3].Error, recs[4].Error)
	}
	want := []mmls.Command{mmls.Who{Room: "dev"}, mmls.Say{Room: "lobby", Text: "hi"}, mmls.Quit{}}
	if got := f.commands(); !reflect.DeepEqual(got, want) {
		t.Errorf("commands %#v, want %#v", got, want)
	}
}

// TestEngineStops: Run ends when the engine does, whatever the input
// still holds: a command refused because the engine stopped ends the
// reading (no /quit after it), and an engine that stops before it is
// ready is given no command.
func TestEngineStops(t *testing.T) {
	t.Parallel()
	t.Run("while commands come", func(t *testing.T) {
		t.Parallel()
		var f *fakeEngine
		f = newFake(func(mmls.Command) (mmls.Event, error) {
			f.stop()
			return nil, fmt.Errorf("%w: network stopped", mmls.ErrStopped)
		})
		recs, err := run(t, f, strings.NewReader("hi\nmore\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.commands(); len(got) != 1 {
			t.Errorf("commands after the engine stopped: %#v", got)
		}
		for _, r := range recs {
			if r.Type == "error" {
				t.Errorf("the stop written as %+v", r)
			}
		}
	})
	t.Run("before it is ready", func(t *testing.T) {
		t.Parallel()
		f := &fakeEngine{events: make(chan mmls.Event)}
		f.stop()
		recs, err := run(t, f, strings.NewReader("hi\n"))
		if err != nil || len(recs) != 0 || len(f.commands()) != 0 {
			t.Errorf("records %+v, commands %#v, error %v", recs, f.commands(), err)
		}
	})
	t.Run("with the input open", func(t *testing.T) {
		t.Parallel()
		r, w, err := os.Pipe() // a file: Run can interrupt its reading
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		defer r.Close()
		f := newFake(nil)
		f.stop()
		if _, err := run(t, f, r); err != nil {
			t.Fatal(err)
		}
	})
}

// failingWriter refuses every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestWriteError: a failed write is Run's error, and Run goes on reading
// the engine's events (so the engine can stop) until they end.
func TestWriteError(t *testing.T) {
	t.Parallel()
	f := newFake(nil)
	for range 10 {
		f.events <- &mmls.Left{At: at, Room: "dev"}
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), f, strings.NewReader("/join dev\n/quit\n"), failingWriter{}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "headless: write: broken pipe") {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if got := f.commands(); len(got) != 2 {
		t.Errorf("commands %#v", got)
	}
}
