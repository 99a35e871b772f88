package wsmem

// wsmem's own DEFLATE encoder (RFC 1951), used for messages compressed
// without context takeover at level 1 (the default). klauspost/compress
// spends most of a 1 KiB message building Huffman codes, and resets more
// state per message than a message on its own needs; this encoder does one
// greedy LZ77 pass with a hash table that is never cleared (entries from
// earlier messages are recognised by their position), builds the codes in
// linear time after one small sort (deflate_huffman.go), and writes each
// block as dynamic, fixed or stored Huffman, whichever is shortest. The
// dynamic code of one message is kept for the next ones while it suits
// them nearly as well as their own (deflate_reuse.go).
//
// The output is a raw DEFLATE stream of non-final blocks ended by the 3 bits
// of an empty stored block and padding: the sync flush of RFC 7692 §7.2.1
// with its 00 00 FF FF already removed.

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sync"
)

const (
	encHashBits   = 14
	encMinMatch   = 5   // shortest match the encoder looks for
	encMaxMatch   = 258 // longest match DEFLATE can express
	encBlockBytes = 1<<16 - 1
	// encMaxTokens bounds the tokens of a block: a run of literals and a
	// match take at least 1+encMinMatch bytes for two tokens.
	encMaxTokens = 2*encBlockBytes/(1+encMinMatch) + 2
	// encMaxMessage is the longest message the encoder takes: positions
	// in its hash table are 32-bit.
	encMaxMessage = 1 << 30
	encMatchFlag  = 1 << 31
)

// deflateEncoder is the state of one compression; pooled, never shared.
type deflateEncoder struct {
	// table maps a hash of encMinMatch bytes to base plus their position
	// in the message. Entries below base were left by earlier messages.
	table [1 << encHashBits]uint32
	base  uint32

	// tokens of the current block: the length of a run of literals (taken
	// from the block when written), or a match:
	// encMatchFlag | distance code<<23 | (length-3)<<15 | (distance-1).
	tokens []uint32

	litFreq  [288]uint32
	distFreq [32]uint32
	litLen   [288]uint8
	litCode  [288]uint16
	distLen  [32]uint8
	distCode [32]uint16

	// The code-length sequence of the dynamic header, run-length coded:
	// clNum symbols 0..18 and their extra bits.
	clSyms  [286 + 30]uint8
	clExtra [286 + 30]uint8
	clNum   int
	clFreq  [19]uint32
	clLen   [19]uint8
	clCode  [19]uint16

	// The dynamic code last built, which the fields above hold, and what
	// the next blocks need to reuse it (deflate_reuse.go).
	code      builtCode
	carryLit  [286]uint8
	carryDist [30]uint8
	wLit      [286]uint32
	wDist     [30]uint32

	huff huffmanWork
}

var deflateEncoderPool = sync.Pool{New: func() any {
	return &deflateEncoder{tokens: make([]uint32, 0, encMaxTokens)}
}}

// Length and distance codes (RFC 1951 §3.2.5), indexed by length-3 and by
// the distance code; lengthCodes maps length-3 to its code (0..28, symbol
// 257+code).
var (
	lengthBase  = [29]uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 255}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	lengthCodes [256]uint8
	distExtra   [32]uint8
	distBase    [32]uint32 // distance-1 of the code's first distance

	fixedLitLen   [288]uint8
	fixedLitCode  [288]uint16
	fixedDistLen  [32]uint8
	fixedDistCode [32]uint16
)

// codeLengthExtra is the number of extra bits of each code length symbol:
// 16 repeats the previous length 3-6 times, 17 and 18 write 3-10 and
// 11-138 zeros.
var codeLengthExtra = [19]uint8{16: 2, 17: 3, 18: 7}

// codeLengthOrder is the order of the code length code lengths in a dynamic
// block header.
var codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func init() {
	for code, base := range lengthBase {
		for l := int(base); l < int(base)+1<<lengthExtra[code] && l < 256; l++ {
			lengthCodes[l] = uint8(code)
		}
	}
	lengthCodes[255] = 28 // length 258 has a code of its own
	for code := 4; code < 30; code++ {
		distExtra[code] = uint8(code/2 - 1)
		distBase[code] = uint32(2|code&1) << distExtra[code]
	}
	for code := range 4 {
		distBase[code] = uint32(code)
	}
	for s := range fixedLitLen {
		switch {
		case s < 144:
			fixedLitLen[s] = 8
		case s < 256:
			fixedLitLen[s] = 9
		case s < 280:
			fixedLitLen[s] = 7
		default:
			fixedLitLen[s] = 8
		}
	}
	huffmanCodes(fixedLitCode[:], fixedLitLen[:])
	for d := range fixedDistLen {
		fixedDistLen[d] = 5 // 30 and 31 never occur, but complete the code
	}
	huffmanCodes(fixedDistCode[:], fixedDistLen[:])
	buildFixedDecodeTables()
}

