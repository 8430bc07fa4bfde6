package mlsguard

import (
	"bytes"
	"fmt"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// ApplyCommit applies an owner's commit bundle and returns the group at the
// next epoch; g itself is left unchanged, so it still decrypts late
// messages from its epoch. When the commit removes us, it returns a nil
// group, the info (RemovedMe set) and ErrRemoved.
func (g *Group) ApplyCommit(b CommitBundle) (*Group, CommitInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.owner {
		return nil, CommitInfo{}, fmt.Errorf("%w: the owner does not apply its own commits", ErrRole)
	}
	if len(b.Proposals) > 2*MaxLeaves {
		return nil, CommitInfo{}, fmt.Errorf("%w: %d proposals", ErrMalformed, len(b.Proposals))
	}
	var commit mls.MLSPlaintext
	if err := decodeStrict(b.Commit, &commit); err != nil {
		return nil, CommitInfo{}, err
	}
	if err := g.checkPlaintextHeader(&commit); err != nil {
		return nil, CommitInfo{}, err
	}
	if commit.Sender.Sender != 0 {
		return nil, CommitInfo{}, fmt.Errorf("%w: commit from leaf %d", ErrNotOwner, commit.Sender.Sender)
	}
	if commit.Content.Type() != mls.ContentTypeCommit || commit.Content.Commit == nil {
		return nil, CommitInfo{}, fmt.Errorf("%w: not a commit", ErrMalformed)
	}
	props := make([]mls.MLSPlaintext, len(b.Proposals))
	for i, raw := range b.Proposals {
		if err := decodeStrict(raw, &props[i]); err != nil {
			return nil, CommitInfo{}, err
		}
		if err := g.checkPlaintextHeader(&props[i]); err != nil {
			return nil, CommitInfo{}, err
		}
		p := props[i].Content.Proposal
		if props[i].Content.Type() != mls.ContentTypeProposal || p == nil {
			return nil, CommitInfo{}, fmt.Errorf("%w: bundle holds a non-proposal", ErrMalformed)
		}
		// Only the owner adds and removes; a member may only update itself.
		if (p.Add != nil || p.Remove != nil) && props[i].Sender.Sender != 0 {
			return nil, CommitInfo{}, fmt.Errorf("%w: add or remove from leaf %d", ErrNotOwner, props[i].Sender.Sender)
		}
	}
	info, err := describeProposals(g.st, b.Proposals)
	if err != nil {
		return nil, CommitInfo{}, err
	}
	info.FromEpoch, info.Epoch, info.Hash = uint64(g.st.Epoch), uint64(g.st.Epoch)+1, b.Hash()
	// The commit must commit exactly the proposals it comes with (else
	// info would describe what did not happen). Before reporting a
	// removal, verify the commit and every proposal: a forged or stray
	// "you are removed" cannot make us drop the group. Any other commit
	// is verified, signature by signature, by go-mls as it applies it,
	// and nothing of info counts unless that succeeds: verifying twice
	// cost a fifth of an UPDATE round.
	if info.RemovedMe && !g.verifySignature(&commit) {
		return nil, CommitInfo{}, fmt.Errorf("%w: commit signature", ErrAuth)
	}
	if err := g.checkCovered(&commit.Content.Commit.Commit, props, info.RemovedMe); err != nil {
		return nil, CommitInfo{}, err
	}
	if info.RemovedMe {
		return nil, info, ErrRemoved
	}
	if len(info.Added) > 0 && int(g.st.Tree.Size())+len(info.Added)-blankLeaves(g.st) > MaxLeaves {
		return nil, CommitInfo{}, fmt.Errorf("%w: commit grows tree past %d", ErrRoomFull, MaxLeaves)
	}
	keep := len(g.st.PendingProposals)
	var next *mls.State
	err = safely("apply commit", func() error {
		for i := range props {
			if _, err := g.st.Handle(&props[i]); err != nil {
				return err
			}
		}
		var err error
		next, err = g.st.Handle(&commit)
		return err
	})
	// Proposals are bound to this epoch: whatever happened, drop the ones
	// queued for this commit from the old state.
	g.st.PendingProposals = g.st.PendingProposals[:keep]
	if err != nil {
		return nil, CommitInfo{}, fmt.Errorf("%w: apply commit: %w", ErrAuth, err)
	}
	info.Added = addedMembers(next, info.Added)
	compactState(next)
	eraseUpdateSecrets(g.st, next)
	return &Group{st: next}, info, nil
}

// eraseUpdateSecrets forgets the leaf secrets of our Update proposals once
// a commit is applied: it either covered one (its secret is now our leaf's,
// copied) or left them behind (a proposal is bound to its epoch, so it can
// never be committed). go-mls keeps them forever otherwise (old and next
// share the map).
func eraseUpdateSecrets(states ...*mls.State) {
	for _, st := range states {
		for _, u := range st.PendingUpdates {
			clear(u.Secret)
		}
		clear(st.PendingUpdates)
	}
}

// UpdateSecrets reports how many Update leaf secrets the group still holds
// (at most one: the proposal of the current epoch, until a commit).
func (g *Group) UpdateSecrets() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.st.PendingUpdates)
}

