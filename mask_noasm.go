//go:build !amd64 || purego

package wsmem

// Without assembly there is one implementation level, the portable one.
const (
	implGeneric = iota
	maskLevel   = implGeneric
)

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

// maskSIMD would run the vector kernels; here maskLevel is always
// implGeneric, so maskBytes never calls it. It masks with the portable word
// loop all the same (the extra keys are for the kernels' aligned middle and
// overlapping end, which the word loop does not need).
//
// Cost: one 8-byte load, XOR and store per 8 bytes.
func maskSIMD(dst, src []byte, k, _, _ uint32) {
	maskWords(dst, src, k)
}
