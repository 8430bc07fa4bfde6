package mlsguard

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"time"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// This file is go-mls's State.Handle for a commit, rebuilt from exported
// pieces (the tree, the private tree, the key schedule's exported Next).
// go-mls finds each committed proposal by re-encoding and hashing every
// pending one (State.findProposal), so a commit of P proposals costs P²/2
// reflection encodings (at N = 100 that lookup alone was most of an UPDATE
// round); it checks each Update's KeyPackage signature, made by the key
// that signed the proposal over the same bytes; and it re-hashes every
// leaf of the tree at each commit. Here each proposal is encoded and
// hashed once, its signature is checked against bytes already encoded,
// and only the hashes the commit changes are computed again. The steps, their
// order and every input to the key schedule are go-mls's own
// (state.go: Handle, apply, applyProposals, updateEpochSecrets,
// verifyConfirmation); TestApplyCommitMatchesGoMLS applies the same
// commits both ways and compares the states.

// proposalRef is go-mls's toRef: the key of State.PendingUpdates (15 bits
// of the proposal hash, folded as go-mls folds them).
func proposalRef(id []byte) mls.ProposalRef {
	ref := uint64(0)
	for i := uint(0); i < 8; i++ {
		ref |= uint64(id[i]) << i
	}
	return mls.ProposalRef(ref)
}

// encodedProposal is one committed proposal: decoded, its encoding, and its
// proposal ID (the digest of the encoding, what a commit lists).
type encodedProposal struct {
	pt  *mls.MLSPlaintext
	enc []byte
	id  []byte
}

// encodeProposals encodes every proposal once.
func encodeProposals(props []mls.MLSPlaintext) ([]encodedProposal, error) {
	out := make([]encodedProposal, len(props))
	for i := range props {
		enc, err := encode(&props[i])
		if err != nil {
			return nil, err
		}
		out[i] = encodedProposal{pt: &props[i], enc: enc, id: Suite.Digest(enc)}
	}
	return out, nil
}

// signedPart returns what a plaintext's signature covers after the group
// context, cut from its own encoding: MLSPlaintext encodes the signed
// fields first, in the order and with the tags go-mls's toBeSigned uses,
// then the signature.
func signedPart(pt *mls.MLSPlaintext, enc []byte) ([]byte, error) {
	sig, err := encode(&pt.Signature)
	if err != nil {
		return nil, err
	}
	if len(sig) > len(enc) {
		return nil, fmt.Errorf("%w: signature longer than its message", ErrMalformed)
	}
	return enc[:len(enc)-len(sig)], nil
}

// verifyEncoded checks the signature of a plaintext whose encoding is enc,
// against ctx (the encoded group context of st) and the sender's key in
// st's tree.
func verifyEncoded(st *mls.State, ctx []byte, pt *mls.MLSPlaintext, enc []byte) bool {
	part, err := signedPart(pt, enc)
	if err != nil {
		return false
	}
	ok := false
	_ = safely("verify", func() error {
		kp, found := st.Tree.KeyPackage(mls.LeafIndex(pt.Sender.Sender))
		if !found {
			return nil
		}
		tbs := make([]byte, 0, len(ctx)+len(part))
		tbs = append(append(tbs, ctx...), part...)
		ok = st.Scheme.Verify(kp.Credential.PublicKey(), tbs, pt.Signature.Data)
		return nil
	})
	return ok
}

