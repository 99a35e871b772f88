package wsmem

// wsmem's own DEFLATE decoder (RFC 1951), for the common case only: a whole
// compressed message, already in memory, decoded at once into one buffer
// that is large enough. It answers "done" or "not for me"; whatever it does
// not finish (a buffer too small, anything malformed or merely unusual) the
// caller decodes again from the start with klauspost/compress, which then
// decides what the connection sees. So it can afford to be stricter than
// klauspost, never more lenient: every check of RFC 1951 is made, codes must
// be complete (as zlib requires), and nothing past the input is read.
//
// What it saves against klauspost's streaming decoder: it writes straight
// into the caller's buffer (no 32 KiB window to copy the dictionary into
// and the output out of), refers back into the connection's window in
// place, builds its tables with one store per code (the entries of
// shorter codes doubled in place as the lengths grow) and keeps them for
// the next block that sends the same code lengths, decodes most symbols
// with one lookup in tables of at most 2^9 (literal/length) and 2^8
// (distance) entries, loads each literal/length entry as soon as the bits
// before it are consumed, and copies matches a word at a time. Used by Conn.Recv and Conn.Next (gatherFor) and
// by the event loop (deliver).

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"
)

const (
	litRootBits  = 9
	distRootBits = 8

	// Table entries are kind<<8 | codeLength | value<<16. Kinds below
	// entLiteral are the extra bits of a length or distance symbol, whose
	// value is its base.
	entLiteral = 0x40 // value: the byte
	entEnd     = 0x41 // end of block
	entSub     = 0x80 // value: the subtable's offset; codeLength: the root bits
	entInvalid = 0xff
)

// errInflateFallback: the fast decoder did not finish the message; the
// caller decodes it the usual way.
var errInflateFallback = errors.New("wsmem: message left to the streaming decoder")

// huffTable is a decoding table: a root of 2^root entries indexed by the
// next root bits of input, and subtables of 2^sub entries for longer codes.
type huffTable struct {
	e    []uint32
	root uint8
	sub  uint8
}

// fastInflater holds the tables of one decoding; pooled.
type fastInflater struct {
	litEntries  [1<<litRootBits + 288<<(15-litRootBits)]uint32
	distEntries [1<<distRootBits + 30<<(15-distRootBits)]uint32
	clEntries   [1 << 7]uint32
	subStamp    [1 << litRootBits]uint32
	stamp       uint32
	order       [288]uint16 // symbols in canonical order, for build
	lengths     [286 + 30]uint8
	lit, dist   huffTable

	// What the tables were last built from: a block that sends the same
	// code lengths again (wsmem's encoder reuses its codes, see
	// deflate_reuse.go) decodes with them as they are.
	cl          huffTable
	clBuilt     [19]uint8 // the code length code lengths of cl, when clValid
	clValid     bool
	built       [286 + 30]uint8 // built[:builtLen]: the code lengths of lit and dist
	builtLen    int             // 0 while lit and dist are not whole
	builtNumLit int
}

var fastInflaterPool = sync.Pool{New: func() any { return new(fastInflater) }}

// fixedLit and fixedDist decode the fixed Huffman codes (RFC 1951
// §3.2.6); built by the init of deflate_encoder.go, after the tables they
// are made from.
var fixedLit, fixedDist huffTable

func buildFixedDecodeTables() {
	for set := range symbolEntries {
		for sym := range symbolEntries[set] {
			symbolEntries[set][sym] = symbolEntry(sym, set)
		}
	}
	f := new(fastInflater)
	fixedLit.e = make([]uint32, len(f.litEntries))
	fixedDist.e = make([]uint32, len(f.distEntries))
	if !f.build(&fixedLit, fixedLit.e, fixedLitLen[:], litRootBits, symLit) ||
		!f.build(&fixedDist, fixedDist.e, fixedDistLen[:], distRootBits, symDist) {
		panic("wsmem: fixed Huffman tables")
	}
}

// Symbol sets of build.
const (
	symLit  = iota // literal/length codes: 0..285 (286 and 287, in the fixed code, decode as invalid)
	symDist        // distance codes: 0..29 (30 and 31 decode as invalid)
	symCL          // code length codes: 0..18, decoded to their number
)

