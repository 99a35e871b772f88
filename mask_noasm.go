//go:build !amd64 || purego

package wsmem

// maskAny masks len(src) bytes of src into dst[:len(src)] with key from
// phase pos&3 and returns the phase after the last byte: here, with the
// portable code.
//
// Cost: that of maskBytes; inlined into maskCopy.
func maskAny(dst, src []byte, key [4]byte, pos int) int {
	return maskBytes(dst, src, key, pos)
}

// maskInPlace masks b in place with key from phase pos&3 and returns the
// phase after the last byte: here, with the portable code.
//
// Cost: that of maskBytes; inlined into Mask.
func maskInPlace(b []byte, key [4]byte, pos int) int {
	return maskBytes(b, b, key, pos)
}

// maskImpls lists the implementations available here: only the portable
// one.
//
// Cost: allocates the returned one-element slice.
func maskImpls() []string {
	return []string{"generic"}
}

// setMaskImpl accepts "generic" or "" (the default) and reports whether the
// name was one of those; there is nothing else to switch to.
//
// Cost: a string comparison.
func setMaskImpl(name string) bool {
	return name == "" || name == "generic"
}
