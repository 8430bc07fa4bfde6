package mmls

import (
	"errors"

	"github.com/mmls-chat/mmls-chat/mmls/store"
)

// changePassphrase re-wraps the data key (a sealed store), or asks for a
// passphrase at the next start (a plain one). Argon2id runs twice here
// (the old passphrase checked, the new one wrapped): a fraction of a
// second the engine does nothing else, at a user's rare request.
func (e *Engine) changePassphrase(c ChangePassphrase) (Event, error) {
	if !e.st.Sealed() {
		if err := e.st.ChoosePlain(false); err != nil {
			return nil, storageErr(err)
		}
		return &PassphraseChanged{}, nil
	}
	if len(c.New) == 0 {
		return nil, failf(ErrUsage, "/passphrase asks for the current passphrase and a new one in the terminal interface")
	}
	switch err := e.st.ChangePassphrase(c.Old, c.New); {
	case errors.Is(err, store.ErrPassphrase):
		return nil, failf(ErrNotAllowed, "that is not the current passphrase: nothing changed")
	case err != nil:
		return nil, storageErr(err)
	}
	return &PassphraseChanged{Sealed: true}, nil
}
