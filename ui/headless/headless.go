// Package headless drives the engine from lines of text and reports its
// events as JSON, one object per line: the contract scripts, bots and the
// end-to-end tests use (documented in docs/headless.md). It parses lines with
// the same parser as the terminal interface, so both accept exactly the
// same commands.
//
// Output rule: stdout carries JSON records and nothing else; diagnostics
// go to the log file that main sets up.
package headless

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/muesli/cancelreader"

	"github.com/mmls-chat/mmls-chat/mmls"
)

// Engine is what the headless mode needs of the engine.
type Engine interface {
	Do(ctx context.Context, c mmls.Command) (mmls.Event, error)
	Events() <-chan mmls.Event
}

// MaxLine bounds one input line. Longer messages than the protocol allows
// (64 KiB of text) still reach the engine, which answers with an error;
// a line over MaxLine ends the input.
const MaxLine = 1 << 20

// Run runs commands read from in, one line each, and writes the engine's
// events and the commands' answers to out, until the engine stops. End of
// input is a /quit. It returns the first write error.
//
// Answers follow the events the command caused: a command's Joined is
// written before the answer of the next command. The current room (where
// text lines go) is Run's own: the start room, then the last room joined
// or switched to.
func Run(ctx context.Context, eng Engine, in io.Reader, out io.Writer) error {
	cr, err := cancelreader.NewReader(in)
	if err != nil {
		// A file that cannot be watched (a regular file, /dev/null:
		// epoll refuses them) is read as it is: it ends by itself.
		cr = uncancellable{in}
	}
	defer cr.Close()
	h := &session{eng: eng, answers: make(chan record), start: make(chan string, 1), stop: make(chan struct{}),
		settled: make(chan chan struct{}), direct: map[string]partner{}}
	var wg sync.WaitGroup
	wg.Go(func() { h.read(ctx, cr) })
	werr := h.write(out)
	close(h.stop)
	// A reader that cannot be interrupted (not a file) is left to end
	// with its input.
	if cr.Cancel() {
		wg.Wait()
	}
	return werr
}

// uncancellable is an input read as it is.
type uncancellable struct{ io.Reader }

func (uncancellable) Cancel() bool { return false }
func (uncancellable) Close() error { return nil }

type session struct {
	eng     Engine
	answers chan record   // command answers, to the writer
	start   chan string   // the start room, from Ready
	stop    chan struct{} // closed when the engine's events end
	// settled: the writer closes each channel it is given once it has
	// taken every event the engine reported before.
	settled chan chan struct{}

	mu     sync.Mutex
	direct map[string]partner // our direct rooms (the writer keeps it)
}

// partner is the other person of a direct room.
type partner struct {
	id   mmls.ID
	nick string
}

