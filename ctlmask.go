package wsmem

import (
	"encoding/binary"
	"math/bits"
)

// ctlMaskGeneric returns the control-byte map of b's first 64 bytes: bit j
// is set when b[j], j < min(len(b), 64), is a control byte (below 0x20) or
// DEL (0x7f).
// Per eight bytes it flags the two classes exactly, with no carry between
// bytes (a byte is below 0x20 when its top bit is clear and its low seven
// bits plus 0x60 do not reach bit 7; it is DEL when it XORs to zero with
// 0x7f), then gathers the eight flags into eight bits with one multiply.
//
// Cost: about fifteen operations per eight bytes, a byte loop for the last
// len(b)%8.
func ctlMaskGeneric(b []byte) uint64 {
	const low7, highs = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	b = b[:min(len(b), 64)]
	var m uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		below := ^((x&low7 + 0x6060606060606060) | x) & highs
		d := x ^ 0x7f7f7f7f7f7f7f7f
		del := ^((d&low7 + low7) | d) & highs
		// Bit 8k+7 of the flags lands on bit 56+k of the product, and no
		// two terms of it meet there (checked for all 256 patterns in the
		// tests).
		m |= ((below | del) >> 7 * 0x0102040810204080) >> 56 << i
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < ' ' || c == 0x7f {
			m |= 1 << i
		}
	}
	return m
}

// ctlMapGeneric is the portable ctlMap: it sets out to the control-byte
// map of b's first 256 bytes (bit j%64 of out[j/64] for b[j]), 64 at a
// time with ctlMaskGeneric; bits past len(b) are clear.
//
// Cost: ctlMaskGeneric's per 64 bytes.
func ctlMapGeneric(out *[4]uint64, b []byte) {
	for w := range out {
		out[w] = 0
		if 64*w < len(b) {
			out[w] = ctlMaskGeneric(b[64*w:])
		}
	}
}

// mapWindow is how many bytes a lineScanner maps at once.
const mapWindow = 256

// lineScanner finds the control bytes of a head in order: ctl maps the
// (up to) 256 bytes of b from base on, one bit per byte (bit j%64 of
// ctl[j/64] for b[base+j]), and a search inside them is a shift and a
// trailing zero count. A window is mapped once however many lines it
// holds, with ctlMap (SIMD on amd64), so a line's end costs no loop of its
// own.
type lineScanner struct {
	b    []byte
	base int       // the first byte ctl maps; len(b) before the first map
	ctl  [5]uint64 // bit j%64 of ctl[j/64]: b[base+j] is a control byte or DEL; ctl[4] stays 0
}

// newLineScanner returns a scanner of b.
func newLineScanner(b []byte) lineScanner { return lineScanner{b: b, base: len(b)} }

// peek returns the index of the first control byte or DEL at or after i
// when the map has one among the 64 bytes from i, else -1. (Past the
// window ctl[4] reads as none.)
//
// Cost: a compare, two shifts and a trailing zero count; inlined.
func (s *lineScanner) peek(i int) int {
	d := uint(i - s.base)
	if d >= mapWindow {
		return -1
	}
	w, sh := d/64, d%64
	m := s.ctl[w]>>sh | s.ctl[w+1]<<(64-sh) // a shift by 64 gives 0
	if m == 0 {
		return -1
	}
	return i + bits.TrailingZeros64(m)
}

// next returns the index of the first control byte or DEL of b at or after
// i, or len(b) when there is none. It walks the words of the map from the
// one that holds i, and maps a new window from i when i is outside the
// mapped one, so it is cheapest when calls go forward, as a parse's do.
// (peek is the inlined first step.)
//
// Cost: a few operations per 64 bytes walked, and ctlMap's per window.
func (s *lineScanner) next(i int) int {
	b := s.b
	for i < len(b) {
		d := uint(i - s.base)
		if d >= mapWindow {
			s.base, d = i, 0
			ctlMap((*[4]uint64)(s.ctl[:4]), b[i:])
		}
		if m := s.ctl[d/64] >> (d % 64); m != 0 {
			return i + bits.TrailingZeros64(m)
		}
		i = s.base + int(d/64+1)*64
	}
	return len(b)
}
