//go:build !amd64 || purego

package wsmem

// ctlMap sets out to the control-byte map of b's first 256 bytes: the
// portable code is the only one here.
func ctlMap(out *[4]uint64, b []byte) { ctlMapGeneric(out, b) }