// build makes t decode the canonical code of lengths into e (RFC 1951
// §3.2.2). It reports false for an over-subscribed or incomplete code,
// except the incomplete literal/length or distance code of a single symbol
// of length 1 (as zlib), and for an empty one, except an empty distance
// code (a block of literals only may declare none, §3.2.7), where every
// entry is invalid. The root has 2^root entries, fewer when the longest
// code is shorter (t.root says how many bits). Root entries hold a symbol
// and its code length; a code longer than root goes to a subtable of
// 2^(longest-root) entries, one per root prefix, whose entries hold the
// code length beyond root.
//
// Cost: a pass over lengths, one store per code of at most root bits,
// 2^root entries copied, and 2^(longest-root) stores per code beyond it.
func (f *fastInflater) build(t *huffTable, e []uint32, lengths []uint8, root uint8, set int) bool {
	// Four sets of counters: runs of equal lengths would otherwise make
	// every increment wait for the one before.
	var counts [4][16]uint16
	rest := lengths
	for ; len(rest) >= 4; rest = rest[4:] {
		counts[0][rest[0]&15]++
		counts[1][rest[1]&15]++
		counts[2][rest[2]&15]++
		counts[3][rest[3]&15]++
	}
	for _, l := range rest {
		counts[0][l&15]++
	}
	var count [16]uint16
	for l := 1; l < 16; l++ {
		count[l] = counts[0][l] + counts[1][l] + counts[2][l] + counts[3][l]
	}
	left, used, maxLen := 1, 0, uint8(0)
	for l := 1; l < 16; l++ {
		left = left<<1 - int(count[l])
		if left < 0 {
			return false // over-subscribed
		}
		if count[l] != 0 {
			maxLen = uint8(l)
		}
		used += int(count[l])
	}
	// A root no wider than the longest code: a code of short ones fills
	// fewer entries.
	root = min(root, max(maxLen, 1))
	switch {
	case used == 0 && set != symDist:
		return false
	case used > 0 && left > 0 && (set == symCL || !(used == 1 && count[1] == 1)):
		return false // incomplete (for code length codes, always refused)
	case left > 0:
		// No code, or one code of length 1: the rest of the root decodes
		// as invalid.
		for i := range 1 << root {
			e[i] = entInvalid << 8
		}
	}
	// The symbols in canonical order (by length, then by value): their
	// codes are consecutive numbers, and all codes of one length fill the
	// same number of entries, so the loops below are predictable.
	var start [16]uint16
	for l := 1; l < 15; l++ {
		start[l+1] = start[l] + count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			f.order[start[l]] = uint16(s)
			start[l]++
		}
	}
	t.e, t.root, t.sub = e, root, 0
	if maxLen > root {
		t.sub = maxLen - root
	}
	f.stamp++
	if f.stamp == 0 {
		clear(f.subStamp[:])
		f.stamp = 1
	}
	entryOf := symbolEntries[set][:]
	rootSize := uint32(1) << root
	nextSub := rootSize
	code, i := uint16(0), 0
	for l := uint8(1); l <= maxLen; l++ {
		if l <= root {
			// The first 2^(l-1) entries hold the codes shorter than l,
			// each every 2^(its length) entries: so do the next ones.
			// Entries no code has reached yet are overwritten later (the
			// code is complete, or the rest was made invalid above).
			half := 1 << (l - 1)
			copy(e[half:2*half], e[:half])
		}
		for _, s := range f.order[i : i+int(count[l])] {
			rev := uint32(bits.Reverse16(code) >> (16 - l))
			code++
			v := entryOf[s]
			if l <= root {
				e[rev] = v | uint32(l)
				continue
			}
			prefix := rev & (rootSize - 1)
			if f.subStamp[prefix] != f.stamp {
				f.subStamp[prefix] = f.stamp
				e[prefix] = nextSub<<16 | entSub<<8 | uint32(root)
				nextSub += 1 << t.sub
			}
			sub := e[prefix] >> 16
			v |= uint32(l - root)
			for j := rev >> root; j < 1<<t.sub; j += 1 << (l - root) {
				e[sub+j] = v
			}
		}
		i += int(count[l])
		code <<= 1
	}
	return true
}

