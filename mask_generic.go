package wsmem

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// This file is the portable masking code: the whole implementation where
// there is no assembly (other GOARCHes, -tags purego), the short-payload path
// everywhere, and the reference the SIMD kernels are tested against.
//
// Every routine here is safe when dst and src are the same slice, disjoint,
// or overlap with dst starting before src: it walks forwards, loads each word
// before storing it, and when two words overlap it loads both before storing
// either, so no byte is XORed twice or read after it was overwritten.

// maskKey returns the key as a little-endian word rotated so that its low
// byte is key[pos&3], the key byte for the first payload byte.
//
// Cost: a load and a rotate; inlined.
func maskKey(key [4]byte, pos int) uint32 {
	return bits.RotateLeft32(binary.LittleEndian.Uint32(key[:]), -8*(pos&3))
}

// maskGeneric is Mask in portable Go: it XORs b in place with key from phase
// pos&3 and returns the next phase.
//
// Cost: no allocation; 8 bytes per step, 32 per loop iteration.
func maskGeneric(b []byte, key [4]byte, pos int) int {
	return maskCopyGeneric(b, b, key, pos)
}

// maskCopyGeneric is maskCopy in portable Go: it writes src XOR key into
// dst[:len(src)] from phase pos&3 and returns the next phase. Same aliasing
// rules as maskCopy.
//
// Cost: no allocation; 8 bytes per step, 32 per loop iteration.
func maskCopyGeneric(dst, src []byte, key [4]byte, pos int) int {
	maskBytes(dst, src, key, pos, false)
	return (pos + len(src)) & 3
}

// maskBytes masks len(src) bytes of src into dst[:len(src)] with key,
// starting at phase pos&3. Up to 32 bytes it loads every word it needs
// first (four 8-byte words, two of 8, 4 or 2 bytes, possibly overlapping,
// or one byte) and then stores them; above 32 bytes it calls maskSIMD (the
// assembly kernels) if vec is set, else maskWords. The short cases live here
// rather than in functions of their own so that a short payload costs one
// call and a long one a call plus the kernel. (On amd64 the assembly path
// has a fixed cost of about 4 ns, more than masking 32 bytes here.)
//
// Cost: at most four loads, four stores and a branch chain up to 32 bytes;
// the cost of maskSIMD or maskWords above.
func maskBytes(dst, src []byte, key [4]byte, pos int, vec bool) {
	n := len(src)
	dst = dst[:n]
	k := maskKey(key, pos)
	switch {
	case n > 32:
		if !vec {
			maskWords(dst, src, k)
			break
		}
		// Besides k, the kernels take the key at the first 4-byte-aligned
		// address of dst, where their aligned stores start, and at the phase
		// after the end, which their last vector (a multiple of 4 bytes long)
		// starts with. Working them out here keeps maskSIMD inlinable.
		d := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
		maskSIMD(dst, src, k, maskKey(key, pos-int(d&3)), maskKey(key, pos+n))
	case n >= 16:
		// Words at 0, 8, n-16 and n-8; the last two have the phase of n.
		k64 := uint64(k)<<32 | uint64(k)
		e64 := bits.RotateLeft64(k64, -8*(n&3))
		a := binary.LittleEndian.Uint64(src)
		b := binary.LittleEndian.Uint64(src[8:])
		c := binary.LittleEndian.Uint64(src[n-16:])
		d := binary.LittleEndian.Uint64(src[n-8:])
		binary.LittleEndian.PutUint64(dst, a^k64)
		binary.LittleEndian.PutUint64(dst[8:], b^k64)
		binary.LittleEndian.PutUint64(dst[n-16:], c^e64)
		binary.LittleEndian.PutUint64(dst[n-8:], d^e64)
	case n >= 8:
		k64 := uint64(k)<<32 | uint64(k)
		a := binary.LittleEndian.Uint64(src)
		b := binary.LittleEndian.Uint64(src[n-8:])
		binary.LittleEndian.PutUint64(dst, a^k64)
		binary.LittleEndian.PutUint64(dst[n-8:], b^bits.RotateLeft64(k64, -8*(n&3)))
	case n >= 4:
		a := binary.LittleEndian.Uint32(src)
		b := binary.LittleEndian.Uint32(src[n-4:])
		binary.LittleEndian.PutUint32(dst, a^k)
		binary.LittleEndian.PutUint32(dst[n-4:], b^bits.RotateLeft32(k, -8*(n&3)))
	case n >= 2:
		a := binary.LittleEndian.Uint16(src)
		b := binary.LittleEndian.Uint16(src[n-2:])
		binary.LittleEndian.PutUint16(dst, a^uint16(k))
		binary.LittleEndian.PutUint16(dst[n-2:], b^uint16(k>>(8*(n-2))))
	case n == 1:
		dst[0] = src[0] ^ byte(k)
	}
}

// maskWords masks len(src) >= 8 bytes into dst (same length) with the
// rotated key word k, 8 bytes at a time. The ragged end is one more 8-byte
// word that overlaps the last whole one; it is loaded before the loop and
// stored after it, so the loop cannot have changed its input.
//
// Cost: one 8-byte load, XOR and store per 8 bytes, unrolled to 32.
func maskWords(dst, src []byte, k uint32) {
	n := len(src)
	dst = dst[:n]
	k64 := uint64(k)<<32 | uint64(k)
	last := binary.LittleEndian.Uint64(src[n-8:]) ^ bits.RotateLeft64(k64, -8*(n&3))
	i := 0
	for ; i <= n-32; i += 32 {
		s := src[i : i+32]
		d := dst[i : i+32]
		w0 := binary.LittleEndian.Uint64(s[0:])
		w1 := binary.LittleEndian.Uint64(s[8:])
		w2 := binary.LittleEndian.Uint64(s[16:])
		w3 := binary.LittleEndian.Uint64(s[24:])
		binary.LittleEndian.PutUint64(d[0:], w0^k64)
		binary.LittleEndian.PutUint64(d[8:], w1^k64)
		binary.LittleEndian.PutUint64(d[16:], w2^k64)
		binary.LittleEndian.PutUint64(d[24:], w3^k64)
	}
	for ; i <= n-8; i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(dst[i:], w^k64)
	}
	binary.LittleEndian.PutUint64(dst[n-8:], last)
}
