package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		unwanted []string
		stderr   string
	}{
		{name: "version", args: []string{"--version"}, stdout: []string{"mmls-chat " + version}},
		{name: "help", args: []string{"--help"}, stdout: []string{"usage: mmls-chat", "-no-mdns", "-peer"}},
		{name: "bad flag", args: []string{"--nope"}, code: 2, stderr: "mmls-chat: flag provided but not defined: -nope (see --help)"},
		{name: "flag without its value", args: []string{"--nick"}, code: 2, stderr: "mmls-chat: flag needs an argument: -nick (see --help)"},
		{name: "stray argument", args: []string{"extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{name: "unusable data directory", args: []string{"--headless", "--data", "/dev/null/mmls"}, code: 2, stderr: "mmls-chat: --data /dev/null/mmls:"},
		{name: "bad nick", args: []string{"--headless", "--nick", "", "--data", "DATADIR"}, code: 2, stderr: "mmls-chat: --nick:"},
		{name: "bad listen address", args: []string{"--headless", "--listen", "nonsense", "--no-mdns", "--data", "DATADIR"}, code: 2, stderr: "mmls-chat: --listen:"},
		{
			name: "walkthrough",
			args: []string{"--walkthrough"},
			stdout: []string{
				"bob    reads  <alice> hello from alice",
				"alice  re-added (rejoin) carol in its own send group",
				"bob    removed carol in its own send group",
				"alice  reads  <bob> just the two of us",
				"carol  nobody",
			},
			unwanted: []string{"refused", "carol  reads  <bob> just the two of us", "ALERT"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			for i, a := range tc.args {
				if a == "DATADIR" {
					tc.args[i] = t.TempDir()
				}
			}
			if code := run(tc.args, strings.NewReader(""), &out, &errOut); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, errOut.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			for _, bad := range tc.unwanted {
				if strings.Contains(out.String(), bad) {
					t.Errorf("stdout has %q:\n%s", bad, out.String())
				}
			}
			if !strings.Contains(errOut.String(), tc.stderr) || (tc.stderr == "" && errOut.Len() > 0) {
				t.Errorf("stderr lacks %q: %s", tc.stderr, errOut.String())
			}
			if tc.code == 2 && strings.Count(strings.TrimSpace(errOut.String()), "\n") > 0 {
				t.Errorf("more than one line on stderr: %q", errOut.String())
			}
		})
	}
}

// TestHeadlessEndOfInput: the end of the input, /dev/null too, ends the
// headless mode cleanly, exit 0 (/dev/null failed: "add reader to epoll
// interest list", exit 1).
func TestHeadlessEndOfInput(t *testing.T) {
	t.Parallel()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var out, errOut bytes.Buffer
	code := run([]string{"--headless", "--no-mdns", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, null, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), `"type":"ready"`) {
		t.Fatalf("exit %d; stdout %s; stderr %s", code, out.String(), errOut.String())
	}
}