// symbolEntries[set][s] is symbolEntry(s, set), for build: one load in
// its loop instead of a switch.
var symbolEntries [3][288]uint32

// symbolEntry is the table entry of symbol s, without its code length.
func symbolEntry(s int, set int) uint32 {
	switch {
	case set == symCL:
		return uint32(s) << 16
	case set == symDist && s < 30:
		return (distBase[s]+1)<<16 | uint32(distExtra[s])<<8
	case set == symDist:
		return entInvalid << 8
	case s < 256:
		return uint32(s)<<16 | entLiteral<<8
	case s == 256:
		return entEnd << 8
	case s < 286:
		c := s - 257
		return (uint32(lengthBase[c])+3)<<16 | uint32(lengthExtra[c])<<8
	}
	return entInvalid << 8
}

// bitReader reads the message and then deflateReadTail, least significant
// bit first. Past both it supplies zeros (see overrun).
type bitReader struct {
	in, tail []byte
	pos      int // bytes taken into bits
	bits     uint64
	nbits    uint8
}

// refill tops bits up to at least 56 bits.
func (r *bitReader) refill() {
	if r.pos+8 <= len(r.in) {
		r.bits |= binary.LittleEndian.Uint64(r.in[r.pos:]) << r.nbits
		r.pos += int(63-r.nbits) >> 3
		r.nbits |= 56
		return
	}
	for r.nbits <= 56 {
		var b byte
		switch i := r.pos; {
		case i < len(r.in):
			b = r.in[i]
		case i-len(r.in) < len(r.tail):
			b = r.tail[i-len(r.in)]
		}
		r.bits |= uint64(b) << r.nbits
		r.nbits += 8
		r.pos++
	}
}

// overrun reports whether more bits were consumed than the input holds.
func (r *bitReader) overrun() bool {
	return r.pos*8-int(r.nbits) > (len(r.in)+len(r.tail))*8
}

func (r *bitReader) take(n uint8) uint64 {
	v := r.bits & (1<<n - 1)
	r.bits >>= n
	r.nbits -= n
	return v
}

// inflateFast decodes the permessage-deflate payload msg (its tail is added
// here) into out, referring back into the history dict followed by dictEnd
// (the connection's window, in the two parts of its ring; or nil), and
// returns the length of the message. It returns
// errInflateFallback if the message does not fit in out, or is malformed.
// Bytes of out past the message may be overwritten (matches are copied a
// word at a time).
func inflateFast(out, msg, dict, dictEnd []byte) (int, error) {
	f := fastInflaterPool.Get().(*fastInflater)
	n, err := f.inflate(out, msg, dict, dictEnd)
	fastInflaterPool.Put(f)
	return n, err
}

func (f *fastInflater) inflate(out, msg, dict, dictEnd []byte) (int, error) {
	r := bitReader{in: msg, tail: deflateReadTail[:]}
	o := 0
	for {
		r.refill()
		if r.overrun() {
			return 0, errInflateFallback
		}
		final := r.take(1)
		lit, dist := &fixedLit, &fixedDist
		switch r.take(2) {
		case 0:
			var ok bool
			if o, ok = storedBlock(&r, out, o); !ok {
				return 0, errInflateFallback
			}
			if final == 1 {
				return o, nil
			}
			continue
		case 1:
		case 2:
			if !f.readTables(&r) {
				return 0, errInflateFallback
			}
			lit, dist = &f.lit, &f.dist
		default:
			return 0, errInflateFallback
		}
		var ok bool
		if o, ok = decodeBlock(&r, out, o, dict, dictEnd, lit, dist); !ok || r.overrun() {
			return 0, errInflateFallback
		}
		if final == 1 {
			return o, nil
		}
	}
}

// storedBlock copies a stored block (its header already read) to out[o:].
func storedBlock(r *bitReader, out []byte, o int) (int, bool) {
	r.take(r.nbits & 7)
	r.refill()
	n := int(r.take(16))
	if uint16(r.take(16)) != ^uint16(n) || n > len(out)-o {
		return o, false
	}
	for ; n > 0; n-- {
		if r.nbits < 8 {
			r.refill()
		}
		out[o] = byte(r.take(8))
		o++
	}
	return o, !r.overrun()
}

