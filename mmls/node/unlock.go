package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// Unlock says where the passphrase of a data directory's store comes from.
type Unlock struct {
	// File holds the passphrase on its first line (--passphrase-file,
	// MMLS_PASSPHRASE_FILE); "": none.
	File string
	// Ask asks the person at the terminal: for a new passphrase (typed
	// twice; empty for none) when choose is true, else for the one the
	// data has. Nil: there is no one to ask (headless).
	Ask func(choose bool) ([]byte, error)
}

// maxPassphraseFile bounds what is read of a passphrase file, and
// maxPassphrase a passphrase (the interface takes as many characters).
const (
	maxPassphraseFile = 4096
	maxPassphrase     = 1024
)

// OpenStore opens the store in dir: a sealed one with its passphrase (a
// wrong one is an error wrapping store.ErrPassphrase, and nothing is
// written); a new one, or a plain one whose user was never asked, sealed
// under the passphrase the file gives or the user chooses (a plain store
// is sealed on the way, crash-safely), or plain when the user chooses
// none (they are not asked again; /passphrase asks again at the next
// start). Headless with no file, a new or plain store stays plain.
func OpenStore(dir string, u Unlock) (*store.Store, error) {
	st, err := store.Inspect(dir)
	if err != nil {
		return nil, &UsageError{fmt.Errorf("--data %s: %w", dir, err)}
	}
	var pass []byte
	if u.File != "" {
		if pass, err = readPassphrase(u.File); err != nil {
			return nil, &UsageError{err}
		}
	}
	switch {
	case st == store.StateSealed && pass == nil && u.Ask == nil:
		return nil, &UsageError{fmt.Errorf("--data %s: the data is encrypted: give its passphrase with --passphrase-file (or MMLS_PASSPHRASE_FILE)", dir)}
	case st == store.StateSealed && pass == nil:
		if pass, err = u.Ask(false); err != nil {
			return nil, err
		}
	case pass == nil && u.Ask != nil && (st == store.StateNone || st == store.StatePlain):
		if pass, err = u.Ask(true); err != nil {
			return nil, err
		}
		if len(pass) == 0 {
			s, err := store.Open(dir)
			if err != nil {
				return nil, &UsageError{fmt.Errorf("--data %s: %w", dir, err)}
			}
			if err := s.ChoosePlain(true); err != nil {
				s.Close()
				return nil, err
			}
			return s, nil
		}
	}
	if pass == nil {
		s, err := store.Open(dir)
		if err != nil {
			return nil, &UsageError{fmt.Errorf("--data %s: %w", dir, err)}
		}
		return s, nil
	}
	s, err := store.OpenSealed(dir, pass)
	switch {
	case errors.Is(err, store.ErrPassphrase):
		return nil, fmt.Errorf("wrong passphrase for %s (nothing was changed)", dir)
	case err != nil:
		return nil, &UsageError{fmt.Errorf("--data %s: %w", dir, err)}
	}
	return s, nil
}

// readPassphrase reads the first line of path.
func readPassphrase(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	defer f.Close()
	// Like ssh with a private key: a passphrase others can read protects
	// nothing, and saying so beats taking it.
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("--passphrase-file %s can be read by others (%v): chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	if len(b) > maxPassphraseFile {
		return nil, fmt.Errorf("--passphrase-file %s: more than %d bytes: not a passphrase", path, maxPassphraseFile)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff")) // an editor's byte-order mark is no part of it
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, fmt.Errorf("--passphrase-file %s: its first line is empty", path)
	}
	if len(line) > maxPassphrase {
		return nil, fmt.Errorf("--passphrase-file %s: a passphrase of more than %d bytes", path, maxPassphrase)
	}
	return line, nil
}
