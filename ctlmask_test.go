package wsmem

import (
	"math/rand/v2"
	"testing"
)

// naiveCtlMap is ctlMap byte by byte.
func naiveCtlMap(b []byte) (m [4]uint64) {
	for j := 0; j < len(b) && j < mapWindow; j++ {
		if b[j] < ' ' || b[j] == 0x7f {
			m[j/64] |= 1 << (j % 64)
		}
	}
	return m
}

// TestCtlMaskGather checks the multiply that ctlMaskGeneric gathers eight
// byte flags with, for every pattern of flags.
func TestCtlMaskGather(t *testing.T) {
	for p := range 256 {
		var flags uint64
		for k := range 8 {
			if p>>k&1 == 1 {
				flags |= 1 << (8*k + 7)
			}
		}
		if got := flags >> 7 * 0x0102040810204080 >> 56; got != uint64(p) {
			t.Fatalf("pattern %08b gathers to %08b", p, got)
		}
	}
}

// TestCtlMap compares ctlMap (ctlMapAsm on amd64) and ctlMapGeneric with
// the byte loop, for every length 0..300 (only the first 256 bytes count)
// at every alignment 0..63, over fillers at the edges of the classes, with
// one byte changed to each value at the edges of the classes: at every
// position at alignments 0 and 5, at the first, middle, last and one
// random position at the others, and to every value at alignments 0 and
// 3 up to 70 bytes.
func TestCtlMap(t *testing.T) {
	edges := []int{0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff}
	every := make([]int, 256)
	for c := range every {
		every[c] = c
	}
	r := rand.New(rand.NewPCG(5, 6))
	mem := make([]byte, 64+300)
	for _, fill := range []byte{'a', 0x1f, 0x80} {
		for k := range mem {
			mem[k] = fill
		}
		for off := range 64 {
			for n := 0; n <= 300; n++ {
				b := mem[off : off+n]
				values := edges
				if (off == 0 || off == 3) && n <= 70 {
					values = every
				}
				var positions []int
				if off == 0 || off == 5 {
					for pos := range n {
						positions = append(positions, pos)
					}
				} else if n > 0 {
					positions = []int{0, n / 2, n - 1, r.IntN(n)}
				}
				check := func() {
					want := naiveCtlMap(b)
					got := [4]uint64{1, 2, 3, 4} // every word must be set
					if ctlMap(&got, b); got != want {
						t.Fatalf("ctlMap(%q) at offset %d = %#x, want %#x", b, off, got, want)
					}
					got = [4]uint64{1, 2, 3, 4}
					if ctlMapGeneric(&got, b); got != want {
						t.Fatalf("ctlMapGeneric(%q) = %#x, want %#x", b, got, want)
					}
				}
				check()
				for _, pos := range positions {
					for _, c := range values {
						b[pos] = byte(c)
						check()
					}
					b[pos] = fill
				}
			}
		}
	}
}
