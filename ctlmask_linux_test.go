//go:build linux

package wsmem

import (
	"math/rand/v2"
	"testing"
)

// TestCtlMapPageBoundary maps control bytes from slices that end exactly
// where a page ends or start exactly where it starts, every length 0..300:
// ctlMap reads no byte outside its slice, or it faults.
//
// Cost: a few milliseconds.
func TestCtlMapPageBoundary(t *testing.T) {
	_, page := fencedPage(t)
	ps := len(page)
	r := rand.New(rand.NewPCG(13, 14))
	for k := range page {
		page[k] = byte(r.IntN(0x90))
	}
	for n := 0; n <= 300; n++ {
		for _, b := range [][]byte{page[ps-n:], page[:n:n]} {
			var got [4]uint64
			if ctlMap(&got, b); got != naiveCtlMap(b) {
				t.Fatalf("ctlMap of %d bytes = %#x, want %#x", n, got, naiveCtlMap(b))
			}
		}
	}
}