// distanceCode returns the code of the distance d+1.
func distanceCode(d uint32) uint32 {
	if d < 4 {
		return d
	}
	n := uint32(bits.Len32(d))
	return 2*(n-1) + (d>>(n-2))&1
}

// deflateEncode appends to dst the DEFLATE stream of src (see the file
// comment), with back-references at most 2^windowBits-1 bytes long, and
// returns it with ok=true, unless it would not be shorter than src: then it
// returns dst unchanged and ok=false. Bytes of dst beyond its length may be
// overwritten either way. With len(src) bytes of spare capacity in dst
// nothing is allocated. len(src) must be at most encMaxMessage.
func deflateEncode(dst, src []byte, windowBits uint8) ([]byte, bool) {
	e := deflateEncoderPool.Get().(*deflateEncoder)
	dst, ok := e.encode(dst, src, windowBits)
	deflateEncoderPool.Put(e)
	return dst, ok
}

// encode is deflateEncode with the encoder e, whose last code it may reuse
// (deflate_reuse.go).
func (e *deflateEncoder) encode(dst, src []byte, windowBits uint8) ([]byte, bool) {
	limit := len(src) - 1 // the most bytes the result may have
	if limit < 1 {
		return dst, false
	}
	start := len(dst)
	if cap(dst)-start < limit {
		dst = slices.Grow(dst, limit)
	}
	if e.base > math.MaxUint32-uint32(len(src)) {
		clear(e.table[:])
		e.base = 0
	}
	w := bitWriter{out: dst[start : start+limit]}
	maxDist := uint32(1)<<windowBits - 1
	ok := true
	for bs := 0; bs < len(src) && ok; bs += encBlockBytes {
		be := min(bs+encBlockBytes, len(src))
		e.parse(src, bs, be, maxDist)
		ok = e.writeBlock(&w, src[bs:be])
	}
	e.base += uint32(len(src))
	if !ok {
		return dst[:start], false
	}
	w.finish()
	return dst[:start+w.n], true
}

// parse turns src[bs:be] into e.tokens and counts their symbols: greedy
// LZ77 over hashes of encMinMatch bytes, back-references reaching as far as
// maxDist into src, stepping faster through stretches without matches.
// Four positions are probed per step, from one 8-byte load: their hashes
// and table loads do not wait on each other, where one position per step
// chained each probe behind the last one's compare.
func (e *deflateEncoder) parse(src []byte, bs, be int, maxDist uint32) {
	tokens := e.tokens[:0]
	base := e.base
	table := &e.table
	// Short messages use the start of the table only: fewer cache lines.
	shift := 64 - min(max(bits.Len(uint(len(src))), 10), encHashBits)
	emit, s := bs, bs
	// Matches start where 8 bytes can be loaded: the last 7 bytes of a block
	// only end matches.
	for last := be - 8; s <= last; {
		// Positions s to s+3, whose first five bytes cur holds. Those past
		// last get entries too: an entry is only ever a candidate for a
		// later position, and positions are at most last.
		cur := binary.LittleEndian.Uint64(src[s:])
		h0, h1, h2, h3 := encHash(cur, shift), encHash(cur>>8, shift), encHash(cur>>16, shift), encHash(cur>>24, shift)
		cand0, cand1, cand2, cand3 := table[h0], table[h1], table[h2], table[h3]
		p := base + uint32(s)
		table[h0], table[h1], table[h2], table[h3] = p, p+1, p+2, p+3
		var c uint32
		switch {
		case encCandidate(src, cand0, base, s, maxDist, cur):
			c = cand0 - base
		case s+1 <= last && encCandidate(src, cand1, base, s+1, maxDist, cur>>8):
			c, s = cand1-base, s+1
		case s+2 <= last && encCandidate(src, cand2, base, s+2, maxDist, cur>>16):
			c, s = cand2-base, s+2
		case s+3 <= last && encCandidate(src, cand3, base, s+3, maxDist, cur>>24):
			c, s = cand3-base, s+3
		default:
			s += 4 + (s-emit)>>5
			continue
		}
		ci := int(c)
		for s > emit && ci > 0 && src[s-1] == src[ci-1] {
			s--
			ci--
		}
		tokens = e.literals(tokens, src[emit:s])
		n := encMinMatch + matchLength(src[s+encMinMatch:min(be, s+encMaxMatch)], src[ci+encMinMatch:])
		tokens = e.match(tokens, n, uint32(s-ci-1))
		s += n
		emit = s
		if p := s - 2; p <= last {
			table[encHash(binary.LittleEndian.Uint64(src[p:]), shift)] = base + uint32(p)
		}
	}
	e.tokens = e.literals(tokens, src[emit:be])
}

