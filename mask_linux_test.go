//go:build linux

package wsmem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"golang.org/x/sys/unix"
)

// fencedPage maps three pages, makes the first and last PROT_NONE and
// returns the whole mapping and the readable, writable middle page. Any
// access just before or just after the middle page faults.
//
// Cost: one mmap and two mprotect calls; unmapped when t finishes.
func fencedPage(t *testing.T) (mapping, page []byte) {
	t.Helper()
	ps := unix.Getpagesize()
	m, err := unix.Mmap(-1, 0, 3*ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	t.Cleanup(func() { _ = unix.Munmap(m) })
	if err := unix.Mprotect(m[:ps], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	if err := unix.Mprotect(m[2*ps:], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	return m, m[ps : 2*ps : 2*ps]
}

// TestMaskPageBoundary masks slices that end exactly where the page ends,
// and slices that start exactly where it starts, for every length 0..600 and
// every implementation: an over-read or over-write by even one byte faults.
// maskCopy is run with the source, the destination, or both (moved down by
// k bytes) touching the fences.
//
// Cost: about 0.1 s.
func TestMaskPageBoundary(t *testing.T) {
	_, src := fencedPage(t)
	_, dst := fencedPage(t)
	ps := len(src)
	const maxLen = 600
	r := rand.New(rand.NewPCG(11, 12))
	key := randomKey(r)
	orig := make([]byte, ps)
	fillRandom(r, orig)
	want := make([]byte, maxLen)

	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			for n := 0; n <= maxLen; n++ {
				pos := n & 3
				check := func(what string, got []byte, next int) {
					t.Helper()
					if next != (pos+n)&3 || !bytes.Equal(got, want[:n]) {
						t.Fatalf("len %d %s: wrong result or phase", n, what)
					}
				}
				for _, lo := range []int{ps - n, 0} {
					where := fmt.Sprintf("at [%d:%d]", lo, lo+n)
					copy(want, orig[lo:lo+n])
					naiveMask(want[:n], key, pos)

					copy(src, orig)
					check("Mask "+where, src[lo:lo+n], impl.mask(src[lo:lo+n:lo+n], key, pos))

					copy(src, orig)
					s := src[lo : lo+n : lo+n]
					check("maskCopy same slice "+where, s, impl.maskCopy(s, s, key, pos))

					copy(src, orig)
					clear(dst)
					check("maskCopy disjoint "+where, dst[lo:lo+n], impl.maskCopy(dst[lo:lo+n:lo+n], src[lo:lo+n:lo+n], key, pos))
				}
				// Moving down by k: the source ends at the page end, the
				// destination starts at the page start when n+k fills the page.
				for k := 1; k <= 14; k++ {
					slo := ps - n
					if slo-k < 0 {
						continue
					}
					copy(want, orig[slo:])
					naiveMask(want[:n], key, pos)
					copy(src, orig)
					check(fmt.Sprintf("maskCopy down %d", k), src[slo-k:slo-k+n],
						impl.maskCopy(src[slo-k:slo-k+n:slo-k+n], src[slo:], key, pos))
				}
				k := min(14, ps-n)
				copy(want, orig[k:k+n])
				naiveMask(want[:n], key, pos)
				copy(src, orig)
				check("maskCopy down from page start", src[:n], impl.maskCopy(src[:n:n], src[k:k+n:k+n], key, pos))
			}
		})
	}
}
