package wsmem

// Mask XORs b in place with the 4-byte masking key, as RFC 6455 section 5.3
// asks of every client-to-server payload. pos is the key phase of b[0]
// (only pos&3 counts), so a payload can be masked in pieces by passing each
// call's result to the next. It returns the phase of the byte after b,
// (pos+len(b))&3.
//
// Cost: no allocation; a few nanoseconds up to 128 bytes, then close to
// copy() throughput, using the widest SIMD kernel the CPU offers on amd64.
// Mask inlines into its caller, leaving one call: on amd64, straight into
// the assembly.
func Mask(b []byte, key [4]byte, pos int) int {
	return maskInPlace(b, key, pos)
}

// maskCopy writes src XOR key into dst[:len(src)], starting at key phase
// pos&3, and returns the phase after the last byte, (pos+len(src))&3. It
// panics if dst is shorter than src.
//
// dst and src may be the same slice, disjoint, or overlap with dst starting
// before src (dst = buf, src = buf[k:]): that lets the codec unmask a payload
// and move it down over its frame header in one pass. dst starting after src
// inside it is not supported.
//
// Cost: no allocation; the same as Mask, one read and one write per byte.
// It inlines too.
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	return maskAny(dst, src, key, pos)
}