// checkCovered checks that the commit lists exactly these proposals, each
// under its kind, and (verify) that each is signed by its sender.
func (g *Group) checkCovered(c *mls.Commit, props []mls.MLSPlaintext, verify bool) error {
	listed := map[string]string{}
	for kind, ids := range map[string][]mls.ProposalID{"add": c.Adds, "remove": c.Removes, "update": c.Updates} {
		for _, id := range ids {
			if _, dup := listed[string(id.Hash)]; dup {
				return fmt.Errorf("%w: a proposal committed twice", ErrAuth)
			}
			listed[string(id.Hash)] = kind
		}
	}
	if len(listed) != len(props) {
		return fmt.Errorf("%w: the commit lists %d proposals, the bundle holds %d", ErrAuth, len(listed), len(props))
	}
	for i := range props {
		if verify && !g.verifySignature(&props[i]) {
			return fmt.Errorf("%w: proposal signature", ErrAuth)
		}
		raw, err := encode(&props[i])
		if err != nil {
			return err
		}
		if listed[string(Suite.Digest(raw))] != proposalKind(props[i].Content.Proposal) {
			return fmt.Errorf("%w: a proposal the commit does not cover", ErrAuth)
		}
	}
	return nil
}

func proposalKind(p *mls.Proposal) string {
	switch {
	case p.Add != nil:
		return "add"
	case p.Remove != nil:
		return "remove"
	case p.Update != nil:
		return "update"
	}
	return ""
}

// verifySignature checks a plaintext's signature against the group context
// of the current epoch and the sender's credential.
func (g *Group) verifySignature(pt *mls.MLSPlaintext) bool {
	ok := false
	_ = safely("verify", func() error {
		kp, found := g.st.Tree.KeyPackage(mls.LeafIndex(pt.Sender.Sender))
		if !found {
			return nil
		}
		tbs, err := toBeSigned(g.st, pt)
		if err != nil {
			return err
		}
		ok = g.st.Scheme.Verify(kp.Credential.PublicKey(), tbs, pt.Signature.Data)
		return nil
	})
	return ok
}

// toBeSigned rebuilds go-mls's MLSPlaintext signature input from exported
// pieces: the group context of st, then the plaintext's signed content.
func toBeSigned(st *mls.State, pt *mls.MLSPlaintext) ([]byte, error) {
	ctx, err := groupContext(st)
	if err != nil {
		return nil, err
	}
	return signedContent(ctx, pt)
}

// groupContext encodes st's GroupContext, what a member's signature in its
// epoch covers first.
func groupContext(st *mls.State) ([]byte, error) {
	return syntax.Marshal(mls.GroupContext{
		GroupID:                 st.GroupID,
		Epoch:                   st.Epoch,
		TreeHash:                st.Tree.RootHash(),
		ConfirmedTranscriptHash: st.ConfirmedTranscriptHash,
		Extensions:              st.Extensions,
	})
}

// signedContent appends pt's signed fields to an encoded group context.
func signedContent(ctx []byte, pt *mls.MLSPlaintext) ([]byte, error) {
	s := syntax.NewWriteStream()
	err := s.Write(struct {
		GroupID           []byte `tls:"head=1"`
		Epoch             mls.Epoch
		Sender            mls.Sender
		AuthenticatedData []byte `tls:"head=4"`
		Content           mls.MLSPlaintextContent
	}{pt.GroupID, pt.Epoch, pt.Sender, pt.AuthenticatedData, pt.Content})
	if err != nil {
		return nil, err
	}
	return append(bytes.Clone(ctx), s.Data()...), nil
}

// ProposeUpdate makes an Update proposal for our own leaf, to be sent to
// the owner. go-mls caches secret until the owner's commit arrives.
func (g *Group) ProposeUpdate(id *Identity, secret []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.owner {
		return nil, fmt.Errorf("%w: the owner updates by committing", ErrRole)
	}
	kp, err := id.NewKeyPackage(secret)
	if err != nil {
		return nil, err
	}
	var pt *mls.MLSPlaintext
	err = safely("propose update", func() (err error) {
		pt, err = g.st.Update(secret, nil, kp.kp)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: propose update: %w", err)
	}
	return encode(pt)
}
