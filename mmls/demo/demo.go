// Package demo runs the simulated participants of mmls-chat --demo: real
// nodes (their own temporary data directories, real loopback TCP, real
// MLS) that join the lobby, greet the user and answer, so one command
// shows the whole product on a machine with no one else around.
package demo

import (
	"context"
	"fmt"
	"os"
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
	// file, when a message asks for one: its name, and what to say.
	file func(text string) (name, say string)
}

// fileSize is the size of the file a bot offers: big enough that its
// progress bar shows for a moment. It is sparse where it is made (no disk
// used); the user's copy goes to the demo's temporary folder.
const fileSize = 160 << 20

var bots = []bot{
	{
		nick:  "bob",
		greet: "hi %s! welcome to the lobby. Everything here is end-to-end encrypted with MLS, and there is no server.",
		answer: func(from, text string, direct bool) string {
			if direct {
				return "got your direct message; only the two of us can read this room."
			}
			if topic, ok := mmls.Topic(text); ok {
				return fmt.Sprintf("\"%s\": a good topic, %s. It is a line like any other, so it is encrypted too.", topic, from)
			}
			if action, ok := mmls.Action(text); ok {
				return fmt.Sprintf("/me waves back at %s (you %s)", from, action)
			}
			return fmt.Sprintf("%s, \"%s\" reached me encrypted, and you can see my receipt as a check.", from, text)
		},
		file: func(text string) (string, string) {
			if !strings.Contains(strings.ToLower(text), "send") {
				return "", ""
			}
			return "site-survey.tar", "here it is: sealed once, its key sent inside MLS. /save fetches it."
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
// user's node); their logs go to logf. They stop when ctx ends; wait
// waits for every goroutine they started.
func Start(ctx context.Context, dir, peer string, logf func(string, ...any)) (wait func(), err error) {
	var nodes []*node.Node
	for _, b := range bots {
		prefix := "demo " + b.nick + ": "
		n, err := node.Start(node.Config{Nick: b.nick, Data: filepath.Join(dir, b.nick), Listen: "127.0.0.1:0",
			Peers: []string{peer}, Room: "lobby", Logf: func(f string, a ...any) { logf(prefix+f, a...) }})
		if err != nil {
			for _, m := range nodes {
				m.Close()
			}
			return nil, fmt.Errorf("demo: %s: %w", b.nick, err)
		}
		nodes = append(nodes, n)
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		b := bots[i]
		replies := make(chan mmls.Command, 16)
		wg.Go(func() {
			defer n.Close()
			_ = n.Run(ctx) // ends with ctx
		})
		wg.Go(func() {
			defer close(replies)
			play(n.Engine, b, filepath.Join(dir, b.nick), replies)
		})
		wg.Go(func() { answer(ctx, n.Engine, replies) })
	}
	return wg.Wait, nil
}

// play reads a bot's events until they end and queues its replies.
func play(eng *mmls.Engine, b bot, dir string, replies chan<- mmls.Command) {
	greeted := map[mmls.ID]bool{}
	queue := func(c mmls.Command) {
		select {
		case replies <- c:
		default: // a flood: the bot skips a reply rather than stall its engine
		}
	}
	for ev := range eng.Events() {
		switch e := ev.(type) {
		case *mmls.MemberChanged:
			// The user joined our lobby group: greet once.
			if e.Room == "lobby" && e.By == eng.ID() && e.Change == mmls.ChangeAdded && !greeted[e.ID] && !isBot(e.Nick) {
				greeted[e.ID] = true
				queue(mmls.Say{Room: "lobby", Text: fmt.Sprintf(b.greet, e.Nick)})
			}
		case *mmls.Message:
			if isBot(e.From) {
				continue // bots do not answer each other
			}
			direct := mmls.IsDirect(e.Room)
			if b.file != nil {
				if name, say := b.file(e.Text); name != "" {
					if path, err := sparseFile(filepath.Join(dir, name)); err == nil {
						queue(mmls.Say{Room: e.Room, Text: say})
						queue(mmls.SendFile{Room: e.Room, Path: path})
						continue
					}
				}
			}
			if reply := b.answer(e.From, e.Text, direct); reply != "" {
				// The answer goes to the room the message came from.
				queue(mmls.Say{Room: e.Room, Text: reply})
			}
		}
	}
}

// answer runs queued replies at a human pace, until replies closes.
func answer(ctx context.Context, eng *mmls.Engine, replies <-chan mmls.Command) {
	for c := range replies {
		select {
		case <-time.After(600 * time.Millisecond):
			_, _ = eng.Do(ctx, c) // a stopped engine ends the demo anyway
		case <-ctx.Done():
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

// sparseFile makes (once) a file of fileSize at path that takes no disk.
func sparseFile(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return path, f.Truncate(fileSize)
}
