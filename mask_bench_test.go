package wsmem

import (
	"fmt"
	"testing"
	"unsafe"
)

// benchSizes are the payload sizes benchmarked: a tiny control frame, a
// typical chat message, then bulk sizes up to one that spills out of L2.
var benchSizes = []struct {
	name string
	n    int
}{
	{"15B", 15},
	{"16B", 16},
	{"125B", 125},
	{"1KiB", 1 << 10},
	{"16KiB", 16 << 10},
	{"64KiB", 64 << 10},
	{"1MiB", 1 << 20},
}

// benchBuf returns n bytes starting off bytes past a 64-byte boundary.
//
// Cost: one allocation of n+off+64 bytes.
func benchBuf(n, off int) []byte {
	buf := make([]byte, n+off+64)
	base := 0
	for uintptr(unsafe.Pointer(&buf[base]))%64 != 0 {
		base++
	}
	b := buf[base+off : base+off+n : base+off+n]
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

// BenchmarkMask masks a buffer in place with every implementation the CPU
// has, next to copy() of the same size and alignment between two buffers.
// Sub-benchmarks are named size=/off=/impl= so that
// "benchstat -col /impl" lays the implementations out side by side.
//
// Re-masking one buffer back to back makes each call load what the last one
// stored, still in the store buffer; copy() never reads what it wrote.
// Short payloads are masked in pieces that do not overlap so that those
// loads are forwarded, but the long kernels' overlapping end vectors load
// across two pending stores and wait for both to reach L1.
// BenchmarkMaskCopy's disjoint mode shows the cost without that.
//
// Cost: 70 sub-benchmarks on a CPU with AVX-512.
func BenchmarkMask(b *testing.B) {
	b.Cleanup(func() { _ = setMaskImpl("") })
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, sz := range benchSizes {
		for _, off := range []int{0, 3} {
			prefix := fmt.Sprintf("size=%s/off=%d/impl=", sz.name, off)
			b.Run(prefix+"copy", func(b *testing.B) {
				src, dst := benchBuf(sz.n, off), benchBuf(sz.n, off)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					copy(dst, src)
				}
			})
			b.Run(prefix+"generic-direct", func(b *testing.B) {
				buf := benchBuf(sz.n, off)
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				pos := 0
				for b.Loop() {
					pos = maskGeneric(buf, key, pos)
				}
			})
			for _, impl := range maskImpls() {
				b.Run(prefix+impl, func(b *testing.B) {
					mustSetImpl(b, impl)
					buf := benchBuf(sz.n, off)
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					pos := 0
					for b.Loop() {
						pos = Mask(buf, key, pos)
					}
				})
			}
		}
	}
}

// BenchmarkMaskCopy runs maskCopy the two ways the codec does: into a
// separate buffer, and in place while moving the payload down over a 14-byte
// frame header. Each is next to the copy() that does the same data movement
// without masking.
//
// Cost: 60 sub-benchmarks on a CPU with AVX-512.
func BenchmarkMaskCopy(b *testing.B) {
	b.Cleanup(func() { _ = setMaskImpl("") })
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	const header = 14
	for _, sz := range benchSizes {
		if sz.n > 64<<10 {
			continue
		}
		for _, mode := range []string{"disjoint", "down14"} {
			setup := func() (dst, src []byte) {
				if mode == "disjoint" {
					return benchBuf(sz.n, 0), benchBuf(sz.n, 0)
				}
				buf := benchBuf(sz.n+header, 0)
				return buf[:sz.n], buf[header:]
			}
			prefix := fmt.Sprintf("size=%s/mode=%s/impl=", sz.name, mode)
			b.Run(prefix+"copy", func(b *testing.B) {
				dst, src := setup()
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					copy(dst, src)
				}
			})
			b.Run(prefix+"generic-direct", func(b *testing.B) {
				dst, src := setup()
				b.SetBytes(int64(sz.n))
				b.ReportAllocs()
				for b.Loop() {
					maskCopyGeneric(dst, src, key, 1)
				}
			})
			for _, impl := range maskImpls() {
				b.Run(prefix+impl, func(b *testing.B) {
					mustSetImpl(b, impl)
					dst, src := setup()
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					for b.Loop() {
						maskCopy(dst, src, key, 1)
					}
				})
			}
		}
	}
}
