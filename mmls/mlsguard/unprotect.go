package mlsguard

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"

	mls "github.com/cisco/go-mls"
	syntax "github.com/cisco/go-tls-syntax"
)

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
	sdAAD, err := senderDataAAD(ct)
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
	// The signature covers the group context, the plaintext's header and
	// its content: the content as it was decrypted (go-mls encodes the
	// decoded content again, the message byte by byte by reflection).
	if !g.verifyApplication(ct, content[:n1], sig) {
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

// senderDataAAD is the associated data that authenticates an application
// message's encrypted sender data (go-mls's MLSSenderDataAAD).
func senderDataAAD(ct *mls.MLSCiphertext) ([]byte, error) {
	return syntax.Marshal(struct {
		GroupID         []byte `tls:"head=1"`
		Epoch           mls.Epoch
		ContentType     mls.ContentType
		SenderDataNonce []byte `tls:"head=1"`
	}{ct.GroupID, ct.Epoch, ct.ContentType, ct.SenderDataNonce})
}

// verifyApplication checks the owner's signature of an application
// message: this epoch's group context, the header (group, epoch, sender
// leaf 0, authenticated data) and the encoded content.
func (g *Group) verifyApplication(ct *mls.MLSCiphertext, content []byte, sig mls.Signature) bool {
	ctx, err := g.context()
	if err != nil {
		return false
	}
	head, err := syntax.Marshal(struct {
		GroupID           []byte `tls:"head=1"`
		Epoch             mls.Epoch
		Sender            mls.Sender
		AuthenticatedData []byte `tls:"head=4"`
	}{g.st.GroupID, g.st.Epoch, mls.Sender{Type: mls.SenderTypeMember, Sender: 0}, ct.AuthenticatedData})
	if err != nil {
		return false
	}
	ok := false
	_ = safely("verify", func() error {
		kp, found := g.st.Tree.KeyPackage(0)
		if !found {
			return nil
		}
		tbs := make([]byte, 0, len(ctx)+len(head)+len(content))
		tbs = append(append(append(tbs, ctx...), head...), content...)
		ok = g.st.Scheme.Verify(kp.Credential.PublicKey(), tbs, sig.Data)
		return nil
	})
	return ok
}
