package wsmem

import (
	"encoding/binary"
	"math/bits"
)

// This file is the portable masking code: the whole implementation where
// there is no assembly (other GOARCHes, -tags purego), and the reference
// the assembly kernels are tested against.
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
	return maskBytes(b, b, key, pos)
}

// maskCopyGeneric is maskCopy in portable Go: it writes src XOR key into
// dst[:len(src)] from phase pos&3 and returns the next phase. Same aliasing
// rules as maskCopy.
//
// Cost: no allocation; 8 bytes per step, 32 per loop iteration.
func maskCopyGeneric(dst, src []byte, key [4]byte, pos int) int {
	return maskBytes(dst, src, key, pos)
}

// maskBytes masks len(src) bytes of src into dst[:len(src)] with key,
// starting at phase pos&3, and returns the phase after the last byte. Up to 32 bytes it walks forwards in pieces that
// never overlap: whole 8-byte words, then a 4-, 2- and 1-byte piece as the
// low bits of n ask, each loaded before it is stored. Re-masking a buffer
// (or masking bytes just written) then loads each piece from a store of the
// same width and address, which the CPU forwards, where overlapping end
// words would load across two earlier stores and wait for both. Above 32
// bytes it runs maskWords.
//
// Cost: at most seven loads and stores and a branch chain up to 32 bytes;
// one 8-byte load, XOR and store per 8 bytes above.
func maskBytes(dst, src []byte, key [4]byte, pos int) (next int) {
	n := len(src)
	dst = dst[:n]
	k := maskKey(key, pos)
	next = (pos + n) & 3
	if n > 32 {
		maskWords(dst, src, k)
		return next
	}
	// Every piece up to the 2-byte one starts a multiple of 4 bytes in, so
	// k fits it as it is; the last byte takes k shifted past that piece.
	k64 := uint64(k)<<32 | uint64(k)
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	if n&4 != 0 {
		binary.LittleEndian.PutUint32(dst[i:], binary.LittleEndian.Uint32(src[i:])^k)
		i += 4
	}
	if n&2 != 0 {
		binary.LittleEndian.PutUint16(dst[i:], binary.LittleEndian.Uint16(src[i:])^uint16(k))
		i += 2
		k >>= 16
	}
	if n&1 != 0 {
		dst[i] = src[i] ^ byte(k)
	}
	return next
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
