// Package demo runs the simulated participants of mmls-chat --demo: real
// nodes (their own temporary data directories, real loopback TCP, real
// MLS) that join the lobby, greet the user and answer, so one command
// shows the whole product on a machine with no one else around.
package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/node"
)

// Bot is one simulated participant's script.
type bot struct {
	nick   string
	greet  string // %s is the user's nick
	answer func(from, text string, direct bool) string
}

var bots = []bot{
	{
		nick:  "bob",
		greet: "hi %s! welcome to the lobby. Everything here is end-to-end encrypted with MLS, and there is no server.",
		answer: func(from, text string, direct bool) string {
			if direct {
				return "got your direct message; only the two of us can read this room."
			}
			return fmt.Sprintf("%s, \"%s\" reached me encrypted, and you can see my receipt as a check.", from, text)
		},
	},
	{
		nick:  "carol",
		greet: "hello %s o/ try /who to see who reaches whom, or /msg carol something private.",
		answer: func(from, text string, direct bool) string {
			if direct {
				return "psst, " + from + ": this is our direct room. /verify carol shows our safety number."
			}
			if strings.Contains(strings.ToLower(text), "carol") {
				return "you called? I am a simulated participant, but the cryptography is real."
			}
			return ""
		},
	},
}

// Start starts the simulated participants in dir, connected to peer (the
// user's node). They stop when ctx ends; wait waits for them to finish.
func Start(ctx context.Context, dir, peer string) (wait func(), err error) {
	var wg sync.WaitGroup
	var nodes []*node.Node
	for _, b := range bots {
		n, err := node.Start(node.Config{Nick: b.nick, Data: filepath.Join(dir, b.nick), Listen: "127.0.0.1:0",
			Peers: []string{peer}, Room: "lobby"})
		if err != nil {
			for _, m := range nodes {
				m.Close()
			}
			return nil, fmt.Errorf("demo: %s: %w", b.nick, err)
		}
		nodes = append(nodes, n)
	}
	for i, n := range nodes {
		b := bots[i]
		wg.Add(2)
		go func() {
			defer wg.Done()
			n.Run(ctx)
			n.Close()
		}()
		go func() {
			defer wg.Done()
			play(ctx, n.Engine, b)
		}()
	}
	return wg.Wait, nil
}

// play runs a bot's script on its engine's events until they stop.
func play(ctx context.Context, eng *mmls.Engine, b bot) {
	var me string
	greeted := map[string]bool{}
	say := func(line string) {
		go func() {
			select {
			case <-time.After(600 * time.Millisecond): // a human pace
				eng.Input(line)
			case <-ctx.Done():
			}
		}()
	}
	for e := range eng.Events() {
		switch e.Type {
		case "ready":
			me = e.ID
		case "member":
			// The user joined our lobby group: greet once.
			if e.Room == "lobby" && e.By == me && e.Change == "added" && !greeted[e.ID] && !isBot(e.Nick) {
				greeted[e.ID] = true
				say(fmt.Sprintf(b.greet, e.Nick))
			}
		case "message":
			if isBot(e.From) {
				continue // bots do not answer each other
			}
			direct := strings.HasPrefix(e.Room, "dm:")
			if reply := b.answer(e.From, e.Text, direct); reply != "" {
				if direct {
					say("/msg " + e.From + " " + reply)
				} else {
					say(reply)
				}
			}
		}
	}
}

func isBot(nick string) bool {
	for _, b := range bots {
		if b.nick == nick {
			return true
		}
	}
	return false
}
