package mlsguard

import (
	"bytes"
	"fmt"

	mls "github.com/cisco/go-mls"
)

// Joiner holds the key packages (and their init secrets) we may be welcomed
// with. Every package must have been made with [Identity.NewKeyPackage].
type Joiner struct {
	Identity   *Identity
	KeyPackage *KeyPackage
	InitSecret []byte
}

// WelcomeTarget returns the hashes of the key packages a Welcome addresses,
// so the caller can pick the matching init secret. It decodes strictly.
func WelcomeTarget(raw []byte) ([][]byte, error) {
	if len(raw) > MaxWelcomeSize {
		return nil, fmt.Errorf("%w: welcome of %d bytes (max %d)", ErrMalformed, len(raw), MaxWelcomeSize)
	}
	var w mls.Welcome
	if err := decodeStrict(raw, &w); err != nil {
		return nil, err
	}
	if w.CipherSuite != Suite {
		return nil, fmt.Errorf("%w: welcome suite %v", ErrMalformed, w.CipherSuite)
	}
	var out [][]byte
	for _, s := range w.Secrets {
		out = append(out, bytes.Clone(s.KeyPackageHash))
	}
	return out, nil
}

// Join joins the group a Welcome describes, accepting it only when leaf 0
// holds the key whose fingerprint is owner and leaf 0 signed the GroupInfo,
// and (when groupID is not nil) the group id matches.
func Join(j Joiner, raw []byte, owner Fingerprint, groupID []byte) (*Group, error) {
	if len(raw) > MaxWelcomeSize {
		return nil, fmt.Errorf("%w: welcome of %d bytes (max %d)", ErrMalformed, len(raw), MaxWelcomeSize)
	}
	var w mls.Welcome
	if err := decodeStrict(raw, &w); err != nil {
		return nil, err
	}
	if w.CipherSuite != Suite || w.Version != mls.ProtocolVersionMLS10 {
		return nil, fmt.Errorf("%w: welcome suite or version", ErrMalformed)
	}
	if len(w.Secrets) == 0 || len(w.Secrets) > MaxLeaves {
		return nil, fmt.Errorf("%w: welcome with %d secrets", ErrMalformed, len(w.Secrets))
	}
	found := false
	for _, s := range w.Secrets {
		found = found || bytes.Equal(s.KeyPackageHash, j.KeyPackage.Hash())
	}
	if !found {
		return nil, ErrNoKeyPackage
	}
	var st *mls.State
	var signer mls.LeafIndex
	err := safely("join", func() error {
		var err error
		st, err = mls.NewJoinedState(j.InitSecret, []mls.SignaturePrivateKey{j.Identity.priv}, []mls.KeyPackage{j.KeyPackage.kp}, w)
		if err != nil {
			return err
		}
		gi, err := w.Decrypt(Suite, st.Keys.EpochSecret)
		if err != nil {
			return err
		}
		signer = gi.SignerIndex
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: join: %w", ErrAuth, err)
	}
	leaf0, ok := memberAt(st, 0)
	if !ok || signer != 0 || leaf0.Fingerprint() != owner {
		return nil, ErrForgedWelcome
	}
	if groupID != nil && !bytes.Equal(st.GroupID, groupID) {
		return nil, fmt.Errorf("%w: welcome for another group", ErrForgedWelcome)
	}
	if st.Tree.Size() > MaxLeaves {
		return nil, fmt.Errorf("%w: welcome for a tree of %d leaves", ErrRoomFull, st.Tree.Size())
	}
	compactState(st)
	return &Group{st: st}, nil
}

func compactState(st *mls.State) {
	compact(&st.Tree)
	st.GroupID = bytes.Clone(st.GroupID)
	st.ConfirmedTranscriptHash = bytes.Clone(st.ConfirmedTranscriptHash)
	st.InterimTranscriptHash = bytes.Clone(st.InterimTranscriptHash)
}
