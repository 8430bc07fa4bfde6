package mlsguard

import (
	"bytes"
	"fmt"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

func (g *Group) requireOwner() error {
	if !g.owner {
		return fmt.Errorf("%w: only the owner may do this", ErrRole)
	}
	return nil
}

// ProposeAdd queues an Add of kp. It fails with ErrRoomFull when the tree,
// blank leaves included, would reach MaxLeaves.
func (g *Group) ProposeAdd(kp *KeyPackage) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.requireOwner(); err != nil {
		return err
	}
	adds := g.adds + 1
	if blank := blankLeaves(g.st); int(g.st.Tree.Size())+max(0, adds-blank) > MaxLeaves {
		return fmt.Errorf("%w: %d leaves", ErrRoomFull, MaxLeaves)
	}
	if err := g.queueOwn(func() (*mls.MLSPlaintext, error) { return g.st.Add(kp.kp) }); err != nil {
		return err
	}
	g.adds = adds
	return nil
}

func blankLeaves(st *mls.State) int {
	n := 0
	for i := uint32(0); i < uint32(st.Tree.Size()); i++ {
		if _, ok := st.Tree.KeyPackage(mls.LeafIndex(i)); !ok {
			n++
		}
	}
	return n
}

// ProposeRemove queues the removal of the member at leaf.
func (g *Group) ProposeRemove(leaf uint32) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.requireOwner(); err != nil {
		return err
	}
	if leaf == 0 {
		return fmt.Errorf("%w: the owner cannot remove itself", ErrRole)
	}
	if _, ok := memberAt(g.st, leaf); !ok {
		return fmt.Errorf("%w: no member at leaf %d", ErrMalformed, leaf)
	}
	return g.queueOwn(func() (*mls.MLSPlaintext, error) { return g.st.Remove(mls.LeafIndex(leaf)) })
}

func (g *Group) queueOwn(make func() (*mls.MLSPlaintext, error)) error {
	return safely("queue proposal", func() error {
		pt, err := make()
		if err != nil {
			return err
		}
		raw, err := syntax.Marshal(pt)
		if err != nil {
			return err
		}
		if _, err := g.st.Handle(pt); err != nil {
			return err
		}
		g.pending = append(g.pending, raw)
		return nil
	})
}

// PendingProposals reports how many proposals await a commit.
func (g *Group) PendingProposals() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// HandleProposal validates and queues a proposal a member sent to us (the
// owner). Only an Update of the sender's own leaf, carrying the same
// credential key, from the member whose key fingerprint is from, is
// accepted.
func (g *Group) HandleProposal(raw []byte, from Fingerprint) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.requireOwner(); err != nil {
		return err
	}
	var pt mls.MLSPlaintext
	if err := decodeStrict(raw, &pt); err != nil {
		return err
	}
	if err := g.checkPlaintextHeader(&pt); err != nil {
		return err
	}
	sender := pt.Sender.Sender
	if sender == 0 {
		return fmt.Errorf("%w: proposal claims to come from the owner", ErrBadProposal)
	}
	cur, ok := memberAt(g.st, sender)
	if !ok {
		return fmt.Errorf("%w: proposal from blank leaf %d", ErrBadProposal, sender)
	}
	if cur.Fingerprint() != from {
		return fmt.Errorf("%w: proposal for a leaf the sender does not hold", ErrBadProposal)
	}
	if g.updating[sender] {
		return fmt.Errorf("%w: leaf %d, epoch %d", ErrPending, sender, g.st.Epoch)
	}
	p := pt.Content.Proposal
	if pt.Content.Type() != mls.ContentTypeProposal || p == nil || p.Update == nil {
		return fmt.Errorf("%w: only update proposals are accepted", ErrBadProposal)
	}
	kp := p.Update.KeyPackage
	if err := checkKeyPackage(&kp); err != nil {
		return fmt.Errorf("%w: %w", ErrBadProposal, err)
	}
	if !bytes.Equal(kp.Credential.Basic.PublicKey.Data, cur.PublicKey) {
		return fmt.Errorf("%w: update changes the member's identity key", ErrBadProposal)
	}
	err := safely("handle proposal", func() error {
		_, err := g.st.Handle(&pt)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuth, err)
	}
	g.pending = append(g.pending, bytes.Clone(raw))
	if g.updating == nil {
		g.updating = map[uint32]bool{}
	}
	g.updating[sender] = true
	return nil
}

// checkPlaintextHeader checks what must hold before go-mls Handles a
// plaintext: our group, our epoch, a member sender inside the tree.
func (g *Group) checkPlaintextHeader(pt *mls.MLSPlaintext) error {
	if !bytes.Equal(pt.GroupID, g.st.GroupID) {
		return ErrWrongGroup
	}
	if pt.Epoch != g.st.Epoch {
		return fmt.Errorf("%w: have %d, got %d", ErrWrongEpoch, g.st.Epoch, pt.Epoch)
	}
	if pt.Sender.Type != mls.SenderTypeMember {
		return fmt.Errorf("%w: sender type %d", ErrMalformed, pt.Sender.Type)
	}
	if pt.Sender.Sender >= uint32(g.st.Tree.Size()) {
		return fmt.Errorf("%w: sender index %d beyond tree of %d", ErrMalformed, pt.Sender.Sender, g.st.Tree.Size())
	}
	return nil
}