// encCandidate reports whether the table entry cand is a match for the
// position s, whose first bytes are the low ones of cur.
func encCandidate(src []byte, cand, base uint32, s int, maxDist uint32, cur uint64) bool {
	c := cand - base
	return cand >= base && uint32(s)-c-1 < maxDist && (binary.LittleEndian.Uint64(src[c:])^cur)<<(64-8*encMinMatch) == 0
}

// encHash hashes the low encMinMatch bytes of v to shift's number of bits
// (64-shift, at most encHashBits).
func encHash(v uint64, shift int) uint32 {
	return uint32((v << (64 - 8*encMinMatch)) * 0x9e3779b97f4a7c15 >> shift)
}

// matchLength returns how many leading bytes of a equal those of b;
// len(b) must be at least len(a).
func matchLength(a, b []byte) int {
	n := 0
	for ; len(a)-n >= 8; n += 8 {
		if x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:]); x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

// literals appends a run of literals, if lit is not empty.
func (e *deflateEncoder) literals(tokens []uint32, lit []byte) []uint32 {
	if len(lit) == 0 {
		return tokens
	}
	freq := &e.litFreq
	for _, b := range lit {
		freq[b]++
	}
	return append(tokens, uint32(len(lit)))
}

// match appends a match of length n at distance d+1.
func (e *deflateEncoder) match(tokens []uint32, n int, d uint32) []uint32 {
	l := uint32(n - 3)
	dc := distanceCode(d)
	e.litFreq[257+uint32(lengthCodes[uint8(l)])]++
	e.distFreq[dc&31]++
	return append(tokens, encMatchFlag|dc<<23|l<<15|d)
}

// writeBlock writes e.tokens, the tokens of block, as one non-final block
// of the cheapest type (dynamic in the kept code when reuseCost allows,
// else in one built for it), and clears the counts. It reports false, writing
// nothing, if the block would take the stream past w's capacity.
func (e *deflateEncoder) writeBlock(w *bitWriter, block []byte) bool {
	e.litFreq[256] = 1 // end of block
	var extra uint64   // extra bits of lengths and distances
	for c, x := range lengthExtra {
		extra += uint64(e.litFreq[257+c]) * uint64(x)
	}
	for c := range 30 {
		extra += uint64(e.distFreq[c]) * uint64(distExtra[c])
	}
	dynBits, reused := e.reuseCost()
	if !reused {
		dynBits = e.buildCode()
	}
	dynBits += e.code.headerBits + extra
	var fixedBits uint64
	for s, f := range e.litFreq[:286] {
		fixedBits += uint64(f) * uint64(fixedLitLen[s])
	}
	for _, f := range e.distFreq[:30] {
		fixedBits += uint64(f) * 5
	}
	fixedBits += 3 + extra
	storedBits := uint64(3+(-(w.bits()+3))&7) + 32 + 8*uint64(len(block))

	ok := true
	switch {
	case storedBits <= fixedBits && storedBits <= dynBits:
		if ok = w.fits(storedBits); ok {
			w.write(0, 3)
			w.align()
			w.write(uint64(len(block))|uint64(^uint16(len(block)))<<16, 32)
			w.bytes(block)
		}
	case fixedBits <= dynBits:
		if ok = w.fits(fixedBits); ok {
			w.write(1<<1, 3)
			w.tokens(block, e.tokens, &fixedLitCode, &fixedLitLen, &fixedDistCode, &fixedDistLen)
		}
	default:
		if ok = w.fits(dynBits); ok {
			e.writeDynamicHeader(w)
			w.tokens(block, e.tokens, &e.litCode, &e.litLen, &e.distCode, &e.distLen)
		}
	}
	clear(e.litFreq[:])
	clear(e.distFreq[:])
	return ok
}

