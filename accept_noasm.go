//go:build !amd64 || purego

package wsmem

// acceptSum sets sum to the SHA-1 of key followed by the GUID: the
// portable code is the only one here.
func acceptSum(key *[24]byte, sum *[20]byte) { acceptSumGeneric(key, sum) }

// acceptHasAsm and setAcceptAsm let tests run both implementations; there
// is only one here.
func acceptHasAsm() bool { return false }

func setAcceptAsm(bool) {}