// Commit commits every queued proposal (or, with none, rekeys our own leaf)
// and returns the bundle for members, a Welcome for joiners (nil when none
// joined) and what changed. The group advances only on success.
func (g *Group) Commit(leafSecret []byte) (CommitBundle, []byte, CommitInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.requireOwner(); err != nil {
		return CommitBundle{}, nil, CommitInfo{}, err
	}
	if len(leafSecret) != SecretSize {
		return CommitBundle{}, nil, CommitInfo{}, fmt.Errorf("%w: leaf secret size", ErrMalformed)
	}
	info, err := describeProposals(g.st, g.pending)
	if err != nil {
		return CommitBundle{}, nil, CommitInfo{}, err
	}
	var (
		pt      *mls.MLSPlaintext
		welcome *mls.Welcome
		next    *mls.State
	)
	err = safely("commit", func() error {
		var err error
		pt, welcome, next, err = g.st.Commit(leafSecret)
		return err
	})
	if err != nil {
		return CommitBundle{}, nil, CommitInfo{}, fmt.Errorf("mlsguard: commit: %w", err)
	}
	commitRaw, err := encode(pt)
	if err != nil {
		return CommitBundle{}, nil, CommitInfo{}, err
	}
	var welcomeRaw []byte
	if welcome != nil && len(welcome.Secrets) > 0 {
		if welcomeRaw, err = encode(welcome); err != nil {
			return CommitBundle{}, nil, CommitInfo{}, err
		}
	}
	bundle := CommitBundle{Proposals: g.pending, Commit: commitRaw}
	info.FromEpoch, info.Epoch, info.Hash = uint64(g.st.Epoch), uint64(next.Epoch), bundle.Hash()
	info.Added = addedMembers(next, info.Added)
	g.st, g.pending, g.updating, g.adds = next, nil, nil, 0
	return bundle, welcomeRaw, info, nil
}

// addedMembers fills in the leaves the added members took in next.
func addedMembers(next *mls.State, added []Member) []Member {
	for i := range added {
		for _, m := range members(next) {
			if bytes.Equal(m.PublicKey, added[i].PublicKey) {
				added[i].Leaf = m.Leaf
			}
		}
	}
	return added
}

// describeProposals lists what the queued proposals do, against st.
func describeProposals(st *mls.State, raws [][]byte) (CommitInfo, error) {
	pts := make([]mls.MLSPlaintext, len(raws))
	for i, raw := range raws {
		if err := decodeStrict(raw, &pts[i]); err != nil {
			return CommitInfo{}, err
		}
	}
	return describePlaintexts(st, pts)
}

// describePlaintexts lists what decoded proposals do, against st.
func describePlaintexts(st *mls.State, pts []mls.MLSPlaintext) (CommitInfo, error) {
	var info CommitInfo
	for _, pt := range pts {
		p := pt.Content.Proposal
		if p == nil {
			return info, fmt.Errorf("%w: bundle holds a non-proposal", ErrMalformed)
		}
		switch {
		case p.Add != nil:
			kp := p.Add.KeyPackage
			if err := checkKeyPackageShape(&kp); err != nil {
				return info, err
			}
			info.Added = append(info.Added, Member{
				PublicKey: bytes.Clone(kp.Credential.Basic.PublicKey.Data),
				Nick:      string(kp.Credential.Basic.Identity),
			})
		case p.Remove != nil:
			m, ok := memberAt(st, uint32(p.Remove.Removed))
			if !ok {
				return info, fmt.Errorf("%w: remove of blank leaf %d", ErrMalformed, p.Remove.Removed)
			}
			if m.Leaf == 0 {
				return info, fmt.Errorf("%w: remove of the owner", ErrMalformed)
			}
			if m.Leaf == uint32(st.Index) {
				info.RemovedMe = true
			}
			info.Removed = append(info.Removed, m)
		case p.Update != nil:
			kp := p.Update.KeyPackage
			if err := checkKeyPackageShape(&kp); err != nil {
				return info, err
			}
			m, ok := memberAt(st, pt.Sender.Sender)
			if !ok || !bytes.Equal(m.PublicKey, kp.Credential.Basic.PublicKey.Data) {
				return info, fmt.Errorf("%w: update of a leaf by another key", ErrMalformed)
			}
			info.Updated = append(info.Updated, m)
		default:
			return info, fmt.Errorf("%w: unknown proposal type", ErrMalformed)
		}
	}
	return info, nil
}

// Protect encrypts data as an application message (owner only) and erases
// the key it used.
func (g *Group) Protect(data []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.requireOwner(); err != nil {
		return nil, err
	}
	if len(data) > MaxMessageSize-1024 {
		return nil, fmt.Errorf("%w: message of %d bytes", ErrMalformed, len(data))
	}
	var ct *mls.MLSCiphertext
	err := safely("protect", func() (err error) {
		if ct, err = g.st.Protect(data); err != nil {
			return err
		}
		if r := g.st.Keys.ApplicationRatchets[g.st.Index]; r != nil && r.NextGeneration > 0 {
			r.Erase(r.NextGeneration - 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: protect: %w", err)
	}
	return encode(ct)
}