// buildCode builds a dynamic code for the block's counts in the fields of
// e, with its header (see deflate_reuse.go for the symbols it also gives a
// code to), and returns the bits the block's symbols take in it, without
// the header's and the extra bits.
func (e *deflateEncoder) buildCode() uint64 {
	e.carryWeights()
	huffmanLengths(e.litLen[:286], e.wLit[:], 15, &e.huff)
	huffmanLengths(e.distLen[:30], e.wDist[:], 15, &e.huff)
	numLit, numDist, numCL := e.codeLengthCode()
	huffmanCodes(e.litCode[:numLit], e.litLen[:numLit])
	huffmanCodes(e.distCode[:numDist], e.distLen[:numDist])
	huffmanCodes(e.clCode[:], e.clLen[:])
	header := uint64(3 + 5 + 5 + 4 + 3*numCL)
	for s, f := range e.clFreq {
		header += uint64(f) * uint64(e.clLen[s])
	}
	header += 2*uint64(e.clFreq[16]) + 3*uint64(e.clFreq[17]) + 7*uint64(e.clFreq[18])
	e.code = builtCode{valid: true, numLit: numLit, numDist: numDist, numCL: numCL, headerBits: header}
	var bits uint64
	for s, f := range e.litFreq[:numLit] {
		bits += uint64(f) * uint64(e.litLen[s])
	}
	for c, f := range e.distFreq[:numDist] {
		bits += uint64(f) * uint64(e.distLen[c])
	}
	return bits
}

// codeLengthCode run-length codes the code lengths of the block's literal
// and distance codes (RFC 1951 §3.2.7) into e.clSyms and e.clExtra, builds
// the code for that sequence in e.clLen and returns how many literal,
// distance and code length code lengths the header carries.
func (e *deflateEncoder) codeLengthCode() (numLit, numDist, numCL int) {
	numLit = 286
	for numLit > 257 && e.litLen[numLit-1] == 0 {
		numLit--
	}
	numDist = 30
	for numDist > 1 && e.distLen[numDist-1] == 0 {
		numDist--
	}
	var lens [286 + 30]uint8
	copy(lens[:], e.litLen[:numLit])
	copy(lens[numLit:], e.distLen[:numDist])
	all := lens[:numLit+numDist]
	clear(e.clFreq[:])
	k := 0
	put := func(sym, extra uint8) {
		e.clSyms[k], e.clExtra[k] = sym, extra
		e.clFreq[sym]++
		k++
	}
	for i := 0; i < len(all); {
		v := all[i]
		run := 1
		for i+run < len(all) && all[i+run] == v {
			run++
		}
		i += run
		if v == 0 {
			for run >= 11 {
				r := min(run, 138)
				put(18, uint8(r-11))
				run -= r
			}
			if run >= 3 {
				put(17, uint8(run-3))
				run = 0
			}
		} else {
			put(v, 0)
			run--
			for run >= 3 {
				r := min(run, 6)
				put(16, uint8(r-3))
				run -= r
			}
		}
		for ; run > 0; run-- {
			put(v, 0)
		}
	}
	e.clNum = k
	huffmanLengths(e.clLen[:], e.clFreq[:], 7, &e.huff)
	numCL = 19
	for numCL > 4 && e.clLen[codeLengthOrder[numCL-1]] == 0 {
		numCL--
	}
	return numLit, numDist, numCL
}

// writeDynamicHeader writes the block header of a dynamic Huffman block
// in the code buildCode built.
func (e *deflateEncoder) writeDynamicHeader(w *bitWriter) {
	w.write(2<<1, 3)
	w.write(uint64(e.code.numLit-257)|uint64(e.code.numDist-1)<<5|uint64(e.code.numCL-4)<<10, 14)
	for _, s := range codeLengthOrder[:e.code.numCL] {
		w.write(uint64(e.clLen[s]), 3)
	}
	for i, s := range e.clSyms[:e.clNum] {
		w.write(uint64(e.clCode[s])|uint64(e.clExtra[i])<<e.clLen[s], e.clLen[s]+codeLengthExtra[s])
	}
}

