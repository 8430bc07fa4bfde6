package mlsguard

import (
	"errors"
	"fmt"
)

// infoShape is what Join judges of a GroupInfo before go-mls runs: read
// by walking its encoding, not decoding it (go-tls-syntax's reflection
// decode of the tree cost a join about 0.1 ms per leaf, and a hostile
// Welcome that much before being refused).
type infoShape struct {
	groupID []byte
	nodes   int    // tree nodes, blank ones included (counted up to a bound)
	leaf0   []byte // leaf 0's signature public key (nil: blank)
	signer  uint32

	// The pieces of a complete walk (nodes within the bound), sub-slices
	// of the encoding, for the join to decode one at a time.
	epoch     uint64
	tree      [][]byte // each node's encoding: the optional byte, then the node
	cth, ith  []byte   // confirmed and interim transcript hashes
	ext       []byte   // the extensions' encoding (with its length)
	confirm   []byte
	signature []byte
	tbs       []byte // what the signature covers: every field but extensions and the signature
}

var errShape = errors.New("group info")

// reader reads go-tls-syntax encodings: big-endian integers and vectors
// with a length prefix of 1, 2 or 4 bytes.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", errShape)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) uint(size int) uint32 {
	b := r.take(size)
	if r.err != nil {
		return 0
	}
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

func (r *reader) vec(head int) []byte { return r.take(int(r.uint(head))) }

// shapeOf walks an encoded GroupInfo (go-mls, draft 09): group id, epoch,
// the tree (a 4-byte-length vector of optional nodes: a leaf is a
// KeyPackage, a parent a public key, its unmerged leaves and a parent
// hash), the transcript hashes, extensions, confirmation, signer index and
// signature. It stops counting nodes past maxNodes.
func shapeOf(data []byte, maxNodes int) (infoShape, error) {
	var s infoShape
	r := &reader{b: data}
	s.groupID = r.vec(1)
	s.epoch = uint64(r.uint(4))<<32 | uint64(r.uint(4))
	tree := &reader{b: r.vec(4)}
	if r.err != nil {
		return s, r.err
	}
	for len(tree.b) > 0 && tree.err == nil {
		s.nodes++
		if s.nodes > maxNodes {
			return s, nil // too big: the caller refuses it, no need to read on
		}
		node := tree.b
		switch tree.uint(1) { // optional
		case 0:
			s.tree = append(s.tree, node[:1])
			continue
		case 1:
		default:
			return s, fmt.Errorf("%w: bad optional node", errShape)
		}
		switch tree.uint(1) { // node type
		case 0: // leaf: KeyPackage
			tree.take(1 + 2) // version, cipher suite
			tree.vec(2)      // init key
			if tree.uint(1) != 0 {
				return s, fmt.Errorf("%w: not a basic credential", errShape)
			}
			tree.vec(2)  // identity
			tree.take(2) // signature scheme
			pub := tree.vec(2)
			tree.vec(2) // extensions
			tree.vec(2) // signature
			if s.nodes == 1 {
				s.leaf0 = pub
			}
		case 1: // parent
			tree.vec(2) // public key
			tree.vec(4) // unmerged leaves
			tree.vec(1) // parent hash
		default:
			return s, fmt.Errorf("%w: bad node type", errShape)
		}
		s.tree = append(s.tree, node[:len(node)-len(tree.b)])
	}
	if tree.err != nil {
		return s, tree.err
	}
	at := func() int { return len(data) - len(r.b) }
	s.cth = r.vec(1)
	s.ith = r.vec(1)
	signedHead := at()
	ext := r.b
	r.vec(2)
	s.ext = ext[:len(ext)-len(r.b)]
	signedTail := at()
	s.confirm = r.vec(1)
	s.signer = r.uint(4)
	signedEnd := at()
	s.signature = r.vec(2)
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errShape, len(r.b))
	}
	if r.err == nil {
		s.tbs = append(append(make([]byte, 0, signedHead+signedEnd-signedTail), data[:signedHead]...), data[signedTail:signedEnd]...)
	}
	return s, r.err
}