// applyCommit applies a verified commit and the proposals it lists (the
// caller has checked that the commit covers exactly props, each signed by
// its sender, and the commit signed by the owner) to a copy of st, and
// returns the state of the next epoch. st is left unchanged.
func applyCommit(st *mls.State, commit *mls.MLSPlaintext, props []encodedProposal) (*mls.State, error) {
	byID := make(map[string]*encodedProposal, len(props))
	for i := range props {
		byID[string(props[i].id)] = &props[i]
	}
	c := &commit.Content.Commit.Commit
	// go-mls requires a path only of its own commits; a commit that
	// updates or removes without one would leave the next epoch derivable
	// from the last (a removed member could follow it).
	if c.PathRequired() && c.Path == nil {
		return nil, fmt.Errorf("commit without the path it requires")
	}
	next := st.Clone()
	// The leaves whose hashes (and their ancestors') this commit changes.
	touched := []mls.LeafIndex{mls.LeafIndex(commit.Sender.Sender)}
	fresh := map[mls.LeafIndex][]byte{} // updated leaves' hashes, from their bytes
	// go-mls applies updates, then removes, then adds, each list in order.
	for _, ids := range [][]mls.ProposalID{c.Updates, c.Removes, c.Adds} {
		for _, id := range ids {
			p := byID[string(id.Hash)]
			if p == nil {
				return nil, fmt.Errorf("commit of unknown proposal %x", id.Hash)
			}
			leaf, err := applyProposal(next, p)
			if err != nil {
				return nil, err
			}
			touched = append(touched, leaf)
			delete(fresh, leaf) // a removal or an add after an update
			if p.pt.Content.Proposal.Update != nil {
				if h := updatedLeafHash(p, leaf); h != nil {
					fresh[leaf] = h
				}
			}
		}
	}
	// Before the path's context is hashed, as go-mls would have them (it
	// hashes the tree as the proposals left it, stale hashes of removed
	// leaves included: see clearHashes below).
	for leaf, h := range fresh {
		next.Tree.Nodes[2*leaf].Hash = h
	}
	next.PendingProposals = next.PendingProposals[:0]

	sender := mls.LeafIndex(commit.Sender.Sender)
	commitSecret := make([]byte, len(Suite.Digest(nil)))
	if path := c.Path; path != nil {
		// go-mls's context here has the transcript hash of the clone
		// (which Clone leaves empty); match it byte for byte.
		ctx, err := contextNoExtensions(next)
		if err != nil {
			return nil, fmt.Errorf("path context: %w", err)
		}
		if err := next.TreePriv.Decap(sender, next.Tree, ctx, *path); err != nil {
			return nil, err
		}
		commitSecret = next.TreePriv.UpdateSecret
		if err := mergePath(&next.Tree, sender, path); err != nil {
			return nil, err
		}
	}
	// go-mls's Merge rehashes the whole tree (every leaf's KeyPackage
	// encoded again); only what this commit changed needs it (a removed
	// leaf's hash went stale above, as in go-mls, and is recomputed now).
	for _, leaf := range touched {
		clearHashes(&next.Tree, leaf, fresh[leaf] == nil)
	}

	content, err := syntax.Marshal(struct {
		GroupId     []byte `tls:"head=1"`
		Epoch       mls.Epoch
		Sender      mls.Sender
		Commit      mls.Commit
		ContentType mls.ContentType
	}{commit.GroupID, commit.Epoch, commit.Sender, *c, commit.Content.Type()})
	if err != nil {
		return nil, fmt.Errorf("commit content: %w", err)
	}
	next.ConfirmedTranscriptHash = Suite.Digest(append(append([]byte{}, next.InterimTranscriptHash...), content...))

	next.Epoch++
	ctx, err := contextNoExtensions(next)
	if err != nil {
		return nil, fmt.Errorf("epoch context: %w", err)
	}
	next.Keys = next.Keys.Next(next.Tree.Size(), nil, commitSecret, ctx)

	mac := Suite.NewHMAC(next.Keys.ConfirmationKey)
	mac.Write(next.ConfirmedTranscriptHash)
	if !hmac.Equal(mac.Sum(nil), commit.Content.Commit.Confirmation.Data) {
		return nil, fmt.Errorf("confirmation failed to verify")
	}

	w := syntax.NewWriteStream()
	if err := w.WriteAll(commit.Content.Commit.Confirmation, commit.Signature); err != nil {
		return nil, fmt.Errorf("commit auth data: %w", err)
	}
	next.InterimTranscriptHash = Suite.Digest(append(append([]byte{}, next.ConfirmedTranscriptHash...), w.Data()...))
	return next, nil
}

// contextNoExtensions is the group context go-mls uses for the path and
// the key schedule of a commit it applies: without the extensions (unlike
// the one signatures cover).
func contextNoExtensions(st *mls.State) ([]byte, error) {
	return encodeContext(st, mls.ExtensionList{})
}

// applyProposal is go-mls's applyProposals for one proposal; it returns
// the leaf it changed.
func applyProposal(st *mls.State, p *encodedProposal) (mls.LeafIndex, error) {
	prop := p.pt.Content.Proposal
	switch {
	case prop.Add != nil:
		kp := prop.Add.KeyPackage
		if kp.CipherSuite != st.CipherSuite || !kp.Verify() {
			return 0, fmt.Errorf("invalid key package in add")
		}
		leaf := st.Tree.AddLeaf(kp)
		st.NewCredentials[leaf] = true
		return leaf, nil
	case prop.Update != nil:
		if p.pt.Sender.Type != mls.SenderTypeMember {
			return 0, fmt.Errorf("update from non-member")
		}
		target := mls.LeafIndex(p.pt.Sender.Sender)
		kp := prop.Update.KeyPackage
		cur, ok := st.Tree.KeyPackage(target)
		if !ok {
			return 0, fmt.Errorf("update of an empty leaf")
		}
		// The proposal's signature, by the leaf's current key, covers
		// every byte of this KeyPackage, and its credential must be that
		// same key: the KeyPackage's own signature (by the same key) adds
		// nothing, and go-mls checking it was a fifth of an UPDATE round.
		// Everything else go-mls's Verify checks is checked.
		if kp.CipherSuite != st.CipherSuite || !sameKey(&kp.Credential, &cur.Credential) || !keyPackageCurrent(&kp) {
			return 0, fmt.Errorf("invalid key package in update")
		}
		if !kp.Credential.Equals(cur.Credential) {
			st.NewCredentials[target] = true
		}
		st.Tree.UpdateLeaf(target, kp)
		if target == st.Index {
			secrets, ok := st.PendingUpdates[proposalRef(p.id)]
			if !ok {
				return 0, fmt.Errorf("self-update with no cached secret")
			}
			st.TreePriv.SetLeafSecret(secrets.Secret)
			if secrets.IdentityPriv != nil {
				st.IdentityPriv = *secrets.IdentityPriv
			}
		}
		return target, nil
	case prop.Remove != nil:
		leaf := mls.LeafIndex(prop.Remove.Removed)
		st.Tree.BlankPath(leaf)
		return leaf, nil
	}
	return 0, fmt.Errorf("invalid proposal type")
}