// readTables reads a dynamic block's header (RFC 1951 §3.2.7) into f.lit
// and f.dist.
func (f *fastInflater) readTables(r *bitReader) bool {
	r.refill()
	numLit := int(r.take(5)) + 257
	numDist := int(r.take(5)) + 1
	numCL := int(r.take(4)) + 4
	if numLit > 286 || numDist > 30 {
		return false
	}
	var clLen [19]uint8
	for _, s := range codeLengthOrder[:numCL] {
		if r.nbits < 3 {
			r.refill()
		}
		clLen[s] = uint8(r.take(3))
	}
	if !f.clValid || clLen != f.clBuilt {
		// A build that fails has changed no table: cl stays valid.
		if !f.build(&f.cl, f.clEntries[:], clLen[:], 7, symCL) { // lengths of at most 7 bits: no subtables
			return false
		}
		f.clBuilt, f.clValid = clLen, true
	}
	cl := &f.cl
	clMask := uint64(1)<<cl.root - 1
	lengths := f.lengths[:numLit+numDist]
	for i := 0; i < len(lengths); {
		if r.nbits < 16 {
			r.refill()
			if r.overrun() {
				return false
			}
		}
		e := cl.e[r.bits&clMask]
		r.take(uint8(e))
		v := uint8(e >> 16)
		if v < 16 {
			lengths[i] = v
			i++
			continue
		}
		var rep int
		var val uint8
		switch v {
		case 16:
			if i == 0 {
				return false
			}
			val, rep = lengths[i-1], 3+int(r.take(2))
		case 17:
			rep = 3 + int(r.take(3))
		default: // 18
			rep = 11 + int(r.take(7))
		}
		if i+rep > len(lengths) {
			return false
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return false // no end of block
	}
	if numLit == f.builtNumLit && string(lengths) == string(f.built[:f.builtLen]) {
		return true
	}
	f.builtLen = 0 // lit may be built and dist then refused
	if !f.build(&f.lit, f.litEntries[:], lengths[:numLit], litRootBits, symLit) ||
		!f.build(&f.dist, f.distEntries[:], lengths[numLit:], distRootBits, symDist) {
		return false
	}
	f.builtLen, f.builtNumLit = copy(f.built[:], lengths), numLit
	return true
}

// decodeBlock decodes the symbols of a Huffman block into out[o:] up to its
// end of block, and returns the new length of out. It reports false for an
// invalid symbol, a distance reaching before dict, or an out too short. The
// bit buffer is kept in locals (r's fields would be memory operations).
func decodeBlock(r *bitReader, out []byte, o int, dict, dictEnd []byte, lit, dist *huffTable) (int, bool) {
	le, de := lit.e, dist.e
	litRoot, distRoot := lit.root, dist.root
	litMask, litSubMask := uint64(1)<<litRoot-1, uint64(1)<<lit.sub-1
	distMask, distSubMask := uint64(1)<<distRoot-1, uint64(1)<<dist.sub-1
	// The next symbol's root entry is loaded as soon as the bits before it
	// are consumed, before the refill (which adds bits above those already
	// there): the load need not wait for the refill. This needs at least
	// root bits in buf: always after a literal, as the loop starts with 48.
	r.refill()
	in, pos, buf, nbits := r.in, r.pos, r.bits, r.nbits
	e := le[buf&litMask]
	ok := false
	for {
		// A length and its distance take at most 15+5+15+13 bits.
		if nbits < 48 {
			if pos+8 <= len(in) {
				buf |= binary.LittleEndian.Uint64(in[pos:]) << nbits
				pos += int(63-nbits) >> 3
				nbits |= 56
			} else {
				r.pos, r.bits, r.nbits = pos, buf, nbits
				r.refill()
				pos, buf, nbits = r.pos, r.bits, r.nbits
			}
		}
		if uint8(e>>8) == entSub {
			buf >>= litRoot
			nbits -= litRoot
			e = le[e>>16+uint32(buf&litSubMask)]
		}
		buf >>= uint8(e)
		nbits -= uint8(e)
		kind := uint8(e >> 8)
		if kind == entLiteral {
			if o >= len(out) {
				break
			}
			out[o] = byte(e >> 16)
			o++
			e = le[buf&litMask]
			// A second literal of the root table needs no refill: at
			// least 33 bits were left, and the next root entry fits too.
			if uint8(e>>8) == entLiteral && o < len(out) {
				buf >>= uint8(e)
				nbits -= uint8(e)
				out[o] = byte(e >> 16)
				o++
				e = le[buf&litMask]
			}
			continue
		}
		if kind >= entLiteral {
			ok = kind == entEnd
			break
		}
		length := int(e>>16) + int(buf&(1<<kind-1))
		buf >>= kind
		nbits -= kind
		var d uint32
		d, buf, nbits = decodeSymbol(de, distRoot, distMask, distSubMask, buf, nbits)
		dk := uint8(d >> 8)
		if dk >= entLiteral {
			break
		}
		distance := int(d>>16) + int(buf&(1<<dk-1))
		buf >>= dk
		nbits -= dk
		// The next entry, after a refill: a match may have taken all bits.
		// (The refill is the loop top's, written out again: as a function
		// it costs 106 in the inliner's budget of 80, and a call here.)
		if pos+8 <= len(in) {
			buf |= binary.LittleEndian.Uint64(in[pos:]) << nbits
			pos += int(63-nbits) >> 3
			nbits |= 56
		} else {
			r.pos, r.bits, r.nbits = pos, buf, nbits
			r.refill()
			pos, buf, nbits = r.pos, r.bits, r.nbits
		}
		e = le[buf&litMask]
		// A length or distance of 0 could come only from an entry build
		// never wrote; the copies below would then make no progress.
		if uint(length-1) >= uint(len(out)-o) || distance == 0 {
			break
		}
		if distance > o {
			// The start of the copy is in the history before this message,
			// dict then dictEnd.
			back := distance - o
			if back > len(dict)+len(dictEnd) {
				break
			}
			if back > len(dictEnd) {
				k := copy(out[o:o+length], dict[len(dict)+len(dictEnd)-back:])
				o += k
				length -= k
				back = len(dictEnd)
			}
			k := copy(out[o:o+length], dictEnd[len(dictEnd)-back:])
			o += k
			length -= k
			if length == 0 { // the history held the whole match
				continue
			}
		}
		if distance >= 8 && max(length+7, 16) <= len(out)-o {
			// Eight bytes at a time, each word read before it is
			// overwritten as distance >= 8; the stores, the first two
			// without a loop (most matches are no longer), may run past
			// the match's end into bytes not decoded yet: up to 7 bytes,
			// or to 16 bytes from its start.
			from, to := o-distance, o
			o += length
			binary.LittleEndian.PutUint64(out[to:], binary.LittleEndian.Uint64(out[from:]))
			binary.LittleEndian.PutUint64(out[to+8:], binary.LittleEndian.Uint64(out[from+8:]))
			for from, to = from+16, to+16; to < o; from, to = from+8, to+8 {
				binary.LittleEndian.PutUint64(out[to:], binary.LittleEndian.Uint64(out[from:]))
			}
			continue
		}
		// Overlapping copies double the source each round.
		for start := o - distance; length > 0; {
			k := copy(out[o:o+length], out[start:o])
			o += k
			length -= k
		}
	}
	r.pos, r.bits, r.nbits = pos, buf, nbits
	return o, ok
}

// decodeSymbol looks up the code at the start of buf in table t (through its
// subtable if it is longer than root bits) and returns its entry and the bit
// buffer without it.
func decodeSymbol(t []uint32, root uint8, mask, subMask, buf uint64, nbits uint8) (uint32, uint64, uint8) {
	e := t[buf&mask]
	if uint8(e>>8) == entSub {
		buf >>= root
		nbits -= root
		e = t[e>>16+uint32(buf&subMask)]
	}
	return e, buf >> uint8(e), nbits - uint8(e)
}
