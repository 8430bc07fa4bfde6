package mlsguard

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
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

// vec32 reads a vector with a 4-byte length prefix (go-tls-syntax's
// widest; cryptobyte reads the others).
func vec32(s *cryptobyte.String, out *cryptobyte.String) bool {
	var n uint32
	var b []byte
	if !s.ReadUint32(&n) || uint64(n) > uint64(len(*s)) || !s.ReadBytes(&b, int(n)) {
		return false
	}
	*out = b
	return true
}

// skip reads and drops a vector with a length prefix of head bytes.
func skip(s *cryptobyte.String, head int) bool {
	var v cryptobyte.String
	switch head {
	case 1:
		return s.ReadUint8LengthPrefixed(&v)
	case 2:
		return s.ReadUint16LengthPrefixed(&v)
	default:
		return vec32(s, &v)
	}
}

var errTruncated = fmt.Errorf("%w: truncated", errShape)

// shapeOf walks an encoded GroupInfo (go-mls, draft 09): group id, epoch,
// the tree (a 4-byte-length vector of optional nodes: a leaf is a
// KeyPackage, a parent a public key, its unmerged leaves and a parent
// hash), the transcript hashes, extensions, confirmation, signer index and
// signature. It stops counting nodes past maxNodes.
func shapeOf(data []byte, maxNodes int) (infoShape, error) {
	var s infoShape
	r := cryptobyte.String(data)
	var gid, tree cryptobyte.String
	if !r.ReadUint8LengthPrefixed(&gid) || !r.ReadUint64(&s.epoch) || !vec32(&r, &tree) {
		return s, errTruncated
	}
	s.groupID = gid
	for len(tree) > 0 {
		s.nodes++
		if s.nodes > maxNodes {
			return s, nil // too big: the caller refuses it, no need to read on
		}
		node := tree
		var present, kind uint8
		if !tree.ReadUint8(&present) {
			return s, errTruncated
		}
		switch present { // optional
		case 0:
			s.tree = append(s.tree, node[:1])
			continue
		case 1:
		default:
			return s, fmt.Errorf("%w: bad optional node", errShape)
		}
		if !tree.ReadUint8(&kind) {
			return s, errTruncated
		}
		switch kind {
		case 0: // leaf: KeyPackage
			var credType uint8
			var pub cryptobyte.String
			if !tree.Skip(1+2) || !skip(&tree, 2) || !tree.ReadUint8(&credType) { // version, cipher suite, init key
				return s, errTruncated
			}
			if credType != 0 {
				return s, fmt.Errorf("%w: not a basic credential", errShape)
			}
			// identity, signature scheme, public key, extensions, signature
			if !skip(&tree, 2) || !tree.Skip(2) || !tree.ReadUint16LengthPrefixed(&pub) || !skip(&tree, 2) || !skip(&tree, 2) {
				return s, errTruncated
			}
			if s.nodes == 1 {
				s.leaf0 = pub
			}
		case 1: // parent: public key, unmerged leaves, parent hash
			if !skip(&tree, 2) || !skip(&tree, 4) || !skip(&tree, 1) {
				return s, errTruncated
			}
		default:
			return s, fmt.Errorf("%w: bad node type", errShape)
		}
		s.tree = append(s.tree, node[:len(node)-len(tree)])
	}
	at := func() int { return len(data) - len(r) }
	var cth, ith, confirm, signature cryptobyte.String
	if !r.ReadUint8LengthPrefixed(&cth) || !r.ReadUint8LengthPrefixed(&ith) {
		return s, errTruncated
	}
	s.cth, s.ith = cth, ith
	signedHead := at()
	ext := r
	if !skip(&r, 2) {
		return s, errTruncated
	}
	s.ext = ext[:len(ext)-len(r)]
	signedTail := at()
	if !r.ReadUint8LengthPrefixed(&confirm) || !r.ReadUint32(&s.signer) {
		return s, errTruncated
	}
	s.confirm = confirm
	signedEnd := at()
	if !r.ReadUint16LengthPrefixed(&signature) {
		return s, errTruncated
	}
	s.signature = signature
	if len(r) != 0 {
		return s, fmt.Errorf("%w: %d trailing bytes", errShape, len(r))
	}
	s.tbs = append(append(make([]byte, 0, signedHead+signedEnd-signedTail), data[:signedHead]...), data[signedTail:signedEnd]...)
	return s, nil
}