// updatedLeafHash is the tree hash of a leaf an Update proposal sets (go-mls
// encodes the KeyPackage again by reflection for it, a sixth of an UPDATE
// round): its index, the optional byte, and the KeyPackage's encoding, cut
// from the proposal's own (canonical) encoding, which holds the group id,
// epoch, sender, authenticated data, content type and proposal type
// before it and the signature after. nil leaves it to go-mls.
func updatedLeafHash(p *encodedProposal, leaf mls.LeafIndex) []byte {
	pt := p.pt
	head := 1 + len(pt.GroupID) + 8 + 1 + 4 + 4 + len(pt.AuthenticatedData) + 1 + 1
	tail := 2 + len(pt.Signature.Data)
	if head+tail >= len(p.enc) {
		return nil
	}
	in := binary.BigEndian.AppendUint32(make([]byte, 0, 5+len(p.enc)-head-tail), uint32(leaf))
	return Suite.Digest(append(append(in, 1), p.enc[head:len(p.enc)-tail]...))
}

// mergePath is go-mls's TreeKEMPublicKey.Merge without its rehash of the
// whole tree: the committer's new leaf and the public keys of its direct
// path.
func mergePath(pub *mls.TreeKEMPublicKey, from mls.LeafIndex, path *mls.DirectPath) error {
	n := uint64(pub.Size())
	leaf := 2 * uint64(from)
	if leaf >= uint64(len(pub.Nodes)) {
		return fmt.Errorf("committer %d beyond the tree", from)
	}
	dp := dirpath(leaf, n)
	if len(dp) != len(path.Steps) {
		return fmt.Errorf("malformed direct path: %d steps for %d nodes", len(path.Steps), len(dp))
	}
	kp := path.LeafKeyPackage
	pub.Nodes[leaf] = mls.OptionalNode{Node: &mls.Node{Leaf: &kp}}
	for i, x := range dp {
		pub.Nodes[x] = mls.OptionalNode{Node: &mls.Node{Parent: &mls.ParentNode{
			PublicKey:      path.Steps[i].PublicKey,
			UnmergedLeaves: []mls.LeafIndex{},
			ParentHash:     []byte{},
		}}}
	}
	return nil
}

// clearHashes forgets the cached hashes of a leaf's ancestors (and, with
// self, its own), so the next RootHash computes them (and only them) again.
func clearHashes(pub *mls.TreeKEMPublicKey, leaf mls.LeafIndex, self bool) {
	x := 2 * uint64(leaf)
	if x >= uint64(len(pub.Nodes)) {
		return
	}
	if self {
		pub.Nodes[x].Hash = nil
	}
	for _, p := range dirpath(x, uint64(pub.Size())) {
		pub.Nodes[p].Hash = nil
	}
}

// sameKey reports whether two credentials carry the same signature key.
func sameKey(a, b *mls.Credential) bool {
	pa, pb := a.PublicKey(), b.PublicKey()
	return pa != nil && pb != nil && len(pa.Data) > 0 && bytes.Equal(pa.Data, pb.Data)
}

// keyPackageCurrent is go-mls's KeyPackage.Verify without the signature:
// the required extensions, the lifetime, and the credential's scheme.
func keyPackageCurrent(kp *mls.KeyPackage) bool {
	var sv mls.SupportedVersionsExtension
	var sc mls.SupportedCipherSuitesExtension
	var life mls.LifetimeExtension
	foundSV, _ := kp.Extensions.Find(&sv)
	foundSC, _ := kp.Extensions.Find(&sc)
	foundLife, err := kp.Extensions.Find(&life)
	if !foundSV || !foundSC || !foundLife || err != nil {
		return false
	}
	now := time.Now()
	if now.After(time.Unix(int64(life.NotAfter), 0)) || now.Before(time.Unix(int64(life.NotBefore), 0)) {
		return false
	}
	return kp.Credential.Scheme() == kp.CipherSuite.Scheme()
}
