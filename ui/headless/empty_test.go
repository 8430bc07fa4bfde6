package headless

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls"
)

func intp(n int) *int { return &n }

// TestEmptyAnswersSaySo: a search that finds nothing says matches 0, and
// /files in a room without files says files [] (both were left out).
func TestEmptyAnswersSaySo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev   mmls.Event
		want string
	}{
		{&mmls.Found{At: at, Room: "lobby", Text: "nothing"},
			`{"type":"search","time":"2026-11-30T09:00:00Z","room":"lobby","text":"nothing","matches":0}`},
		{&mmls.Files{At: at, Room: "lobby"},
			`{"type":"files","time":"2026-11-30T09:00:00Z","room":"lobby","files":[]}`},
		{&mmls.Left{At: at, Room: "lobby"}, // no files or matches in other records
			`{"type":"left","time":"2026-11-30T09:00:00Z","room":"lobby"}`},
	}
	for _, tc := range tests {
		r, _ := recordOf(tc.ev, "")
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T:\n got %s\nwant %s", tc.ev, b, tc.want)
		}
	}
}

// TestEndOfInputFiles: input from a file that cannot be watched for
// reading (/dev/null, a regular file) is read to its end, which is a
// /quit; Run failed on it ("add reader to epoll interest list").
func TestEndOfInputFiles(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(script, []byte("hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{os.DevNull, script} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		eng := newFake(nil)
		if _, err := run(t, eng, f); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cmds := eng.commands()
		if len(cmds) == 0 || cmds[len(cmds)-1] != (mmls.Quit{}) {
			t.Errorf("%s: commands %#v, want the last a quit", path, cmds)
		}
		if say, ok := cmds[0].(mmls.Say); path == script && (len(cmds) != 2 || !ok || say.Text != "hi") {
			t.Errorf("%s: commands %#v", path, cmds)
		}
	}
}
