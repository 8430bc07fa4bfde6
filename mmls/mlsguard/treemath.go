package mlsguard

// Tree math of go-mls (tree-math.go), over node indices of a left-balanced
// binary tree of n leaves: leaves at even indices, a node's level the
// number of its trailing one bits.

func level(x uint64) uint {
	k := uint(0)
	for (x>>k)&1 == 1 {
		k++
	}
	return k
}

func treeRoot(n uint64) uint64 {
	w := 2*n - 1
	k := uint(0)
	for (w >> (k + 1)) > 0 {
		k++
	}
	return (1 << k) - 1
}

func parentStep(x uint64) uint64 {
	k := level(x)
	return (x | 1<<k) &^ (1 << (k + 1))
}

func parentOf(x, n uint64) uint64 {
	if x == treeRoot(n) {
		return x
	}
	p := parentStep(x)
	for p >= 2*n-1 {
		p = parentStep(p)
	}
	return p
}

// dirpath lists x's ancestors up to and including the root.
func dirpath(x, n uint64) []uint64 {
	var d []uint64
	r := treeRoot(n)
	if x == r {
		return d
	}
	for p := parentOf(x, n); ; p = parentOf(p, n) {
		d = append(d, p)
		if p == r {
			return d
		}
	}
}

// ancestor is go-mls's: the lowest common ancestor of two distinct leaves.
func ancestor(l, r uint64) uint64 {
	ln, rn := 2*l, 2*r
	k := uint(0)
	for ln != rn {
		ln, rn = ln>>1, rn>>1
		k++
	}
	return (ln << k) + (1 << (k - 1)) - 1
}
