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
	info, err := describePlaintexts(g.st, props)
	if err != nil {
		return nil, CommitInfo{}, err
	}
	info.FromEpoch, info.Epoch, info.Hash = uint64(g.st.Epoch), uint64(g.st.Epoch)+1, b.Hash()
	// The commit must commit exactly the proposals it comes with (else
	// info would describe what did not happen), each signed by its sender,
	// the commit by the owner: all verified before anything is acted on,
	// so a forged or stray "you are removed" cannot make us drop the group.
	enc, err := encodeProposals(props)
	if err != nil {
		return nil, CommitInfo{}, err
	}
	if err := g.verifyAll(&commit, enc); err != nil {
		return nil, CommitInfo{}, err
	}
	if info.RemovedMe {
		return nil, info, ErrRemoved
	}
	if len(info.Added) > 0 && int(g.st.Tree.Size())+len(info.Added)-blankLeaves(g.st) > MaxLeaves {
		return nil, CommitInfo{}, fmt.Errorf("%w: commit grows tree past %d", ErrRoomFull, MaxLeaves)
	}
	var next *mls.State
	err = safely("apply commit", func() (err error) {
		next, err = applyCommit(g.st, &commit, enc)
		return err
	})
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
// under its kind.
func checkCovered(c *mls.Commit, props []encodedProposal) error {
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
	for _, p := range props {
		if listed[string(p.id)] != proposalKind(p.pt.Content.Proposal) {
			return fmt.Errorf("%w: a proposal the commit does not cover", ErrAuth)
		}
	}
	return nil
}

// verifyAll checks that the commit lists exactly these proposals, then
// its signature and every member's proposal's, each against this epoch's
// group context and its sender's key. The owner's own proposals (its
// Adds and Removes) need no check of their own: each one's SHA-256
// digest, taken over all its bytes, is listed in the commit, whose
// signature by that same key covers the list (RFC 9420 has the committer
// send them inside the commit, signed once). Forming a room, that was one
// Ed25519 verification per member and newcomer in every group.
func (g *Group) verifyAll(commit *mls.MLSPlaintext, props []encodedProposal) error {
	if err := checkCovered(&commit.Content.Commit.Commit, props); err != nil {
		return err
	}
	ctx, err := g.context()
	if err != nil {
		return err
	}
	if !g.verifyWith(ctx, commit) {
		return fmt.Errorf("%w: commit signature", ErrAuth)
	}
	for _, p := range props {
		if p.pt.Sender.Sender == commit.Sender.Sender {
			continue // signed through the commit (above)
		}
		if !verifyEncoded(g.st, ctx, p.pt, p.enc) {
			return fmt.Errorf("%w: proposal signature", ErrAuth)
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

// verifyWith checks pt's signature against an encoded group context (of
// this epoch) and the sender's credential.
func (g *Group) verifyWith(ctx []byte, pt *mls.MLSPlaintext) bool {
	ok := false
	_ = safely("verify", func() error {
		kp, found := g.st.Tree.KeyPackage(mls.LeafIndex(pt.Sender.Sender))
		if !found {
			return nil
		}
		tbs, err := signedContent(ctx, pt)
		if err != nil {
			return err
		}
		ok = g.st.Scheme.Verify(kp.Credential.PublicKey(), tbs, pt.Signature.Data)
		return nil
	})
	return ok
}

// context returns the encoded group context of the current epoch, encoded
// once per epoch (it hashes nothing new: the tree hash is cached too).
func (g *Group) context() ([]byte, error) {
	if g.ctx != nil && g.ctxEpoch == g.st.Epoch {
		return g.ctx, nil
	}
	var ctx []byte
	err := safely("group context", func() (err error) {
		ctx, err = groupContext(g.st)
		return err
	})
	if err != nil {
		return nil, err
	}
	g.ctx, g.ctxEpoch = ctx, g.st.Epoch
	return ctx, nil
}

// groupContext encodes st's GroupContext, what a member's signature in its
// epoch covers first.
func groupContext(st *mls.State) ([]byte, error) {
	return encodeContext(st, st.Extensions)
}

// encodeContext encodes st's GroupContext with the given extensions.
func encodeContext(st *mls.State, ext mls.ExtensionList) ([]byte, error) {
	return syntax.Marshal(mls.GroupContext{
		GroupID:                 st.GroupID,
		Epoch:                   st.Epoch,
		TreeHash:                st.Tree.RootHash(),
		ConfirmedTranscriptHash: st.ConfirmedTranscriptHash,
		Extensions:              ext,
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
