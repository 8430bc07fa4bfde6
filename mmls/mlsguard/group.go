package mlsguard

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"sync"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

// Member describes one occupied leaf of a group's tree.
type Member struct {
	Leaf      uint32
	PublicKey []byte
	Nick      string
}

// Fingerprint returns the member's key fingerprint.
func (m Member) Fingerprint() Fingerprint { return FingerprintOf(m.PublicKey) }

// Group is one MLS group: our own send group (we are leaf 0, the owner) or
// a receive group (we joined from the owner's Welcome).
type Group struct {
	mu    sync.Mutex
	st    *mls.State
	owner bool
	// pending proposals the owner has queued, in their wire form, so the
	// commit bundle can carry them to members.
	pending [][]byte
}

// CommitBundle is what an owner sends to members for one commit: the
// proposals it references, then the commit itself (MLSPlaintext encodings).
type CommitBundle struct {
	Proposals [][]byte
	Commit    []byte
}

// Hash identifies a commit for fork detection.
func (b CommitBundle) Hash() [32]byte { return sha256.Sum256(b.Commit) }

// CommitInfo describes what a commit changed.
type CommitInfo struct {
	FromEpoch uint64
	Epoch     uint64
	Added     []Member
	Removed   []Member
	Updated   []Member
	RemovedMe bool
	Hash      [32]byte
}

// CreateGroup creates a send group with id at epoch 0, owned by id's
// identity at leaf 0. leafSecret is fresh randomness.
func CreateGroup(id *Identity, groupID, leafSecret []byte) (*Group, error) {
	if len(groupID) == 0 || len(groupID) > 64 {
		return nil, fmt.Errorf("%w: group id length", ErrMalformed)
	}
	kp, err := id.NewKeyPackage(leafSecret)
	if err != nil {
		return nil, err
	}
	var st *mls.State
	err = safely("create group", func() error {
		var err error
		st, err = mls.NewEmptyState(bytes.Clone(groupID), leafSecret, id.priv, kp.kp)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: create group: %w", err)
	}
	return &Group{st: st, owner: true}, nil
}

// GroupID returns the group id.
func (g *Group) GroupID() []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Clone(g.st.GroupID)
}

// Epoch returns the current epoch.
func (g *Group) Epoch() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return uint64(g.st.Epoch)
}

// IsOwner reports whether we own (sit at leaf 0 of) this group.
func (g *Group) IsOwner() bool { return g.owner }

// Index returns our own leaf index.
func (g *Group) Index() uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return uint32(g.st.Index)
}

// LeafCount returns the tree's size in leaves, blank leaves included.
func (g *Group) LeafCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return int(g.st.Tree.Size())
}

// Members returns the occupied leaves, owner first.
func (g *Group) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return members(g.st)
}

func members(st *mls.State) []Member {
	var out []Member
	for i := uint32(0); i < uint32(st.Tree.Size()); i++ {
		if m, ok := memberAt(st, i); ok {
			out = append(out, m)
		}
	}
	return out
}

func memberAt(st *mls.State, leaf uint32) (Member, bool) {
	if leaf >= uint32(st.Tree.Size()) {
		return Member{}, false
	}
	kp, ok := st.Tree.KeyPackage(mls.LeafIndex(leaf))
	if !ok || kp.Credential.Basic == nil {
		return Member{}, false
	}
	return Member{
		Leaf:      leaf,
		PublicKey: bytes.Clone(kp.Credential.Basic.PublicKey.Data),
		Nick:      string(kp.Credential.Basic.Identity),
	}, true
}

// Owner returns leaf 0.
func (g *Group) Owner() (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return memberAt(g.st, 0)
}

// Export returns an MLS exporter value for this epoch.
func (g *Group) Export(label string, ctx []byte, n int) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []byte
	err := safely("export", func() error {
		out = g.st.Keys.Export(label, ctx, n)
		return nil
	})
	return out, err
}

