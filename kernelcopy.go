package wsmem

import (
	"unsafe"

	"github.com/valyala/bytebufferpool"
)

// Where the frames wsmem writes sit in memory, for the kernel's copy.
//
// The kernel copies what a connection writes into pages of its socket
// buffer, from where the thread's earlier writes left off: the page's
// start when they have been freed, a few bytes on after a small write such
// as an acknowledgement or a pong. Linux copies from user memory with REP
// MOVSB on CPUs that have FSRM, and on AMD Zen 3 REP MOVSB runs about 20
// times slower when its destination lies 1 to 31 bytes past its source
// modulo 4 KiB: on this project's test machine 64 KiB take 30-40 µs
// instead of 1.4-2.6 µs (the README's echo note has the measurements and
// what others report). wsmem cannot see where the kernel
// is in its page, but keeps clear of that distance as long as the frame
// starts at most pageLeftover bytes into it: a server copies a payload
// that would land there (kernelCopyAliases) to a safe place (safeStart)
// before writing it, and frames wsmem builds start at such a place.

// pageLeftover is how far into the kernel's socket page a frame may start
// for the placement below to keep its copy fast.
const pageLeftover = 1024

// safeFrom and safeTo bound the page offsets a frame is copied to: written
// from there, for leftovers of 0 to pageLeftover bytes, the kernel's copy
// lands 32 or more bytes past its source modulo 4 KiB, or on it. safeTo
// leaves room for a header that starts up to MaxHeaderSize bytes later.
const (
	safeFrom = pageLeftover
	safeTo   = 4096 - 32 - MaxHeaderSize
)

// maxSafeSkip is the most safeStart skips.
const maxSafeSkip = safeFrom + 4095 - safeTo

// pageOffset returns where in its 4 KiB page b starts.
func pageOffset(b []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(b))) & 4095)
}

// safeStart returns the index in b of its first byte whose page offset is
// from safeFrom to safeTo: 0 when b starts there, at most maxSafeSkip.
//
// Cost: a few instructions.
func safeStart(b []byte) int {
	off := pageOffset(b)
	if off >= safeFrom && off <= safeTo {
		return 0
	}
	return (safeFrom - off) & 4095
}

// kernelCopyAliases reports whether the payload slice p, written from byte
// at of a frame without a copy, could be copied 1 to 31 bytes past its own
// address modulo 4 KiB: whether at, plus a leftover of 0 to pageLeftover
// bytes, minus p's page offset is in that range. Payloads from a page's
// start — a large buffer from make, sent from its beginning — always are.
//
// Cost: a subtraction and a compare.
func kernelCopyAliases(p []byte, at int) bool {
	return (at-pageOffset(p)+pageLeftover-1)&4095 < pageLeftover+31
}

// slicesAlias reports whether kernelCopyAliases flags any of the payload
// slices p and more, each at its place in the frame: after a header of
// hdrLen bytes and the slices before it.
func slicesAlias(hdrLen int, p []byte, more [][]byte) bool {
	if len(p) > 0 && kernelCopyAliases(p, hdrLen) {
		return true
	}
	at := hdrLen + len(p)
	for _, b := range more {
		if len(b) > 0 && kernelCopyAliases(b, at) {
			return true
		}
		at += len(b)
	}
	return false
}

// copyBufferSize is the smallest of the buffers writeCopied copies frames
// into; the classes double up to 128 KiB, so that a write a slow peer
// blocks holds about its frame's size, not the largest buffer.
const copyBufferSize = 4 << 10

// copyPools holds writeCopied's buffers, one pool per size class:
// copyBufferSize<<k bytes in copyPools[k].
var copyPools [6]bytebufferpool.Pool

// copiedMax is the largest payload writeCopied sends: its frame, after
// safeStart's skip, fits the largest class.
const copiedMax = copyBufferSize<<(len(copyPools)-1) - maxSafeSkip - MaxHeaderSize

// copyClass returns the index in copyPools of the smallest buffers that
// hold a frame of n bytes after safeStart's skip (n up to copiedMax plus a
// header).
func copyClass(n int) int {
	k := 0
	for copyBufferSize<<k < n+maxSafeSkip {
		k++
	}
	return k
}

// pagePlacedMin is the frame size from which pagePlaced places a buffer:
// below it the kernel's slow copy costs a few µs at most.
const pagePlacedMin = 8 << 10

// pagePlaced returns a new buffer of n bytes for a frame written whole,
// again and again (a prepared message): from pagePlacedMin bytes on, one
// that starts where safeStart says (up to maxSafeSkip more bytes are
// allocated).
func pagePlaced(n int) []byte {
	if n < pagePlacedMin {
		return make([]byte, n)
	}
	b := make([]byte, n+maxSafeSkip)
	start := safeStart(b)
	return b[start : start+n : start+n]
}
