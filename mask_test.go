package wsmem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// naiveMask is the obviously correct byte loop every implementation is
// checked against.
//
// Cost: one byte per iteration, about 1 ns/byte.
func naiveMask(b []byte, key [4]byte, pos int) int {
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// maskImpl is one implementation under test, seen through the same two
// entry points the codec uses.
type maskImpl struct {
	name     string
	mask     func(b []byte, key [4]byte, pos int) int
	maskCopy func(dst, src []byte, key [4]byte, pos int) int
}

// testImpls returns the portable functions called directly, plus Mask and
// maskCopy with each level this CPU supports selected in turn. Selecting a
// level is undone when t finishes.
//
// Cost: a few small closures.
func testImpls(t testing.TB) []maskImpl {
	t.Cleanup(func() { _ = setMaskImpl("") })
	impls := []maskImpl{{name: "generic-direct", mask: maskGeneric, maskCopy: maskCopyGeneric}}
	for _, name := range maskImpls() {
		impls = append(impls, maskImpl{
			name: name,
			mask: func(b []byte, key [4]byte, pos int) int {
				mustSetImpl(t, name)
				return Mask(b, key, pos)
			},
			maskCopy: func(dst, src []byte, key [4]byte, pos int) int {
				mustSetImpl(t, name)
				return maskCopy(dst, src, key, pos)
			},
		})
	}
	return impls
}

// mustSetImpl selects the named implementation or fails the test.
//
// Cost: a short scan of the names.
func mustSetImpl(t testing.TB, name string) {
	if !setMaskImpl(name) {
		t.Fatalf("setMaskImpl(%q) = false; maskImpls() = %v", name, maskImpls())
	}
}

const guard = 64 // untouchable bytes on each side of every slice under test

// alignedBuf returns a zeroed buffer of n+2*guard+64 bytes and the index in
// it of the first byte after the leading guard that is 64-byte aligned.
//
// Cost: one allocation.
func alignedBuf(n int) ([]byte, int) {
	buf := make([]byte, n+2*guard+64)
	base := guard
	for uintptr(unsafe.Pointer(&buf[base]))%64 != 0 {
		base++
	}
	return buf, base
}

// fillRandom fills b with bytes from r.
//
// Cost: one generator call per byte.
func fillRandom(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// checkGuards fails the test if buf differs from orig outside [lo, hi).
//
// Cost: two bytes.Equal calls.
func checkGuards(t *testing.T, what string, buf, orig []byte, lo, hi int) {
	t.Helper()
	if !bytes.Equal(buf[:lo], orig[:lo]) {
		t.Fatalf("%s: bytes before the slice were changed", what)
	}
	if !bytes.Equal(buf[hi:], orig[hi:]) {
		t.Fatalf("%s: bytes after the slice were changed", what)
	}
}

// randomKey returns a key whose four bytes all differ and are non-zero, so
// a byte masked with the wrong key byte, or twice, always shows.
//
// Cost: a few generator calls.
func randomKey(r *rand.Rand) [4]byte {
	for {
		var k [4]byte
		v := r.Uint32()
		k[0], k[1], k[2], k[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		if k[0] != 0 && k[0] != k[1] && k[0] != k[2] && k[0] != k[3] &&
			k[1] != 0 && k[1] != k[2] && k[1] != k[3] && k[2] != 0 && k[2] != k[3] && k[3] != 0 {
			return k
		}
	}
}

// TestMaskKnownAnswer checks the RFC's own example, and that masking twice
// restores the text, on every implementation.
//
// Cost: microseconds.
func TestMaskKnownAnswer(t *testing.T) {
	// RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	for _, impl := range testImpls(t) {
		b := []byte("Hello")
		if next := impl.mask(b, key, 0); next != 1 {
			t.Errorf("%s: next phase %d, want 1", impl.name, next)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: got % x, want % x", impl.name, b, want)
		}
		// Masking again restores the text.
		impl.mask(b, key, 0)
		if string(b) != "Hello" {
			t.Errorf("%s: unmask gave %q", impl.name, b)
		}
	}
}

// TestMaskLengthsAlignmentsPhases masks every length 0..1024 at every
// alignment 0..63 and phase 0..3 (passing phases outside 0..3 too) in
// place, with guard bytes around the slice, on every implementation.
//
// Cost: about 1 s (0.1 s with -short).
func TestMaskLengthsAlignmentsPhases(t *testing.T) {
	maxLen, alignStep := 1024, 1
	if testing.Short() {
		maxLen, alignStep = 300, 7
	}
	r := rand.New(rand.NewPCG(1, 2))
	key := randomKey(r)
	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			buf, base := alignedBuf(maxLen)
			orig := make([]byte, len(buf))
			fillRandom(r, orig)
			want := make([]byte, maxLen)
			for n := 0; n <= maxLen; n++ {
				for align := 0; align < 64; align += alignStep {
					for pos := 0; pos < 4; pos++ {
						lo, hi := base+align, base+align+n
						copy(buf, orig)
						copy(want, orig[lo:hi])
						wantNext := naiveMask(want[:n], key, pos)
						// Pass a phase outside 0..3 too: only pos&3 counts.
						next := impl.mask(buf[lo:hi:hi], key, pos+4*(n%3)-4)
						what := fmt.Sprintf("len %d align %d pos %d", n, align, pos)
						if next != wantNext {
							t.Fatalf("%s: next phase %d, want %d", what, next, wantNext)
						}
						if !bytes.Equal(buf[lo:hi], want[:n]) {
							t.Fatalf("%s: wrong result\n got % x\nwant % x", what, buf[lo:hi], want[:n])
						}
						checkGuards(t, what, buf, orig, lo, hi)
					}
				}
			}
		})
	}
}

