package mlsguard

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"

	mls "github.com/cisco/go-mls"
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
	// updating: the leaves with an Update in pending (one per member per
	// epoch; the rest are refused before any work).
	updating map[uint32]bool
	// adds counts the Adds in pending (counting them by decoding pending
	// made queueing N Adds quadratic).
	adds int
	// ctx is the encoded group context of epoch ctxEpoch, what every
	// signature in that epoch covers first.
	ctx      []byte
	ctxEpoch mls.Epoch
	// ix indexes the members of st (built again when st changes).
	ix memberIndex
}

// memberIndex is the members of one state, in leaf order and by
// fingerprint: membership is asked for every frame, and listing the tree
// (a key copied and hashed per leaf) each time cost more than a twentieth
// of a delivery in a room of 20. A state's members change only with its
// epoch (a commit makes a new state), so the state and its epoch key it.
type memberIndex struct {
	st    *mls.State
	epoch mls.Epoch
	list  []Member
	byFP  map[Fingerprint]int
}

// index returns the members of g's current state.
func (g *Group) index() *memberIndex {
	ix := &g.ix
	if ix.st == g.st && ix.epoch == g.st.Epoch && ix.byFP != nil {
		return ix
	}
	list := members(g.st)
	byFP := make(map[Fingerprint]int, len(list))
	for i, m := range list {
		byFP[m.Fingerprint()] = i
	}
	*ix = memberIndex{st: g.st, epoch: g.st.Epoch, list: list, byFP: byFP}
	return ix
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

// Members returns the occupied leaves, owner first (their keys are
// shared: read them, never change them).
func (g *Group) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.index().list)
}

// Member finds the member whose key has fingerprint fp (its key is
// shared, as Members' are).
func (g *Group) Member(fp Fingerprint) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ix := g.index()
	i, ok := ix.byFP[fp]
	if !ok {
		return Member{}, false
	}
	return ix.list[i], true
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
