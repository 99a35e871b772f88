//go:build !amd64 || purego

package wsmem

// acceptValue sets out to the Sec-WebSocket-Accept value for key: the
// portable code is the only one here.
//
// Cost: crypto/sha1's two blocks and encodeAccept's 28 lookups.
func acceptValue(key *[24]byte, out *[28]byte) { acceptValueGeneric(key, out) }

// acceptHasAsm and setAcceptAsm let tests run both implementations; there
// is only one here.
func acceptHasAsm() bool { return false }

func setAcceptAsm(bool) {}