// TestMaskRandomChops masks buffers of up to 3000 bytes in random pieces,
// threading the phase from call to call, and compares with one naiveMask.
//
// Cost: about 0.2 s.
func TestMaskRandomChops(t *testing.T) {
	rounds := 3000
	if testing.Short() {
		rounds = 300
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			for round := 0; round < rounds; round++ {
				n := r.IntN(3000)
				align := r.IntN(64)
				pos := r.IntN(4)
				key := randomKey(r)
				buf, base := alignedBuf(n)
				fillRandom(r, buf)
				orig := bytes.Clone(buf)
				lo, hi := base+align, base+align+n
				want := bytes.Clone(buf[lo:hi])
				wantNext := naiveMask(want, key, pos)

				// Mask in random pieces, from tiny to large, threading the
				// phase from one call to the next.
				p, cuts := pos, []int{}
				for off := lo; off < hi; {
					piece := r.IntN(min(hi-off, []int{4, 20, 80, 700}[r.IntN(4)]) + 1)
					cuts = append(cuts, piece)
					p = impl.mask(buf[off:off+piece:off+piece], key, p)
					off += piece
				}
				what := fmt.Sprintf("round %d len %d align %d pos %d pieces %v", round, n, align, pos, cuts)
				if p != wantNext {
					t.Fatalf("%s: final phase %d, want %d", what, p, wantNext)
				}
				if !bytes.Equal(buf[lo:hi], want) {
					t.Fatalf("%s: wrong result", what)
				}
				checkGuards(t, what, buf, orig, lo, hi)
			}
		})
	}
}

// TestMaskCopyDisjoint runs maskCopy between two buffers at different
// alignments for every length 0..1024, into a longer dst whose extra bytes
// must survive, and checks that src is left alone.
//
// Cost: about 0.3 s.
func TestMaskCopyDisjoint(t *testing.T) {
	maxLen, alignStep := 1024, 1
	if testing.Short() {
		maxLen, alignStep = 300, 5
	}
	r := rand.New(rand.NewPCG(5, 6))
	key := randomKey(r)
	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			sbuf, sbase := alignedBuf(maxLen)
			dbuf, dbase := alignedBuf(maxLen + 8)
			sorig := make([]byte, len(sbuf))
			dorig := make([]byte, len(dbuf))
			fillRandom(r, sorig)
			fillRandom(r, dorig)
			want := make([]byte, maxLen)
			for n := 0; n <= maxLen; n++ {
				for align := 0; align < 64; align += alignStep {
					pos := (n + align) & 3
					// Source and destination at different alignments; the
					// destination is longer than the source and its extra
					// bytes must stay as they were.
					slo, shi := sbase+align, sbase+align+n
					dalign := (align * 7) % 64
					dlo, dhi := dbase+dalign, dbase+dalign+n
					copy(sbuf, sorig)
					copy(dbuf, dorig)
					copy(want, sorig[slo:shi])
					wantNext := naiveMask(want[:n], key, pos)
					next := impl.maskCopy(dbuf[dlo:dhi+8], sbuf[slo:shi:shi], key, pos)
					what := fmt.Sprintf("len %d src align %d dst align %d pos %d", n, align, dalign, pos)
					if next != wantNext {
						t.Fatalf("%s: next phase %d, want %d", what, next, wantNext)
					}
					if !bytes.Equal(dbuf[dlo:dhi], want[:n]) {
						t.Fatalf("%s: wrong result\n got % x\nwant % x", what, dbuf[dlo:dhi], want[:n])
					}
					checkGuards(t, what+" (dst)", dbuf, dorig, dlo, dhi)
					if !bytes.Equal(sbuf, sorig) {
						t.Fatalf("%s: source was changed", what)
					}
				}
			}
		})
	}
}

