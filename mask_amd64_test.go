//go:build amd64 && !purego

package wsmem

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMaskKernelsDirect calls each long assembly kernel the CPU supports
// directly, for every length from two vectors up, every
// destination alignment and all three aliasing modes, against naiveMask.
//
// Cost: about 0.5 s (0.1 s with -short).
func TestMaskKernelsDirect(t *testing.T) {
	type kernel struct {
		name  string
		level int
		width int
		fn    func(dst, src []byte, key uint32, pos int)
	}
	kernels := []kernel{
		{"sse2", implSSE2, 16, maskSSE2},
		{"avx2", implAVX2, 32, maskAVX2},
		{"avx512", implAVX512, 64, maskAVX512},
	}
	maxLen := 700
	if testing.Short() {
		maxLen = 200
	}
	r := rand.New(rand.NewPCG(13, 14))
	key := randomKey(r)
	for _, kr := range kernels {
		if kr.level > maskBest {
			t.Logf("%s: not supported by this CPU, skipped", kr.name)
			continue
		}
		t.Run(kr.name, func(t *testing.T) {
			buf, base := alignedBuf(maxLen + 14)
			other, obase := alignedBuf(maxLen)
			orig := make([]byte, len(buf))
			fillRandom(r, orig)
			want := make([]byte, maxLen)
			for n := 2 * kr.width; n <= maxLen; n++ {
				for align := 0; align < 64; align++ {
					pos := (n * 7) & 3
					for _, mode := range []string{"same", "disjoint", "down"} {
						// src always starts at base+align+shift; dst is the same
						// slice, another buffer at the same alignment, or src
						// moved down by 1..14 bytes.
						shift := 0
						if mode == "down" {
							shift = 1 + (n+align)%14
						}
						slo := base + align + shift
						copy(buf, orig)
						copy(want, orig[slo:slo+n])
						naiveMask(want[:n], key, pos)
						dlo, dbuf := slo-shift, buf
						if mode == "disjoint" {
							dlo, dbuf = obase+align, other
							clear(other)
						}
						kr.fn(dbuf[dlo:dlo+n], buf[slo:slo+n], binary.LittleEndian.Uint32(key[:]), pos)
						what := fmt.Sprintf("len %d align %d %s (shift %d)", n, align, mode, shift)
						if !bytes.Equal(dbuf[dlo:dlo+n], want[:n]) {
							t.Fatalf("%s: wrong result", what)
						}
						if mode == "disjoint" {
							if !bytes.Equal(buf, orig) {
								t.Fatalf("%s: source changed", what)
							}
							if !bytes.Equal(other[:dlo], make([]byte, dlo)) ||
								!bytes.Equal(other[dlo+n:], make([]byte, len(other)-dlo-n)) {
								t.Fatalf("%s: wrote outside dst", what)
							}
						} else {
							checkGuards(t, what, buf, orig, dlo, dlo+n)
						}
					}
				}
			}
		})
	}
}

// TestMaskShortKernelsDirect calls each short assembly kernel the CPU
// supports directly, for every length it takes (0 to two vectors less
// one), every destination alignment, every phase and all three aliasing
// modes, against naiveMask, checking that no byte outside dst changes.
//
// Cost: about 0.2 s.
func TestMaskShortKernelsDirect(t *testing.T) {
	kernels := []struct {
		name   string
		level  int
		maxLen int
		fn     func(dst, src []byte, key uint32, pos int)
	}{
		{"tiny", implSSE2, 63, maskTiny},
		{"sse2", implSSE2, 31, maskShortSSE2},
		{"avx2", implAVX2, 63, maskShortAVX2},
		{"avx512", implAVX512, 127, maskShortAVX512},
	}
	for _, kr := range kernels {
		if kr.level > maskBest {
			t.Logf("%s: not supported by this CPU, skipped", kr.name)
			continue
		}
		t.Run(kr.name, func(t *testing.T) { testShortKernel(t, kr.maxLen, kr.fn) })
	}
}

// testShortKernel is TestMaskShortKernelsDirect for one kernel.
func testShortKernel(t *testing.T, maxLen int, fn func(dst, src []byte, key uint32, pos int)) {
	r := rand.New(rand.NewPCG(15, 16))
	key := randomKey(r)
	buf, base := alignedBuf(maxLen + 14)
	other, obase := alignedBuf(maxLen)
	orig := make([]byte, len(buf))
	fillRandom(r, orig)
	otherOrig := make([]byte, len(other))
	fillRandom(r, otherOrig)
	want := make([]byte, maxLen)
	for n := 0; n <= maxLen; n++ {
		for align := 0; align < 64; align++ {
			for pos := 0; pos < 4; pos++ {
				for _, mode := range []string{"same", "disjoint", "down"} {
					shift := 0
					if mode == "down" {
						shift = 1 + (n+align+pos)%14
					}
					slo := base + align + shift
					copy(buf, orig)
					copy(other, otherOrig)
					copy(want, orig[slo:slo+n])
					naiveMask(want[:n], key, pos)
					dlo, dbuf, dorig := slo-shift, buf, orig
					if mode == "disjoint" {
						dlo, dbuf, dorig = obase+align, other, otherOrig
					}
					fn(dbuf[dlo:dlo+n], buf[slo:slo+n], binary.LittleEndian.Uint32(key[:]), pos)
					what := fmt.Sprintf("len %d align %d pos %d %s (shift %d)", n, align, pos, mode, shift)
					if !bytes.Equal(dbuf[dlo:dlo+n], want[:n]) {
						t.Fatalf("%s: wrong result", what)
					}
					checkGuards(t, what, dbuf, dorig, dlo, dlo+n)
					if mode == "disjoint" && !bytes.Equal(buf, orig) {
						t.Fatalf("%s: source changed", what)
					}
				}
			}
		}
	}
}
