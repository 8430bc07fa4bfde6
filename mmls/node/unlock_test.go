package node

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// TestOpenStoreDecides: who is asked what, by the data's state and what
// the start has (a passphrase file, someone at the terminal), and what
// the data is after.
func TestOpenStoreDecides(t *testing.T) {
	t.Parallel()
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("tide\r\nignored second line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("ebb\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	shared := filepath.Join(t.TempDir(), "shared")
	os.WriteFile(shared, []byte("tide\n"), 0o644)
	bom := filepath.Join(t.TempDir(), "bom")
	os.WriteFile(bom, []byte("\ufefftide\n"), 0o600)
	answer := func(a string, asked *[]bool) func(bool) ([]byte, error) {
		return func(choose bool) ([]byte, error) {
			*asked = append(*asked, choose)
			return []byte(a), nil
		}
	}
	prepare := map[string]func(t *testing.T, dir string){
		"new": func(*testing.T, string) {},
		"plain": func(t *testing.T, dir string) {
			s, err := store.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		},
		"plain, chosen": func(t *testing.T, dir string) {
			s, _ := store.Open(dir)
			s.ChoosePlain(true)
			s.Close()
		},
		"sealed": func(t *testing.T, dir string) {
			s, err := store.OpenSealed(dir, []byte("tide"))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
		},
	}
	tests := []struct {
		state  string
		file   string
		ask    string // "": nobody to ask
		asked  string // the questions, in order: c(hoose) or u(nlock)
		sealed bool
		err    string
		after  store.State
	}{
		{"new", "", "", "", false, "", store.StatePlain}, // headless: plain, asked later in the interface
		{"new", "", "tide", "c", true, "", store.StateSealed},
		{"new", "", "\x00none", "c", false, "", store.StatePlainChosen},
		{"new", pass, "", "", true, "", store.StateSealed},
		{"plain", "", "tide", "c", true, "", store.StateSealed},
		{"plain", pass, "", "", true, "", store.StateSealed},
		{"plain, chosen", "", "tide", "", false, "", store.StatePlainChosen},
		{"plain, chosen", pass, "", "", true, "", store.StateSealed},
		{"sealed", "", "", "", false, "the data is encrypted", store.StateSealed},
		{"sealed", "", "tide", "u", true, "", store.StateSealed},
		{"sealed", "", "ebb", "u", false, "wrong passphrase", store.StateSealed},
		{"sealed", wrong, "tide", "", false, "wrong passphrase", store.StateSealed},
		{"sealed", pass, "", "", true, "", store.StateSealed},
		{"sealed", empty, "", "", false, "first line is empty", store.StateSealed},
		{"sealed", shared, "", "", false, "can be read by others", store.StateSealed},
		{"sealed", bom, "", "", true, "", store.StateSealed},
		{"sealed", filepath.Join(t.TempDir(), "none"), "", "", false, "--passphrase-file", store.StateSealed},
	}
	for _, tc := range tests {
		name := tc.state + "/file=" + filepath.Base(tc.file) + "/ask=" + tc.ask
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			prepare[tc.state](t, dir)
			var asked []bool
			u := Unlock{File: tc.file}
			if tc.ask != "" {
				a := tc.ask
				if a == "\x00none" {
					a = ""
				}
				u.Ask = answer(a, &asked)
			}
			s, err := OpenStore(dir, u)
			var got string
			for _, c := range asked {
				got += map[bool]string{true: "c", false: "u"}[c]
			}
			if got != tc.asked {
				t.Errorf("asked %q, want %q", got, tc.asked)
			}
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one that says %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case err == nil:
				if s.Sealed() != tc.sealed {
					t.Errorf("sealed %v, want %v", s.Sealed(), tc.sealed)
				}
				s.Close()
			}
			var usage *UsageError
			if tc.err == "wrong passphrase" && errors.As(err, &usage) {
				t.Error("a wrong passphrase is not a usage error (exit 1, not 2)")
			}
			if st, err := store.Inspect(dir); err != nil || st != tc.after {
				t.Errorf("after: %v %v, want %v", st, err, tc.after)
			}
		})
	}
}
