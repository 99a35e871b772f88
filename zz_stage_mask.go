package wsmem

// Temporary stand-in until the SIMD masking lands (replaced by mask.go).

// Mask XORs b in place with key, starting at key phase pos, and returns the next phase.
func Mask(b []byte, key [4]byte, pos int) int {
	pos &= 3
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	pos &= 3
	for i := range src {
		dst[i] = src[i] ^ key[(pos+i)&3]
	}
	return (pos + len(src)) & 3
}