// read runs the commands of each input line, in order.
func (h *session) read(ctx context.Context, in io.Reader) {
	var current string
	select {
	case current = <-h.start:
	case <-h.stop:
		return
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	for sc.Scan() {
		cmd, err := mmls.Parse(sc.Text(), current)
		if cmd == nil && err == nil {
			continue
		}
		if err == nil {
			cmd, err = mmls.ResolveRoom(cmd, h.directRoom)
		}
		var ev mmls.Event
		if err == nil {
			ev, err = h.eng.Do(ctx, cmd)
		}
		switch {
		case errors.Is(err, mmls.ErrStopped):
			return
		case err != nil:
			h.answer(errorRecord(err, timeOf(ev)))
			continue
		}
		current = h.follow(ctx, cmd, ev, current)
		if d, ok := ev.(*mmls.DirectRoom); ok && opens(cmd) {
			h.answer(RoomRec{Header: Header{Type: "switched", Time: d.When()}, Room: d.Room, ID: d.With.String()})
		} else if ev != nil {
			if rec, ok := recordOf(ev, current); ok {
				h.answer(rec)
			}
		}
		if _, quit := cmd.(mmls.Quit); quit {
			return
		}
	}
	_, _ = h.eng.Do(ctx, mmls.Quit{}) // end of input
}

// opens reports whether cmd is a /query without text: it opens a direct
// room, as /switch shows one.
func opens(cmd mmls.Command) bool {
	d, ok := cmd.(mmls.Direct)
	return ok && d.Text == ""
}

// follow returns the current room after cmd succeeded with the answer ev.
func (h *session) follow(ctx context.Context, cmd mmls.Command, ev mmls.Event, current string) string {
	if d, ok := ev.(*mmls.DirectRoom); ok && opens(cmd) {
		return d.Room
	}
	switch c := cmd.(type) {
	case mmls.Join:
		return c.Room
	case mmls.Accept:
		if s, ok := ev.(*mmls.Switched); ok {
			return s.Room // a request: its direct room
		}
		return c.Room
	case mmls.Create:
		return c.Room
	case mmls.Switch:
		return c.Room
	case mmls.Leave:
		if c.Room != current {
			return current
		}
		// Text goes to another of our rooms: an open one first.
		ev, err := h.eng.Do(ctx, mmls.ListRooms{})
		rooms, ok := ev.(*mmls.Rooms)
		if err != nil || !ok || len(rooms.Rooms) == 0 {
			return ""
		}
		for _, r := range rooms.Rooms {
			if !r.Direct {
				return r.Name
			}
		}
		return rooms.Rooms[0].Name
	}
	return current
}

// directRoom is our direct room with nick (as its joined and peer records
// name the other person), or with the peer whose id starts with nick (8
// hex digits at least), once the writer has taken what the engine
// reported so far.
func (h *session) directRoom(nick string) (string, bool) {
	done := make(chan struct{})
	select {
	case h.settled <- done:
		select {
		case <-done:
		case <-h.stop:
		}
	case <-h.stop:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var folded []string
	for room, p := range h.direct {
		switch {
		case p.nick == nick, len(nick) >= 8 && strings.HasPrefix(p.id.String(), strings.ToLower(nick)):
			return room, true
		case strings.EqualFold(p.nick, nick):
			folded = append(folded, room)
		}
	}
	if len(folded) == 1 {
		return folded[0], true
	}
	return "", false
}

// track keeps the direct rooms and the nicks of their other persons.
func (h *session) track(ev mmls.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch e := ev.(type) {
	case *mmls.Joined:
		if e.With != (mmls.ID{}) {
			h.direct[e.Room] = partner{id: e.With, nick: e.Nick}
		}
	case *mmls.Left:
		delete(h.direct, e.Room)
	case *mmls.PeerChanged:
		h.renamed(e.ID, e.Nick)
	case *mmls.PeerRenamed:
		h.renamed(e.ID, e.Nick)
	}
}

// renamed keeps the nick of the partner of a direct room as it is now.
func (h *session) renamed(id mmls.ID, nick string) {
	for room, p := range h.direct {
		if p.id == id && nick != "" {
			h.direct[room] = partner{id: p.id, nick: nick}
		}
	}
}

func (h *session) answer(r record) {
	select {
	case h.answers <- r:
	case <-h.stop:
	}
}

// write writes events and answers until the engine's events end.
func (h *session) write(out io.Writer) error {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var werr error
	put := func(r record) {
		if werr == nil { // after a failed write, keep draining so the engine can stop
			if err := enc.Encode(r); err != nil {
				werr = fmt.Errorf("headless: write: %w", err)
			}
		}
	}
	event := func(ev mmls.Event) {
		if ready, ok := ev.(*mmls.Ready); ok {
			h.start <- ready.Room
		}
		h.track(ev)
		if r, ok := recordOf(ev, ""); ok {
			put(r)
		}
	}
	events := h.eng.Events()
	// drain takes what the engine reported before it answered, queued
	// already: it goes first. It reports false when the events ended.
	drain := func() bool {
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return false
				}
				event(ev)
			default:
				return true
			}
		}
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return werr
			}
			event(ev)
		case a := <-h.answers:
			more := drain()
			put(a)
			if !more {
				return werr
			}
		case done := <-h.settled:
			more := drain()
			close(done)
			if !more {
				return werr
			}
		}
	}
}