// TestMaskCopySameSlice runs maskCopy with dst and src the same slice.
//
// Cost: about 0.1 s.
func TestMaskCopySameSlice(t *testing.T) {
	maxLen := 1024
	if testing.Short() {
		maxLen = 300
	}
	r := rand.New(rand.NewPCG(7, 8))
	key := randomKey(r)
	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			buf, base := alignedBuf(maxLen)
			orig := make([]byte, len(buf))
			fillRandom(r, orig)
			want := make([]byte, maxLen)
			for n := 0; n <= maxLen; n++ {
				for _, align := range []int{0, 1, 3, 8, 13, 31, 32, 63} {
					pos := n & 3
					lo, hi := base+align, base+align+n
					copy(buf, orig)
					copy(want, orig[lo:hi])
					wantNext := naiveMask(want[:n], key, pos)
					b := buf[lo:hi:hi]
					next := impl.maskCopy(b, b, key, pos)
					what := fmt.Sprintf("len %d align %d pos %d", n, align, pos)
					if next != wantNext {
						t.Fatalf("%s: next phase %d, want %d", what, next, wantNext)
					}
					if !bytes.Equal(buf[lo:hi], want[:n]) {
						t.Fatalf("%s: wrong result\n got % x\nwant % x", what, buf[lo:hi], want[:n])
					}
					checkGuards(t, what, buf, orig, lo, hi)
				}
			}
		})
	}
}

// TestMaskCopyOverlapDown covers the codec's use: unmask a payload while
// moving it down over a frame header of k = 1..14 bytes, in one pass.
//
// Cost: about 0.3 s.
func TestMaskCopyOverlapDown(t *testing.T) {
	maxLen := 1024
	if testing.Short() {
		maxLen = 300
	}
	r := rand.New(rand.NewPCG(9, 10))
	key := randomKey(r)
	for _, impl := range testImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			buf, base := alignedBuf(maxLen + 14)
			orig := make([]byte, len(buf))
			fillRandom(r, orig)
			want := make([]byte, maxLen)
			for n := 0; n <= maxLen; n++ {
				for k := 1; k <= 14; k++ {
					for _, align := range []int{0, 2, 5, 32, 61} {
						pos := (n + k) & 3
						dlo := base + align
						slo, shi := dlo+k, dlo+k+n
						copy(buf, orig)
						copy(want, orig[slo:shi])
						wantNext := naiveMask(want[:n], key, pos)
						next := impl.maskCopy(buf[dlo:dlo+n], buf[slo:shi:shi], key, pos)
						what := fmt.Sprintf("len %d k %d align %d pos %d", n, k, align, pos)
						if next != wantNext {
							t.Fatalf("%s: next phase %d, want %d", what, next, wantNext)
						}
						if !bytes.Equal(buf[dlo:dlo+n], want[:n]) {
							t.Fatalf("%s: wrong result\n got % x\nwant % x", what, buf[dlo:dlo+n], want[:n])
						}
						// The last k bytes of the source are not overwritten:
						// they must still hold the original (masked) data.
						checkGuards(t, what, buf, orig, dlo, dlo+n)
					}
				}
			}
		})
	}
}

