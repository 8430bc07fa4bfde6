package mlsguard

import (
	"bytes"
	"fmt"

	"github.com/cisco/go-hpke"
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
	var mine *mls.EncryptedGroupSecrets
	for i := range w.Secrets {
		// The first that names our package: the one go-mls opens too.
		if bytes.Equal(w.Secrets[i].KeyPackageHash, j.KeyPackage.Hash()) {
			mine = &w.Secrets[i]
			break
		}
	}
	if mine == nil {
		return nil, ErrNoKeyPackage
	}
	// Open the GroupInfo ourselves and judge it before anything is hashed,
	// verified or derived: a Welcome for too big a tree, or from someone
	// other than the owner, costs us an HPKE open, one AEAD open and a
	// walk of its encoding (groupinfo.go). joinState then builds the
	// group from the very bytes walked (joinstate.go).
	gi, secrets, err := openGroupInfo(j, w, mine)
	if err != nil {
		return nil, fmt.Errorf("%w: join: %w", ErrAuth, err)
	}
	if gi.nodes > 2*MaxLeaves-1 { // a tree of n leaves has 2n-1 nodes
		return nil, fmt.Errorf("%w: welcome for a tree of more than %d leaves", ErrRoomFull, MaxLeaves)
	}
	if gi.signer != 0 {
		return nil, fmt.Errorf("%w: signed by leaf %d", ErrForgedWelcome, gi.signer)
	}
	if gi.leaf0 == nil || FingerprintOf(gi.leaf0) != owner {
		return nil, ErrForgedWelcome
	}
	if groupID != nil && !bytes.Equal(gi.groupID, groupID) {
		return nil, fmt.Errorf("%w: welcome for another group", ErrForgedWelcome)
	}
	var st *mls.State
	err = safely("join", func() error {
		var err error
		st, err = joinState(j, secrets, &gi)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: join: %w", ErrAuth, err)
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

// openGroupInfo decrypts a Welcome's GroupInfo as go-mls's NewJoinedState
// does (HPKE-open our group secrets, derive the GroupInfo key and nonce
// from the epoch secret, AEAD-open) and walks it, without verifying
// anything: the caller judges the shape, then joinState verifies.
func openGroupInfo(j Joiner, w mls.Welcome, mine *mls.EncryptedGroupSecrets) (infoShape, *mls.GroupSecrets, error) {
	var gi infoShape
	var secrets mls.GroupSecrets
	err := safely("open welcome", func() error {
		cc := Suite.Constants()
		hs, err := hpke.AssembleCipherSuite(cc.HPKEKEM, cc.HPKEKDF, cc.HPKEAEAD)
		if err != nil {
			return err
		}
		h := mls.HPKEInstance{BaseSuite: Suite, Suite: hs}
		priv, err := h.Derive(j.InitSecret)
		if err != nil {
			return err
		}
		pt, err := h.Decrypt(priv, []byte{}, mine.EncryptedGroupSecrets)
		if err != nil {
			return fmt.Errorf("group secrets: %w", err)
		}
		if err := decodeStrict(pt, &secrets); err != nil {
			return err
		}
		giSecret := expandLabel(secrets.EpochSecret, "group info", cc.SecretSize)
		aead, err := Suite.NewAEAD(expandLabel(giSecret, "key", cc.KeySize))
		if err != nil {
			return err
		}
		data, err := aead.Open(nil, expandLabel(giSecret, "nonce", cc.NonceSize), w.EncryptedGroupInfo, []byte{})
		if err != nil {
			return fmt.Errorf("group info: %w", err)
		}
		gi, err = shapeOf(data, 2*MaxLeaves-1)
		return err
	})
	return gi, &secrets, err
}

// expandLabel is MLS's HKDF-Expand-Label with an empty context.
func expandLabel(secret []byte, label string, length int) []byte {
	return expandLabelWith(secret, label, nil, length)
}
