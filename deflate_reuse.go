package wsmem

// Reusing a block's Huffman code for the blocks after it (deflate_encoder.go).
//
// Without context takeover every message is its own DEFLATE stream, so
// each carries a dynamic block header, and building the code behind it
// (three Huffman codes and the run-length coding of their lengths) is about
// a third of the encoder's time for a 1 KiB message. A server's messages
// tend to look alike (the same JSON keys, the same alphabet), so the code
// built for one message suits the next almost as well as the next's own:
// the encoder keeps the code it built last, and writes a block with it again
// when it gives every symbol of the block a code and costs little more than
// the block's entropy, the least any code could cost (see reuseSlack).
// The header is then written from what was kept, and wsmem's decoder, which
// sees the same code lengths again, skips building its tables
// (deflate_decoder.go).
//
// So that a code covers the next messages' symbols too, it is built from
// doubled counts plus one for each symbol that occurred in one of the
// codeCarry builds before: such a symbol gets a long code, which costs
// little room in the code.

import "math"

const (
	// reuseSlack and reuseSlackBits: a kept code is reused while it costs
	// at most 4% more than the block's entropy, and at most 256 bits more,
	// so at most that much more than the best code (a Huffman code costs no
	// less than the entropy). A code costs about 2 µs to build, a large
	// block much longer to encode: there the bits are worth more.
	reuseSlack     = 0.04
	reuseSlackBits = 256
	// codeCarry: how many builds a symbol keeps a code for after its last
	// occurrence.
	codeCarry = 16
)

// builtCode is the header of the code an encoder built last: the numbers
// of literal/length, distance and code length code lengths it sends, and
// its length in bits with the block type. valid is false until one is
// built.
type builtCode struct {
	valid                  bool
	numLit, numDist, numCL int
	headerBits             uint64
}

// carryWeights sets the weights buildCode builds the code from: the
// block's counts doubled, plus one for a symbol that occurred in one of the
// last codeCarry builds; and counts those builds down.
func (e *deflateEncoder) carryWeights() {
	for s, f := range e.litFreq[:286] {
		e.wLit[s], e.carryLit[s] = carryWeight(f, e.carryLit[s])
	}
	for s, f := range e.distFreq[:30] {
		e.wDist[s], e.carryDist[s] = carryWeight(f, e.carryDist[s])
	}
}

// carryWeight returns the weight of a symbol of count f whose occurrence
// is carried for carry more builds, and its carry after this build.
func carryWeight(f uint32, carry uint8) (uint32, uint8) {
	w := 2 * f
	if carry > 0 {
		w++
		carry--
	}
	if f > 0 {
		carry = codeCarry
	}
	return w, carry
}

// reuseCost returns the bits the block's symbols take in the kept code,
// without the header's and the extra bits, and whether the block should be
// written in it (see the top of this file).
//
// Cost: one pass over the counts.
func (e *deflateEncoder) reuseCost() (uint64, bool) {
	if !e.code.valid {
		return 0, false
	}
	bits, litOK, entropy := symbolCost(e.litFreq[:286], e.litLen[:286])
	if !litOK {
		return 0, false
	}
	distBits, distOK, distEntropy := symbolCost(e.distFreq[:30], e.distLen[:30])
	bits += distBits
	entropy += distEntropy
	return bits, distOK && float64(bits) <= entropy+min(entropy*reuseSlack, reuseSlackBits)
}

// symbolCost returns the bits the counts freq take with the code lengths
// lengths, whether every counted symbol has a code, and the entropy of the
// counts in bits (the sum of f·log2(n/f), n the sum of the counts).
func symbolCost(freq []uint32, lengths []uint8) (bits uint64, ok bool, entropy float64) {
	var n uint64
	var sum float64 // of f·log2(f)
	for s, f := range freq {
		if f == 0 {
			continue
		}
		l := lengths[s]
		if l == 0 {
			return 0, false, 0
		}
		bits += uint64(f) * uint64(l)
		n += uint64(f)
		sum += xlog2x(uint64(f))
	}
	return bits, true, xlog2x(n) - sum
}

// xlog2x returns x·log2(x) (0 for 0), from a table for small x.
func xlog2x(x uint64) float64 {
	if x < uint64(len(xlog2xTable)) {
		return float64(xlog2xTable[x])
	}
	return float64(x) * math.Log2(float64(x))
}

// xlog2xTable holds x·log2(x) for x below 1024, the counts of a 1 KiB
// block.
var xlog2xTable = func() (t [1024]float32) {
	for x := 1; x < len(t); x++ {
		t[x] = float32(float64(x) * math.Log2(float64(x)))
	}
	return t
}()
