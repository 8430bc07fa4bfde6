package headless

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmls-chat/mmls-chat/mmls"
	"github.com/mmls-chat/mmls-chat/mmls/enginetest"
	"github.com/mmls-chat/mmls-chat/mmls/memnet"
)

// output collects the JSON records Run writes.
type output struct {
	mu   sync.Mutex
	buf  strings.Builder
	recs []Record
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) records(t *testing.T) []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Record
	sc := bufio.NewScanner(strings.NewReader(o.buf.String()))
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not a JSON record: %q", sc.Text())
		}
		out = append(out, r)
	}
	return out
}

// TestLinesGoToTheCurrentRoom runs the headless mode over a real engine:
// text lines go to the room last joined or switched to, and after leaving
// it to another of ours, never to a room the script did not name; answers
// come after the events their commands caused.
func TestLinesGoToTheCurrentRoom(t *testing.T) {
	t.Parallel()
	l := enginetest.NewLAN(t)
	alice, bob, carol := l.StartUI("alice"), l.Start("bob"), l.Start("carol")
	carol.Do(mmls.Join{Room: "dev"})
	carol.Do(mmls.Leave{Room: "lobby"})
	alice.Do(mmls.Connect{Addr: memnet.Addr(bob.Nick)})
	alice.Do(mmls.Connect{Addr: memnet.Addr(carol.Nick)})
	bob.WaitLinked("lobby", alice)

	in, script := io.Pipe()
	out := &output{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), alice.UI(), in, out) }()
	write := func(lines ...string) {
		for _, line := range lines {
			if _, err := io.WriteString(script, line+"\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("/join dev")
	alice.WaitLinked("dev", carol)
	carol.WaitLinked("dev", alice)
	write("/join tmp1", "/leave tmp1", "/switch lobby", "hello lobby",
		"/switch dev", "hello dev", "/who lobby", "/nick", "/bogus", "/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("headless did not stop after /quit")
	}
	script.Close()
	bob.WaitText("lobby", "hello lobby")
	carol.WaitText("dev", "hello dev")

	recs := out.records(t)
	sentTo := map[string]string{}
	var errs []string
	leftAt, whoAt := -1, -1
	for i, r := range recs {
		switch r.Type {
		case "sent":
			sentTo[r.Text] = r.Room
		case "error":
			errs = append(errs, r.Error)
		case "left":
			leftAt = i
		case "who":
			whoAt = i
			if r.Room != "lobby" || len(r.Members) != 1 || r.Members[0].Nick != "bob" {
				t.Errorf("who: %+v", r)
			}
		}
	}
	if sentTo["hello lobby"] != "lobby" || sentTo["hello dev"] != "dev" {
		t.Errorf("lines went to %v", sentTo)
	}
	if leftAt < 0 || whoAt < leftAt {
		t.Errorf("left at %d, who at %d", leftAt, whoAt)
	}
	want := []string{"usage: /nick NAME", "unknown command /bogus (try /help)"}
	if strings.Join(errs, "|") != strings.Join(want, "|") {
		t.Errorf("errors %q, want %q", errs, want)
	}
	if bob.Texts("lobby")["hello dev"] != 0 || carol.Texts("dev")["hello lobby"] != 0 {
		t.Error("a line reached a room it was not written in")
	}
}
