package mlsguard

import (
	"bytes"
	"crypto/sha256"
	"fmt"

	mls "github.com/cisco/go-mls"
)

// Witness is what it takes to check, later, that a commit for one epoch of
// a group was signed by its owner: the group's context in that epoch (what
// the owner's signature covers) and the owner's key. The member who
// applied the commit shows its context with it; the context must name the
// same group and epoch, and the key is the one we know.
type Witness struct {
	Group    []byte
	Epoch    uint64
	Context  []byte // the encoded GroupContext of Epoch
	OwnerKey []byte // leaf 0's Ed25519 key
}

// Witness returns the group's witness for its current epoch.
func (g *Group) Witness() (Witness, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	owner, ok := memberAt(g.st, 0)
	if !ok {
		return Witness{}, fmt.Errorf("%w: no owner at leaf 0", ErrMalformed)
	}
	var ctx []byte
	err := safely("witness", func() (err error) {
		ctx, err = groupContext(g.st)
		return err
	})
	if err != nil {
		return Witness{}, err
	}
	return Witness{Group: bytes.Clone(g.st.GroupID), Epoch: uint64(g.st.Epoch), Context: ctx, OwnerKey: owner.PublicKey}, nil
}

// CommitHash identifies a commit (its encoded MLSPlaintext), as
// CommitBundle.Hash does.
func CommitHash(raw []byte) [32]byte { return sha256.Sum256(raw) }

// MaxContextSize bounds an encoded GroupContext shown as evidence.
const MaxContextSize = 4096

// VerifyCommit checks that raw is a commit for w's group and epoch, sent
// from leaf 0 and signed by w.OwnerKey over w.Context, a GroupContext of
// that group and epoch. It does not apply it: a commit of another branch
// cannot be applied, only shown to be the owner's.
func VerifyCommit(w Witness, raw []byte) error {
	if len(raw) > MaxMessageSize || len(w.Context) > MaxContextSize {
		return fmt.Errorf("%w: commit of %d bytes, context of %d", ErrMalformed, len(raw), len(w.Context))
	}
	var gc mls.GroupContext
	if err := decodeStrict(w.Context, &gc); err != nil {
		return fmt.Errorf("%w: context: %w", ErrMalformed, err)
	}
	if !bytes.Equal(gc.GroupID, w.Group) || uint64(gc.Epoch) != w.Epoch {
		return fmt.Errorf("%w: a context of group %x epoch %d", ErrWrongGroup, gc.GroupID, gc.Epoch)
	}
	var pt mls.MLSPlaintext
	if err := decodeStrict(raw, &pt); err != nil {
		return err
	}
	switch {
	case !bytes.Equal(pt.GroupID, w.Group):
		return ErrWrongGroup
	case uint64(pt.Epoch) != w.Epoch:
		return fmt.Errorf("%w: commit for epoch %d, witness of %d", ErrWrongEpoch, pt.Epoch, w.Epoch)
	case pt.Sender.Type != mls.SenderTypeMember || pt.Sender.Sender != 0:
		return fmt.Errorf("%w: commit from leaf %d", ErrNotOwner, pt.Sender.Sender)
	case pt.Content.Type() != mls.ContentTypeCommit || pt.Content.Commit == nil:
		return fmt.Errorf("%w: not a commit", ErrMalformed)
	}
	ok := false
	err := safely("verify commit", func() error {
		tbs, err := signedContent(w.Context, &pt)
		if err != nil {
			return err
		}
		ok = Suite.Scheme().Verify(&mls.SignaturePublicKey{Data: w.OwnerKey}, tbs, pt.Signature.Data)
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: commit signature", ErrAuth)
	}
	return nil
}
