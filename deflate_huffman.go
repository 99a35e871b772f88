package wsmem

// Huffman code construction for the DEFLATE encoder (deflate_encoder.go):
// code lengths from symbol frequencies, limited in length, and the canonical
// codes of RFC 1951 §3.2.2 from those lengths.

import (
	"math/bits"
	"slices"
)

// huffmanWork is the scratch space of huffmanLengths, sized for the largest
// alphabet (288 literal/length symbols).
type huffmanWork struct {
	used    [288]uint64 // frequency<<16 | symbol of the used symbols
	sorted  [288]uint64 // the same, ascending
	weights [288]uint32 // in-place tree, then depths
}

// insertionSort sorts a few values in place.
func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		v, j := a[i], i
		for ; j > 0 && a[j-1] > v; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}

// countingSort returns used (frequency<<16 | symbol values) sorted, in
// w.sorted: a counting sort by frequency for frequencies below 255 (all of
// them in short messages), slices.Sort for the rest.
func (w *huffmanWork) countingSort(used []uint64) []uint64 {
	var count [256]uint16
	for _, v := range used {
		count[min(v>>16, 255)]++
	}
	at := uint16(0)
	for f, c := range count {
		count[f] = at
		at += c
	}
	sorted := w.sorted[:len(used)]
	for _, v := range used {
		f := min(v>>16, 255)
		sorted[count[f]] = v
		count[f]++
	}
	slices.Sort(sorted[count[254]:])
	return sorted
}

// huffmanLengths sets lengths[s] to the code length of symbol s for the
// frequencies freq, at most maxBits long, 0 for symbols of frequency 0. The
// code is always complete (its Kraft sum is exactly 1), as strict inflaters
// such as zlib's and Go's require: with fewer than two used symbols, lengths
// of 1 are given to two symbols (so len(freq) must be at least 2). Lengths
// are optimal unless the optimum is longer than maxBits; then frequencies are
// flattened until it fits. Frequencies must fit in 32 bits and their sum too.
// Costs O(len(freq)) plus a sort of the symbols used 255 times or more.
func huffmanLengths(lengths []uint8, freq []uint32, maxBits uint8, w *huffmanWork) {
	n := 0
	for s, f := range freq {
		lengths[s] = 0
		if f != 0 {
			w.used[n] = uint64(f)<<16 | uint64(s)
			n++
		}
	}
	switch n {
	case 0:
		lengths[0], lengths[1] = 1, 1
		return
	case 1:
		used := w.used[0] & 0xffff
		lengths[used] = 1
		lengths[1-min(used, 1)] = 1 // symbol 1, or 0 if symbol 1 is the used one
		return
	}
	sorted := w.used[:n]
	if n <= 32 {
		insertionSort(sorted)
	} else {
		sorted = w.countingSort(sorted)
	}
	weights := w.weights[:n]
	for shift := 0; ; shift++ {
		for i, v := range sorted {
			weights[i] = max(uint32(v>>16)>>shift, 1)
		}
		if huffmanDepths(weights) <= maxBits {
			break
		}
		// Shifting keeps the order, so sorted stays valid; after at most 32
		// shifts all weights are 1 and the depths those of a balanced tree.
	}
	for i, v := range sorted {
		lengths[v&0xffff] = uint8(weights[i])
	}
}

// huffmanDepths replaces the ascending weights a (at least two) with the
// depths of their leaves in a minimum-redundancy (Huffman) tree, in place and
// in linear time (Moffat and Katajainen, "In-place calculation of
// minimum-redundancy codes", 1995), and returns the largest depth. a[i] then
// is the code length of the symbol with the i-th smallest weight.
func huffmanDepths(a []uint32) uint8 {
	n := len(a)
	// Phase 1: combine. Internal node k is stored in a[k]: its weight
	// while it waits to be combined, then the index of its parent. Leaves
	// are taken from a[leaf:], internal nodes from a[root:next].
	a[0] += a[1]
	root, leaf := 0, 2
	for next := 1; next < n-1; next++ {
		if leaf >= n || (root < next && a[root] < a[leaf]) {
			a[next] = a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] = a[leaf]
			leaf++
		}
		if leaf >= n || (root < next && a[root] < a[leaf]) {
			a[next] += a[root]
			a[root] = uint32(next)
			root++
		} else {
			a[next] += a[leaf]
			leaf++
		}
	}
	// Phase 2: parent indexes to internal node depths; the root is a[n-2].
	a[n-2] = 0
	for k := n - 3; k >= 0; k-- {
		a[k] = a[a[k]] + 1
	}
	// Phase 3: internal node depths to leaf depths. At each depth, the
	// slots not taken by internal nodes are leaves, given to the heaviest
	// symbols not yet placed (filled from a[n-1] down).
	avail, used, depth := 1, 0, uint32(0)
	internal, next := n-2, n-1
	for avail > 0 {
		for internal >= 0 && a[internal] == depth {
			used++
			internal--
		}
		for avail > used {
			a[next] = depth
			next--
			avail--
		}
		avail, used = 2*used, 0
		depth++
	}
	return uint8(a[0]) // the lightest symbol is the deepest
}

// huffmanCodes sets codes[s] to the canonical code of length lengths[s]
// (RFC 1951 §3.2.2), bit-reversed so that it can be written least
// significant bit first. lengths must be at most 15.
func huffmanCodes(codes []uint16, lengths []uint8) {
	var count [16]uint16
	for _, l := range lengths {
		if l != 0 { // unused symbols come in runs: a cheap branch
			count[l]++
		}
	}
	var next [16]uint16
	code := uint16(0)
	for l := 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	for s, l := range lengths {
		if l != 0 {
			codes[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}