// TestMaskCopyShortDstPanics checks that a dst shorter than src panics
// rather than being written past its end.
//
// Cost: microseconds.
func TestMaskCopyShortDstPanics(t *testing.T) {
	for _, impl := range testImpls(t) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: maskCopy into a shorter dst did not panic", impl.name)
				}
			}()
			impl.maskCopy(make([]byte, 99), make([]byte, 100), [4]byte{1, 2, 3, 4}, 0)
		}()
	}
}

// TestMaskAllocs checks that Mask and maskCopy allocate nothing.
//
// Cost: milliseconds.
func TestMaskAllocs(t *testing.T) {
	b := make([]byte, 4097)
	d := make([]byte, 4096)
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 7, 15, 16, 125, 4096} {
		if a := testing.AllocsPerRun(100, func() {
			Mask(b[:n], key, 1)
			maskCopy(d, b[:n], key, 2)
			maskCopy(b, b[1:n+1], key, 3)
		}); a != 0 {
			t.Errorf("len %d: %v allocations per run, want 0", n, a)
		}
	}
}

// TestMaskImplsSwitch checks the implementation switch the other tests rely
// on: every listed name is accepted, unknown ones are not.
//
// Cost: microseconds.
func TestMaskImplsSwitch(t *testing.T) {
	names := maskImpls()
	if len(names) == 0 {
		t.Fatal("maskImpls() is empty")
	}
	t.Cleanup(func() { _ = setMaskImpl("") })
	for _, name := range names {
		if !setMaskImpl(name) {
			t.Errorf("setMaskImpl(%q) = false", name)
		}
	}
	if setMaskImpl("no-such-impl") {
		t.Error(`setMaskImpl("no-such-impl") = true`)
	}
	if !setMaskImpl("") {
		t.Error(`setMaskImpl("") = false`)
	}
}

// FuzzMask masks random data with a random key and phase, chopped at random
// points, through every implementation, and compares with naiveMask; it
// also runs maskCopy disjoint and moving the data down by 1..14 bytes.
//
// Cost: each input is masked about a dozen times.
func FuzzMask(f *testing.F) {
	f.Add([]byte("Hello"), uint32(0x3d21fa37), uint8(0), []byte{})
	f.Add(bytes.Repeat([]byte{0xaa}, 200), uint32(0x01020304), uint8(3), []byte{1, 15, 16, 33, 64})
	f.Add(make([]byte, 1000), uint32(0xffffffff), uint8(2), []byte{255, 7, 128})
	f.Fuzz(func(t *testing.T, data []byte, k uint32, pos8 uint8, chops []byte) {
		key := [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		pos := int(pos8)
		want := bytes.Clone(data)
		wantNext := naiveMask(want, key, pos)
		shift := 1 + int(pos8>>2)%14
		for _, impl := range testImpls(t) {
			// In place, in pieces: each chop byte is the length of the next
			// piece (scaled up so long pieces happen too).
			got := bytes.Clone(data)
			p, off := pos, 0
			for _, c := range chops {
				piece := min(len(got)-off, int(c)*int(c)/16)
				p = impl.mask(got[off:off+piece:off+piece], key, p)
				off += piece
			}
			p = impl.mask(got[off:], key, p)
			if p != wantNext || !bytes.Equal(got, want) {
				t.Fatalf("%s: Mask in pieces %v: wrong result or phase %d (want %d)", impl.name, chops, p, wantNext)
			}

			// Disjoint copy into a longer dst whose extra bytes must survive.
			dst := bytes.Repeat([]byte{0x5c}, len(data)+3)
			if p := impl.maskCopy(dst, data, key, pos); p != wantNext ||
				!bytes.Equal(dst[:len(data)], want) || !bytes.Equal(dst[len(data):], []byte{0x5c, 0x5c, 0x5c}) {
				t.Fatalf("%s: maskCopy disjoint: wrong result", impl.name)
			}

			// Move down by shift bytes over a pretend header.
			buf := append(bytes.Repeat([]byte{0xc5}, shift), data...)
			if p := impl.maskCopy(buf, buf[shift:], key, pos); p != wantNext ||
				!bytes.Equal(buf[:len(data)], want) {
				t.Fatalf("%s: maskCopy moving down %d: wrong result", impl.name, shift)
			}
		}
	})
}