// bitWriter writes a DEFLATE bit stream, least significant bit first, into
// out, whose length is the most the stream may take: callers check with fits
// before writing.
type bitWriter struct {
	out   []byte
	n     int // bytes of out written
	acc   uint64
	nbits uint8 // bits pending in acc, below 8 between calls
}

// bits returns the length of the stream so far in bits.
func (w *bitWriter) bits() uint64 { return uint64(w.n)*8 + uint64(w.nbits) }

// fits reports whether n more bits, and the 3 bits and padding that end the
// stream, fit in out.
func (w *bitWriter) fits(n uint64) bool {
	return (w.bits()+n+3+7)/8 <= uint64(len(w.out))
}

// write appends the nb (at most 56) low bits of v.
func (w *bitWriter) write(v uint64, nb uint8) {
	w.acc |= v << w.nbits
	w.n, w.acc, w.nbits = flushBytes(w.out, w.n, w.acc, w.nbits+nb)
}

// align writes zero bits up to the next byte boundary.
func (w *bitWriter) align() {
	if w.nbits > 0 {
		w.out[w.n] = byte(w.acc)
		w.n++
	}
	w.acc, w.nbits = 0, 0
}

// bytes appends p at a byte boundary.
func (w *bitWriter) bytes(p []byte) {
	w.n += copy(w.out[w.n:], p)
}

// finish ends the stream with the header of an empty stored block and pads it
// to a byte (the rest of that block, 00 00 FF FF, is what RFC 7692 strips).
// fits counted these bits for every block.
func (w *bitWriter) finish() {
	w.write(0, 3)
	w.align()
}

// flushBytes stores the whole bytes of the nbits (at most 63) bits of acc at
// out[n:] and returns the accumulator with only the last 0..7 bits left:
// one 8-byte store where out has room (the bytes beyond the whole ones are
// rewritten later), one store per byte near its end.
func flushBytes(out []byte, n int, acc uint64, nbits uint8) (int, uint64, uint8) {
	if n+8 <= len(out) {
		binary.LittleEndian.PutUint64(out[n:], acc)
	} else {
		for i := range int(nbits >> 3) {
			out[n+i] = byte(acc >> (8 * i))
		}
	}
	return n + int(nbits>>3), acc >> (nbits &^ 7), nbits & 7
}

// tokens writes the tokens of block with the given codes, then the end of
// block. This is the loop that writes every symbol, so the bit accumulator
// is kept in locals and flushed without a branch after every symbol.
func (w *bitWriter) tokens(block []byte, tokens []uint32, litCode *[288]uint16, litLen *[288]uint8, distCode *[32]uint16, distLen *[32]uint8) {
	acc, nbits, n, out := w.acc, w.nbits, w.n, w.out
	pos := 0
	for _, t := range tokens {
		if t&encMatchFlag == 0 {
			// Three literals at a time (at most 7+3*15 bits): their codes
			// are joined first, off the accumulator's dependency chain.
			lits := block[pos : pos+int(t)]
			for ; len(lits) >= 3; lits = lits[3:] {
				b0, b1, b2 := lits[0], lits[1], lits[2]
				l0, l1 := litLen[b0], litLen[b1]
				v := uint64(litCode[b0]) | uint64(litCode[b1])<<l0 | uint64(litCode[b2])<<(l0+l1)
				acc |= v << nbits
				n, acc, nbits = flushBytes(out, n, acc, nbits+l0+l1+litLen[b2])
			}
			for _, b := range lits {
				acc |= uint64(litCode[b]) << nbits
				n, acc, nbits = flushBytes(out, n, acc, nbits+litLen[b])
			}
			pos += int(t)
			continue
		}
		l := uint8(t >> 15)
		lc := lengthCodes[l]
		sym := 257 + uint16(lc)
		acc |= (uint64(litCode[sym]) | uint64(uint16(l)-lengthBase[lc])<<litLen[sym]) << nbits
		nbits += litLen[sym] + lengthExtra[lc] // at most 7+20 bits
		dc := (t >> 23) & 31
		d := t & 0x7fff
		acc |= (uint64(distCode[dc]) | uint64(d-distBase[dc])<<distLen[dc]) << nbits
		n, acc, nbits = flushBytes(out, n, acc, nbits+distLen[dc]+distExtra[dc]) // at most 27+28 bits
		pos += int(l) + 3
	}
	w.acc, w.nbits, w.n = acc, nbits, n
	w.write(uint64(litCode[256]), litLen[256])
}
