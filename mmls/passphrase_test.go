package mmls

import (
	"errors"
	"testing"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// TestChangePassphraseCommand: on encrypted data, /passphrase re-wraps
// the data key once the current passphrase is given (a wrong one changes
// nothing, an empty new one is refused); on unencrypted data it asks for
// a passphrase at the next start.
func TestChangePassphraseCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, err := store.OpenSealed(dir, []byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngineOn(t, st)
	if _, err := e.do(ChangePassphrase{Old: []byte("wrong"), New: []byte("second")}); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("a wrong current passphrase: %v", err)
	}
	if _, err := e.do(ChangePassphrase{Old: []byte("first")}); !errors.Is(err, ErrUsage) {
		t.Fatalf("no new passphrase: %v", err)
	}
	ev, err := e.do(ChangePassphrase{Old: []byte("first"), New: []byte("second")})
	if c, ok := ev.(*PassphraseChanged); err != nil || !ok || !c.Sealed {
		t.Fatalf("the change: %#v %v", ev, err)
	}

	plainDir := t.TempDir()
	ps, err := store.Open(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.ChoosePlain(true); err != nil {
		t.Fatal(err)
	}
	p := newTestEngineOn(t, ps)
	ev, err = p.do(ChangePassphrase{})
	if c, ok := ev.(*PassphraseChanged); err != nil || !ok || c.Sealed {
		t.Fatalf("on plain data: %#v %v", ev, err)
	}
	ps.Close()
	if s, err := store.Inspect(plainDir); err != nil || s != store.StatePlain {
		t.Fatalf("the next start will not ask: %v %v", s, err)
	}
}
