package mlsguard

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"fmt"

	mls "github.com/cisco/go-mls"
)

// joinState is go-mls's NewJoinedState (with Welcome.Decrypt) rebuilt from
// exported pieces, on a GroupInfo Join has already opened and walked.
// go-mls decodes the GroupInfo with go-tls-syntax, whose Unmarshal copies
// its whole input into a new buffer at every read, and go-mls reads each
// tree node through a stream over the rest of the tree: every node copies
// everything after it, O(leaves × tree size) bytes, most of a join of a
// big room and a quarter of forming it in garbage. Here each node is
// decoded from its own bytes (the walk found them), and the signature is
// checked on the bytes received. The steps and every input to the key
// schedule are go-mls's (state.go: NewJoinedState, NewStateFromWelcome;
// messages.go: Welcome.Decrypt, GroupInfo.verify; key-schedule.go:
// newKeyScheduleEpoch); TestJoinMatchesGoMLS joins both ways and compares.
func joinState(j Joiner, secrets *mls.GroupSecrets, gi *infoShape) (*mls.State, error) {
	nodes := make([]mls.OptionalNode, len(gi.tree))
	for i, raw := range gi.tree {
		if err := decodeStrict(raw, &nodes[i]); err != nil {
			return nil, fmt.Errorf("tree node %d: %w", i, err)
		}
	}
	var ext mls.ExtensionList
	if err := decodeStrict(gi.ext, &ext); err != nil {
		return nil, fmt.Errorf("group extensions: %w", err)
	}
	tree := mls.TreeKEMPublicKey{Suite: Suite, Nodes: nodes}
	if len(nodes)%2 == 0 {
		return nil, fmt.Errorf("a tree of %d nodes", len(nodes))
	}
	// Leaf hashes from the bytes received: a leaf's hash input is its
	// index, the optional byte and its KeyPackage, which is the node's
	// encoding after the optional and node-type bytes (go-mls encodes the
	// decoded KeyPackage again by reflection, a third of a join). Parent
	// hashes (blank but for the owner's path) are go-mls's.
	for i := 0; i < len(nodes); i += 2 {
		in := binary.BigEndian.AppendUint32(nil, uint32(i/2))
		if raw := gi.tree[i]; nodes[i].Node != nil {
			if nodes[i].Node.Leaf == nil || len(raw) < 2 {
				return nil, fmt.Errorf("tree node %d: a parent where a leaf belongs", i)
			}
			in = append(append(in, 1), raw[2:]...)
		} else {
			in = append(in, 0)
		}
		nodes[i].Hash = Suite.Digest(in)
	}
	if err := tree.SetHashAll(); err != nil {
		return nil, err
	}
	signer := mls.LeafIndex(gi.signer)
	if uint64(gi.signer) >= uint64(tree.Size()) {
		return nil, fmt.Errorf("signer %d beyond the tree", gi.signer)
	}
	signerKP, ok := tree.KeyPackage(signer)
	if !ok || !Suite.Scheme().Verify(signerKP.Credential.PublicKey(), gi.tbs, gi.signature) {
		return nil, fmt.Errorf("group info signature")
	}

	kp := j.KeyPackage.kp
	st := &mls.State{
		CipherSuite:             Suite,
		GroupID:                 bytes.Clone(gi.groupID),
		Epoch:                   mls.Epoch(gi.epoch),
		Tree:                    tree,
		ConfirmedTranscriptHash: bytes.Clone(gi.cth),
		InterimTranscriptHash:   bytes.Clone(gi.ith),
		Extensions:              ext,
		IdentityPriv:            j.Identity.priv,
		Scheme:                  kp.Credential.Scheme(),
		PendingProposals:        []mls.MLSPlaintext{},
		NewCredentials:          map[mls.LeafIndex]bool{},
	}
	for i := mls.LeafIndex(0); i < mls.LeafIndex(tree.Size()); i++ {
		st.NewCredentials[i] = true
	}
	for _, e := range ext.Entries {
		if !kp.Extensions.Has(e.ExtensionType) {
			return nil, fmt.Errorf("unsupported group extension %04x", e.ExtensionType)
		}
	}
	index, found := tree.Find(kp)
	if !found {
		return nil, fmt.Errorf("our key package is not in the tree")
	}
	if index == signer {
		return nil, fmt.Errorf("welcomed at the signer's leaf")
	}
	var pathSecret []byte
	if secrets.PathSecret != nil {
		pathSecret = secrets.PathSecret.Data
	}
	st.Index = index
	st.TreePriv = *mls.NewTreeKEMPrivateKeyForJoiner(Suite, index, tree.Size(), j.InitSecret,
		mls.NodeIndex(ancestor(uint64(index), uint64(signer))), pathSecret)

	ctx, err := groupContext(st)
	if err != nil {
		return nil, err
	}
	// go-mls exports no constructor of its key schedule; an empty state
	// has one (its sources and ratchets wired together), whose exported
	// fields are set here as newKeyScheduleEpoch sets them.
	tmpl, err := mls.NewEmptyState(st.GroupID, make([]byte, SecretSize), j.Identity.priv, kp)
	if err != nil {
		return nil, err
	}
	cc := Suite.Constants()
	epoch := bytes.Clone(secrets.EpochSecret)
	derive := func(label string) []byte { return expandLabelWith(epoch, label, Suite.Digest(ctx), cc.SecretSize) }
	k := &tmpl.Keys
	k.Suite, k.GroupContext, k.EpochSecret = Suite, ctx, epoch
	k.SenderDataSecret = derive("sender data")
	k.HandshakeSecret = derive("handshake")
	k.ApplicationSecret = derive("app")
	k.ExporterSecret = derive("exporter")
	k.ConfirmationKey = derive("confirm")
	k.InitSecret = derive("init")
	k.SenderDataKey = expandLabelWith(k.SenderDataSecret, "sd key", nil, cc.KeySize)
	k.HandshakeBaseKeys.CipherSuite, k.HandshakeBaseKeys.RootSecret = Suite, k.HandshakeSecret
	root := mls.NodeIndex(treeRoot(uint64(tree.Size())))
	k.ApplicationBaseKeys.CipherSuite = Suite
	k.ApplicationBaseKeys.SecretSize = uint32(cc.SecretSize)
	k.ApplicationBaseKeys.Root = root
	k.ApplicationBaseKeys.Size = tree.Size()
	k.ApplicationBaseKeys.Secrets = map[mls.NodeIndex]mls.Bytes1{root: k.ApplicationSecret}
	if len(k.HandshakeRatchets) != 0 || len(k.ApplicationRatchets) != 0 ||
		k.HandshakeKeys == nil || k.ApplicationKeys == nil {
		return nil, fmt.Errorf("%w: unexpected empty key schedule", ErrLibrary)
	}
	st.Keys = tmpl.Keys
	st.PendingUpdates = tmpl.PendingUpdates

	mac := Suite.NewHMAC(st.Keys.ConfirmationKey)
	mac.Write(st.ConfirmedTranscriptHash)
	if !hmac.Equal(mac.Sum(nil), gi.confirm) {
		return nil, fmt.Errorf("confirmation failed to verify")
	}
	return st, nil
}

// expandLabelWith is MLS's HKDF-Expand-Label as go-mls (draft 09)
// computes it: the label is prefixed with "mls10 ", the context has a
// 4-byte length.
func expandLabelWith(secret []byte, label string, context []byte, length int) []byte {
	var info []byte
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(len("mls10 "+label)))
	info = append(info, "mls10 "+label...)
	info = binary.BigEndian.AppendUint32(info, uint32(len(context)))
	info = append(info, context...)
	var out, last []byte
	for counter := byte(1); len(out) < length; counter++ {
		mac := Suite.NewHMAC(secret)
		mac.Write(last)
		mac.Write(info)
		mac.Write([]byte{counter})
		last = mac.Sum(nil)
		out = append(out, last...)
	}
	return out[:length]
}