// ---- owner operations ----

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
	adds := 1
	for _, raw := range g.pending {
		var pt mls.MLSPlaintext
		if decodeStrict(raw, &pt) == nil && pt.Content.Proposal != nil && pt.Content.Proposal.Add != nil {
			adds++
		}
	}
	if blank := blankLeaves(g.st); int(g.st.Tree.Size())+max(0, adds-blank) > MaxLeaves {
		return fmt.Errorf("%w: %d leaves", ErrRoomFull, MaxLeaves)
	}
	return g.queueOwn(func() (*mls.MLSPlaintext, error) { return g.st.Add(kp.kp) })
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
	g.st, g.pending = next, nil
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
	var info CommitInfo
	for _, raw := range raws {
		var pt mls.MLSPlaintext
		if err := decodeStrict(raw, &pt); err != nil {
			return info, err
		}
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
	var out []byte
	err := safely("protect", func() error {
		ct, err := g.st.Protect(data)
		if err != nil {
			return err
		}
		if r := g.st.Keys.ApplicationRatchets[g.st.Index]; r != nil && r.NextGeneration > 0 {
			r.Erase(r.NextGeneration - 1)
		}
		out, err = syntax.Marshal(ct)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: protect: %w", err)
	}
	return out, nil
}

// ---- member operations ----

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
	// Verify the commit's signature before reporting a removal, so a forged
	// "you are removed" cannot make us drop the group.
	if !g.verifySignature(&commit) {
		return nil, CommitInfo{}, fmt.Errorf("%w: commit signature", ErrAuth)
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
	return &Group{st: next}, info, nil
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
// pieces.
func toBeSigned(st *mls.State, pt *mls.MLSPlaintext) ([]byte, error) {
	s := syntax.NewWriteStream()
	err := s.Write(mls.GroupContext{
		GroupID:                 st.GroupID,
		Epoch:                   st.Epoch,
		TreeHash:                st.Tree.RootHash(),
		ConfirmedTranscriptHash: st.ConfirmedTranscriptHash,
		Extensions:              st.Extensions,
	})
	if err == nil {
		err = s.Write(struct {
			GroupID           []byte `tls:"head=1"`
			Epoch             mls.Epoch
			Sender            mls.Sender
			AuthenticatedData []byte `tls:"head=4"`
			Content           mls.MLSPlaintextContent
		}{pt.GroupID, pt.Epoch, pt.Sender, pt.AuthenticatedData, pt.Content})
	}
	if err != nil {
		return nil, err
	}
	return s.Data(), nil
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
	var out []byte
	err = safely("propose update", func() error {
		pt, err := g.st.Update(secret, nil, kp.kp)
		if err != nil {
			return err
		}
		out, err = syntax.Marshal(pt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("mlsguard: propose update: %w", err)
	}
	return out, nil
}

// Header is what can be read from an application message without keys.
type Header struct {
	GroupID []byte
	Epoch   uint64
}

// PeekApplication decodes an application message's public header.
func PeekApplication(raw []byte) (Header, error) {
	var ct mls.MLSCiphertext
	if err := decodeStrict(raw, &ct); err != nil {
		return Header{}, err
	}
	return Header{GroupID: bytes.Clone(ct.GroupID), Epoch: uint64(ct.Epoch)}, nil
}

// Unprotect authenticates and decrypts an application message from the
// owner (leaf 0). It never burns a key for a message that does not
// authenticate: the ratchet is advanced on a copy that replaces the real one
// only after the AEAD and the signature both verify. Generations may arrive
// in any order within MaxSkip of the newest one.
func (g *Group) Unprotect(raw []byte) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ct mls.MLSCiphertext
	if err := decodeStrict(raw, &ct); err != nil {
		return nil, err
	}
	var out []byte
	err := safely("unprotect", func() error {
		var err error
		out, err = g.unprotect(&ct)
		return err
	})
	return out, err
}

func (g *Group) unprotect(ct *mls.MLSCiphertext) ([]byte, error) {
	st := g.st
	if !bytes.Equal(ct.GroupID, st.GroupID) {
		return nil, ErrWrongGroup
	}
	if ct.Epoch != st.Epoch {
		return nil, fmt.Errorf("%w: have %d, got %d", ErrWrongEpoch, st.Epoch, ct.Epoch)
	}
	if ct.ContentType != mls.ContentTypeApplication {
		return nil, fmt.Errorf("%w: content type %d", ErrMalformed, ct.ContentType)
	}
	nonceSize := st.CipherSuite.Constants().NonceSize
	if len(ct.SenderDataNonce) != nonceSize {
		return nil, fmt.Errorf("%w: sender data nonce length %d", ErrMalformed, len(ct.SenderDataNonce))
	}

	// Sender data: who sent it, which generation.
	sdAAD, err := syntax.Marshal(struct {
		GroupID         []byte `tls:"head=1"`
		Epoch           mls.Epoch
		ContentType     mls.ContentType
		SenderDataNonce []byte `tls:"head=1"`
	}{ct.GroupID, ct.Epoch, ct.ContentType, ct.SenderDataNonce})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	sdAead, err := st.CipherSuite.NewAEAD(st.Keys.SenderDataKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLibrary, err)
	}
	sd, err := sdAead.Open(nil, ct.SenderDataNonce, ct.EncryptedSenderData, sdAAD)
	if err != nil || len(sd) != 12 {
		return nil, fmt.Errorf("%w: sender data", ErrAuth)
	}
	sender := binary.BigEndian.Uint32(sd[0:4])
	generation := binary.BigEndian.Uint32(sd[4:8])
	var guard [4]byte
	copy(guard[:], sd[8:12])
	if sender != 0 {
		return nil, fmt.Errorf("%w: application message from leaf %d", ErrNotOwner, sender)
	}

	// Key for (leaf 0, generation), derived on a copy of the ratchet.
	ratchets := st.Keys.ApplicationRatchets
	if _, ok := ratchets[0]; !ok {
		// Creates leaf 0's ratchet and caches generation 0; burns nothing.
		if _, err := st.Keys.ApplicationKeys.Get(0, 0); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLibrary, err)
		}
	}
	orig := ratchets[0]
	work := *orig
	work.NextSecret = bytes.Clone(orig.NextSecret)
	work.Cache = maps.Clone(orig.Cache)
	for gen, kn := range work.Cache {
		kn.Key, kn.Nonce = bytes.Clone(kn.Key), bytes.Clone(kn.Nonce)
		work.Cache[gen] = kn
	}
	kn, cached := work.Cache[generation]
	switch {
	case cached:
	case generation < work.NextGeneration:
		return nil, fmt.Errorf("%w: generation %d", ErrReplay, generation)
	case generation-work.NextGeneration > MaxSkip:
		return nil, fmt.Errorf("%w: generation %d, next %d", ErrTooFarAhead, generation, work.NextGeneration)
	default:
		if kn, err = work.Get(generation); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLibrary, err)
		}
	}
	nonce := bytes.Clone(kn.Nonce)
	for i := range guard {
		nonce[i] ^= guard[i]
	}
	aad, err := syntax.Marshal(struct {
		GroupID             []byte `tls:"head=1"`
		Epoch               mls.Epoch
		ContentType         mls.ContentType
		AuthenticatedData   []byte `tls:"head=4"`
		SenderDataNonce     []byte `tls:"head=1"`
		EncryptedSenderData []byte `tls:"head=1"`
	}{ct.GroupID, ct.Epoch, ct.ContentType, ct.AuthenticatedData, ct.SenderDataNonce, ct.EncryptedSenderData})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	aead, err := st.CipherSuite.NewAEAD(kn.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLibrary, err)
	}
	content, err := aead.Open(nil, nonce, ct.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: content", ErrAuth)
	}
	stream := syntax.NewReadStream(content)
	var body mls.MLSPlaintextContent
	var sig mls.Signature
	n1, err := stream.Read(&body)
	if err != nil {
		return nil, fmt.Errorf("%w: content: %w", ErrMalformed, err)
	}
	n2, err := stream.Read(&sig)
	if err != nil || n1+n2 != len(content) {
		return nil, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	if body.Type() != mls.ContentTypeApplication || body.Application == nil {
		return nil, fmt.Errorf("%w: not application data", ErrMalformed)
	}
	pt := &mls.MLSPlaintext{
		GroupID:           st.GroupID,
		Epoch:             st.Epoch,
		Sender:            mls.Sender{Type: mls.SenderTypeMember, Sender: 0},
		AuthenticatedData: ct.AuthenticatedData,
		Content:           body,
		Signature:         sig,
	}
	if !g.verifySignature(pt) {
		return nil, fmt.Errorf("%w: message signature", ErrAuth)
	}
	// Authenticated: commit the ratchet copy, then forget this key.
	work.Erase(generation)
	ratchets[0] = &work
	for gen, old := range orig.Cache {
		clear(old.Key)
		clear(old.Nonce)
		delete(orig.Cache, gen)
	}
	clear(orig.NextSecret)
	return bytes.Clone(body.Application.Data), nil
}
