//go:build amd64 && !purego

package wsmem

import (
	"bytes"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestMaskKernelsDirect calls each assembly kernel the CPU supports
// directly, for every length from its vector width up (the dispatcher sends
// AVX-512 only 128 bytes and more, but the kernel promises 64), every
// destination alignment and all three aliasing modes, against naiveMask.
//
// Cost: about 0.5 s (0.1 s with -short).
func TestMaskKernelsDirect(t *testing.T) {
	type kernel struct {
		name  string
		level int
		width int
		fn    func(dst, src *byte, n int, key, alignedKey, endKey uint32)
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
			for n := kr.width; n <= maxLen; n++ {
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
						d := unsafe.Pointer(&dbuf[dlo])
						k := maskKey(key, pos)
						kr.fn((*byte)(d), &buf[slo], n, k,
							maskKey(key, pos-int(uintptr(d)&3)), bits.RotateLeft32(k, -8*n))
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

// TestMaskShortAVX512Direct calls maskShortAVX512 directly for every length
// 1..128 it takes (the dispatcher only sends it 16 and more), every
// destination alignment, every phase and all three aliasing modes, against
// naiveMask, checking that no byte outside dst changes: its masked stores
// must write exactly n bytes.
//
// Cost: about 0.1 s.
func TestMaskShortAVX512Direct(t *testing.T) {
	if maskBest < implAVX512 {
		t.Skip("AVX-512BW not supported by this CPU")
	}
	const maxLen = 128
	r := rand.New(rand.NewPCG(15, 16))
	key := randomKey(r)
	buf, base := alignedBuf(maxLen + 14)
	other, obase := alignedBuf(maxLen)
	orig := make([]byte, len(buf))
	fillRandom(r, orig)
	otherOrig := make([]byte, len(other))
	fillRandom(r, otherOrig)
	want := make([]byte, maxLen)
	for n := 1; n <= maxLen; n++ {
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
					maskShortAVX512(&dbuf[dlo], &buf[slo], n, maskKey(key, pos))
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
