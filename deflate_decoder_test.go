package wsmem

import (
	"bytes"
	stdflate "compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/flate"
)

// inflateFastStreams returns permessage-deflate payloads of many kinds, each
// with the dictionary it was compressed against: compress/flate at every
// level (stored blocks, Huffman only, fixed and dynamic codes),
// klauspost/compress, wsmem's encoder, with and without history.
func inflateFastStreams(t testing.TB) (payloads, dicts [][]byte) {
	rng := rand.New(rand.NewPCG(21, 22))
	var msgs [][]byte
	for _, n := range []int{1, 2, 10, 100, 1000, 5000, 40000, 70000} {
		msgs = append(msgs, deflateTestText(rng, n))
	}
	msgs = append(msgs, deflateTestRandom(rng, 3000), bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("abc"), 30000))
	// Matches at short distances around the word copy's limit of 8, of
	// every length up to 258, some ending at the message's last byte.
	for _, period := range []int{1, 2, 5, 7, 8, 9, 15, 16, 17} {
		m := deflateTestRandom(rng, 40)
		for _, run := range []int{3, 4, 9, 16, 17, 100, 258, 300} {
			for range run {
				m = append(m, m[len(m)-period])
			}
			m = append(m, deflateTestRandom(rng, 1+run%5)...)
		}
		msgs = append(msgs, m, m[:len(m)-1-period])
	}
	for i, m := range msgs {
		var dict []byte
		if i%2 == 1 {
			dict = deflateTestText(rng, 1+rng.IntN(32<<10))
		}
		for _, level := range []int{stdflate.HuffmanOnly, stdflate.NoCompression, 1, 5, 9} {
			payloads = append(payloads, deflateStdDeflate(t, m, dict, level))
			dicts = append(dicts, dict)
		}
		for _, level := range []int{1, 6} {
			var buf bytes.Buffer
			w, err := flate.NewWriterDict(&buf, level, dict)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(m)
			w.Flush()
			payloads = append(payloads, bytes.TrimSuffix(buf.Bytes(), deflateSyncTail[:]))
			dicts = append(dicts, dict)
		}
		if out, ok := deflateEncode(nil, m, 15); ok {
			payloads = append(payloads, out)
			dicts = append(dicts, nil)
		}
		// A stream that the peer finished with a final block.
		var buf bytes.Buffer
		w, _ := stdflate.NewWriterDict(&buf, 1, dict)
		w.Write(m)
		w.Close()
		payloads = append(payloads, buf.Bytes())
		dicts = append(dicts, dict)
	}
	return payloads, dicts
}

// TestInflateFast decodes streams of every kind with inflateFast and
// compares with compress/flate, into a buffer of the exact size, a larger
// one, and one a byte too short (which must be left to the fallback).
func TestInflateFast(t *testing.T) {
	payloads, dicts := inflateFastStreams(t)
	for i, p := range payloads {
		want, err := deflateStdInflate(p, dicts[i])
		if err != nil {
			t.Fatalf("stream %d: compress/flate: %v", i, err)
		}
		for _, room := range []int{len(want), len(want) + 100} {
			// The history whole, and in two parts as a window's ring
			// holds it.
			dict := dicts[i]
			for _, split := range []int{len(dict), len(dict) / 3, 0} {
				out := make([]byte, room)
				n, err := inflateFast(out, p, dict[:split], dict[split:])
				if err != nil || !bytes.Equal(out[:n], want) {
					t.Fatalf("stream %d (%d bytes into %d, history split at %d of %d): %v, %d bytes, equal %v", i, len(want), room, split, len(dict), err, n, bytes.Equal(out[:n], want))
				}
			}
		}
		if len(want) > 0 {
			if _, err := inflateFast(make([]byte, len(want)-1), p, dicts[i], nil); err != errInflateFallback {
				t.Fatalf("stream %d: a buffer too short gave %v", i, err)
			}
		}
	}
}

// dynamicHeader writes the start of a non-final dynamic block: HLIT, HDIST
// and HCLEN as counts, then the code length code lengths.
func dynamicHeader(numLit, numDist int, clLengths ...uint64) *refBits {
	var w refBits
	w.write(0, 1)
	w.write(2, 2)
	w.write(uint64(numLit-257), 5)
	w.write(uint64(numDist-1), 5)
	w.write(uint64(len(clLengths)-4), 4)
	for _, l := range clLengths {
		w.write(l, 3)
	}
	return &w
}

// TestInflateFastRejects checks that malformed streams are all left to the
// fallback: over-subscribed, incomplete and empty codes, a repeat with
// nothing before it, too many lengths, symbols that do not exist, distances
// before the dictionary, a stored block whose length does not check, and a
// stream cut short.
func TestInflateFastRejects(t *testing.T) {
	bad := map[string][]byte{
		"reserved block type": {0x07},
		"stored length":       {0x00, 0x05, 0x00, 0x00, 0x00},
		// LEN 3 and NLEN not its complement; the rest would be valid.
		"stored complement": {0x00, 0x03, 0x00, 0xfd, 0xff, 'a', 'b', 'c', 0x00},
		"stored cut":        {0x00, 0x05, 0x00, 0xfa, 0xff, 'a', 'b'},
	}
	// A fixed block whose first symbol is a match: length 3 is symbol 257
	// (7-bit code 0000001), distance 1 is code 0 (00000).
	var w refBits
	w.write(0, 1)         // not final
	w.write(1, 2)         // fixed
	w.write(0b1000000, 7) // 257, written most significant bit first
	w.write(0, 5)         // distance code 0
	w.write(0b0000000, 7) // 256, end of block
	bad["distance before the start"] = w.out
	// A fixed block with literal/length symbol 286, which does not exist
	// (8-bit code 11000110), where the end of block should be: read as an
	// end, the stream would be complete.
	var x refBits
	x.write(0, 1)
	x.write(1, 2)
	x.write(0b01100011, 8) // 11000110 reversed
	x.write(0, 3)          // the empty stored block of the sync flush
	bad["literal/length symbol 286"] = x.out
	// A dynamic header whose code length code is over-subscribed: all 19
	// lengths 1.
	bad["over-subscribed"] = dynamicHeader(257, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1).out
	// An incomplete code length code: symbol 16 of length 2, no other.
	c := dynamicHeader(257, 1, 2, 0, 0, 0)
	c.write(0, 9)
	bad["incomplete"] = c.out
	// A code length code of one symbol (0) of length 1, which zlib refuses.
	one := dynamicHeader(257, 1, 0, 0, 0, 1)
	one.write(0xffff, 16)
	bad["code length code of one symbol"] = one.out
	// build itself: a single code of length 1 is a valid distance code
	// (zlib accepts it) but not a valid code length code.
	var f fastInflater
	var tab huffTable
	single := make([]uint8, 19)
	single[0] = 1
	if f.build(&tab, f.clEntries[:], single, 7, symCL) {
		t.Error("a code length code of one symbol was accepted")
	}
	if !f.build(&tab, f.distEntries[:], single[:30-11], distRootBits, symDist) {
		t.Error("a distance code of one symbol was refused")
	}
	if f.build(&tab, f.distEntries[:], []uint8{1, 1, 1}, distRootBits, symDist) {
		t.Error("an over-subscribed code was accepted")
	}
	// HLIT of 287 symbols.
	h := dynamicHeader(287, 1, 0, 0, 0, 0)
	bad["too many lengths"] = h.out
	for name, p := range bad {
		out := make([]byte, 1000)
		if n, err := inflateFast(out, p, nil, nil); err != errInflateFallback {
			t.Errorf("%s: %d bytes, %v", name, n, err)
		}
		if _, err := deflateStdInflate(p, nil); err == nil && name != "stored cut" {
			t.Errorf("%s: compress/flate accepts it", name)
		}
	}
}

// FuzzInflateFast feeds arbitrary payloads and dictionaries to inflateFast
// (the dictionary in two parts, split where the payload's length says):
// whatever it accepts, compress/flate and klauspost/compress must accept
// too, with the same bytes.
func FuzzInflateFast(f *testing.F) {
	payloads, dicts := inflateFastStreams(f)
	for i, p := range payloads {
		if len(p) < 5000 && len(dicts[i]) < 5000 {
			f.Add(p, dicts[i])
		}
	}
	f.Fuzz(func(t *testing.T, p, dict []byte) {
		if len(dict) > deflateMaxWindow {
			dict = dict[len(dict)-deflateMaxWindow:]
		}
		out := make([]byte, 64<<10)
		split := len(p) * 7919 % (len(dict) + 1)
		n, err := inflateFast(out, p, dict[:split], dict[split:])
		if err != nil {
			return
		}
		want, err := deflateStdInflate(p, dict)
		if err != nil || !bytes.Equal(out[:n], want) {
			t.Fatalf("inflateFast gave %d bytes; compress/flate: %v, %d bytes", n, err, len(want))
		}
		win := newDeflateWindow(15)
		win.write(dict)
		got, err := inflateMessage(nil, p, win, -1)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("klauspost/compress: %v", err)
		}
	})
}

// TestBitReaderOverrun: reading past the message and its tail is noticed.
func TestBitReaderOverrun(t *testing.T) {
	r := bitReader{in: []byte{0xa5}, tail: []byte{0x3c}}
	r.refill()
	if got := r.take(16); got != 0x3ca5 || r.overrun() {
		t.Fatalf("took %#x, overrun %v", got, r.overrun())
	}
	r.take(1)
	if !r.overrun() {
		t.Fatal("a bit past the end was not noticed")
	}
}

// TestInflateFastNoDistanceCode decodes a dynamic block of literals that
// declares no distance code at all (one distance code length, 0), which
// RFC 1951 §3.2.7 allows.
func TestInflateFastNoDistanceCode(t *testing.T) {
	// Code length code: 18 of length 1 (code 0), 0 and 1 of length 2
	// (codes 10 and 11, written reversed).
	w := dynamicHeader(257, 1, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2)
	sym := func(s uint8) {
		switch s {
		case 18:
			w.write(0, 1)
		case 0:
			w.write(0b01, 2)
		case 1:
			w.write(0b11, 2)
		}
	}
	zeros := func(n uint64) { sym(18); w.write(n-11, 7) }
	zeros(97) // 0..96
	sym(1)    // 'a'
	zeros(138)
	zeros(20) // 98..255
	sym(1)    // end of block
	sym(0)    // the only distance code: length 0
	// Literal/length code: 'a' is 0, end of block 1.
	w.write(0, 1)
	w.write(0, 1)
	w.write(0, 1)
	w.write(1, 1)
	w.write(0, 3) // the empty stored block of the sync flush
	want, err := deflateStdInflate(w.out, nil)
	if err != nil || string(want) != "aaa" {
		t.Fatalf("compress/flate: %q, %v", want, err)
	}
	out := make([]byte, 10)
	n, err := inflateFast(out, w.out, nil, nil)
	if err != nil || string(out[:n]) != "aaa" {
		t.Fatalf("inflateFast: %q, %v", out[:n], err)
	}
}

// BenchmarkInflateFast decodes the messages of BenchmarkDeflate, compressed
// each on its own by wsmem's encoder, with inflateFast and with a reused
// klauspost/compress decompressor (what the fallback runs): run with
// -count 6 and compare with benchstat.
func BenchmarkInflateFast(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		msgs := deflateBenchMessages(size)
		payloads := make([][]byte, len(msgs))
		for i, m := range msgs {
			out, ok := deflateEncode(nil, m, 15)
			if !ok {
				b.Fatal("not compressed")
			}
			payloads[i] = out
		}
		out := make([]byte, size)
		b.Run(fmt.Sprintf("%dKiB/dec=wsmem", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if n, err := inflateFast(out, payloads[i%len(payloads)], nil, nil); err != nil || n != size {
					b.Fatal(n, err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("%dKiB/dec=klauspost", size>>10), func(b *testing.B) {
			tailed := make([][]byte, len(payloads))
			for i, p := range payloads {
				tailed[i] = append(bytes.Clone(p), deflateReadTail[:]...)
			}
			var src bytes.Reader
			fr := flate.NewReader(&src)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				src.Reset(tailed[i%len(tailed)])
				fr.(flate.Resetter).Reset(&src, nil)
				if n, err := io.ReadFull(fr, out); n != size {
					b.Fatal(n, err)
				}
				i++
			}
		})
	}
}

// TestDecodeBlockNoProgress: an entry that build never wrote (zero) gives a
// length or a distance of 0; decodeBlock must refuse it rather than loop
// without progress. Tables of zeros, then a valid length of 3 with a zero
// distance entry.
func TestDecodeBlockNoProgress(t *testing.T) {
	zeros := huffTable{e: make([]uint32, 4), root: 2}
	length3 := huffTable{e: make([]uint32, 4), root: 2}
	for i := range length3.e {
		length3.e[i] = 3<<16 | 2 // a length symbol of base 3, no extra bits, 2-bit code
	}
	for _, lit := range []*huffTable{&zeros, &length3} {
		r := bitReader{in: make([]byte, 16)}
		out := make([]byte, 64)
		out[0] = 'x'
		if _, ok := decodeBlock(&r, out, 1, nil, nil, lit, &zeros); ok {
			t.Errorf("root entry %#x: accepted", lit.e[0])
		}
	}
}

// testBlock is a dynamic block for TestInflateTableCache: its code length
// code (all 19 lengths sent), literal/length and distance code lengths
// (sent without repeats), and its symbols: a literal, or a length symbol
// (no extra bits) followed by a distance symbol (no extra bits).
type testBlock struct {
	cl      [19]uint8
	lit     []uint8 // 258: up to symbol 257 (length 3)
	dist    []uint8
	symbols []int // literals and 257; each 257 followed by a distance symbol
	decoded string
}

// payload writes the block and the empty stored block of the sync flush.
func (b *testBlock) payload() []byte {
	var w refBits
	w.write(0, 1) // not final
	w.write(2, 2) // dynamic
	w.write(uint64(len(b.lit)-257), 5)
	w.write(uint64(len(b.dist)-1), 5)
	w.write(19-4, 4)
	for _, s := range codeLengthOrder {
		w.write(uint64(b.cl[s]), 3)
	}
	var clCode [19]uint16
	huffmanCodes(clCode[:], b.cl[:])
	for _, l := range append(slices.Clone(b.lit), b.dist...) {
		w.write(uint64(clCode[l]), int(b.cl[l]))
	}
	litCode := make([]uint16, len(b.lit))
	distCode := make([]uint16, len(b.dist))
	huffmanCodes(litCode, b.lit)
	huffmanCodes(distCode, b.dist)
	for i := 0; i < len(b.symbols); i++ {
		s := b.symbols[i]
		w.write(uint64(litCode[s]), int(b.lit[s]))
		if s == 257 {
			i++
			d := b.symbols[i]
			w.write(uint64(distCode[d]), int(b.dist[d]))
		}
	}
	w.write(uint64(litCode[256]), int(b.lit[256]))
	w.write(0, 3)
	return w.out
}

// TestInflateTableCache decodes blocks in turn with one fastInflater, so
// that each may find the tables of the one before. Sending the same code
// lengths again must not build anything (the build scratch, cleared before,
// stays clear); any difference (in the distance code, in the number of
// distance codes, in the literal/length code, in the code length code)
// must rebuild the tables it changes, which are filled with invalid
// entries before (a decode that kept them would hit those), and keep the
// others (another code length code for the same lengths keeps the
// literal/length and distance tables). Every
// payload is checked with compress/flate first.
func TestInflateTableCache(t *testing.T) {
	var cl4, clMixed [19]uint8
	for s := range 16 {
		cl4[s] = 4 // 0..15: a complete code of 16 four-bit codes
	}
	for s, l := range map[int]uint8{0: 3, 2: 3, 3: 3, 1: 4, 4: 4, 5: 4, 6: 4, 7: 4, 8: 4} {
		clMixed[s] = l
	}
	for _, s := range []int{9, 10, 11, 12, 13, 14, 15, 18} {
		clMixed[s] = 5
	}
	lit := func(a, b, c, end, length uint8) []uint8 {
		l := make([]uint8, 258)
		l['a'], l['b'], l['c'], l[256], l[257] = a, b, c, end, length
		return l
	}
	litA := lit(2, 2, 2, 3, 3)
	litB := lit(3, 2, 2, 2, 3) // the same symbols, other lengths
	a, b, c := int('a'), int('b'), int('c')
	blocks := []testBlock{
		{cl: cl4, lit: litA, dist: []uint8{1, 1}, symbols: []int{a, 257, 0}, decoded: "aaaa"},
		// One distance code less: a single code of one bit. Then two
		// again: the lengths read start with all of those kept.
		{cl: cl4, lit: litA, dist: []uint8{1}, symbols: []int{b, 257, 0}, decoded: "bbbb"},
		{cl: cl4, lit: litA, dist: []uint8{1, 1}, symbols: []int{a, 257, 0}, decoded: "aaaa"},
		{cl: cl4, lit: litA, dist: []uint8{1, 1}, symbols: []int{a, b, 257, 1}, decoded: "ababa"},
		// One more distance code, the literal/length lengths the same.
		{cl: cl4, lit: litA, dist: []uint8{1, 0, 1}, symbols: []int{a, b, c, 257, 2}, decoded: "abcabc"},
		// As many distance codes, other lengths.
		{cl: cl4, lit: litA, dist: []uint8{0, 1, 1}, symbols: []int{a, b, 257, 1}, decoded: "ababa"},
		{cl: cl4, lit: litA, dist: []uint8{0, 1, 1}, symbols: []int{c, b, a, 257, 2}, decoded: "cbacba"},
		// The same lengths in a row, split one later: an unused symbol
		// 258, and distance codes 0 and 1 where there were 1 and 2.
		{cl: cl4, lit: append(slices.Clone(litA), 0), dist: []uint8{1, 1}, symbols: []int{a, 257, 0}, decoded: "aaaa"},
		// Other literal/length lengths, the same distance code.
		{cl: cl4, lit: litB, dist: []uint8{0, 1, 1}, symbols: []int{a, b, 257, 1}, decoded: "ababa"},
		// Another code length code for the same lengths, and back.
		{cl: clMixed, lit: litB, dist: []uint8{0, 1, 1}, symbols: []int{b, c, 257, 1}, decoded: "bcbcb"},
		{cl: cl4, lit: litB, dist: []uint8{0, 1, 1}, symbols: []int{c, a, 257, 1}, decoded: "cacac"},
		// A block whose literal/length code builds and whose distance
		// code does not (over-subscribed), then the code before it again:
		// the half-built tables must not be taken for it.
		{cl: cl4, lit: litA, dist: []uint8{1, 1, 1}, symbols: []int{a}, decoded: "malformed"},
		{cl: cl4, lit: litB, dist: []uint8{0, 1, 1}, symbols: []int{b, a, 257, 1}, decoded: "babab"},
	}
	invalid := func(e []uint32) {
		for i := range e {
			e[i] = entInvalid<<8 | 1
		}
	}
	var f fastInflater
	out := make([]byte, 64)
	for i, blk := range blocks {
		p := blk.payload()
		malformed := blk.decoded == "malformed"
		want, err := deflateStdInflate(p, nil)
		if malformed != (err != nil) || !malformed && string(want) != blk.decoded {
			t.Fatalf("block %d: compress/flate: %q, %v", i, want, err)
		}
		sameCL, sameLengths := false, false
		if i > 0 {
			prev := blocks[i-1]
			sameCL = blk.cl == prev.cl
			sameLengths = bytes.Equal(blk.lit, prev.lit) && bytes.Equal(blk.dist, prev.dist)
		}
		clear(f.order[:])
		if !sameCL {
			invalid(f.clEntries[:])
		}
		if !sameLengths {
			invalid(f.litEntries[:])
			invalid(f.distEntries[:])
		}
		n, err := f.inflate(out, p, nil, nil)
		if malformed {
			if err == nil {
				t.Errorf("block %d: malformed, decoded %q", i, out[:n])
			}
		} else if err != nil || string(out[:n]) != blk.decoded {
			t.Errorf("block %d: %q, %v; want %q", i, out[:n], err, blk.decoded)
		}
		if built := f.order != [288]uint16{}; sameCL && sameLengths && built {
			t.Errorf("block %d: the same code lengths again, tables built", i)
		}
	}
}

// TestInflateWordCopy decodes fixed-code blocks of literals, one match and
// more literals, into a buffer of exactly the message's size: matches at
// distances on both sides of the word copy's limit of 8, of lengths 3 to
// 40, ending 0 to 17 bytes before the end of the buffer, where the word
// copy's stores (two words at least) must not run past it.
func TestInflateWordCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, dist := range []int{1, 7, 8, 9, 16, 17} {
		for length := 3; length <= 40; length++ {
			for tail := range 18 {
				want := deflateTestRandom(rng, 20)
				for range length {
					want = append(want, want[len(want)-dist])
				}
				want = append(want, deflateTestRandom(rng, tail)...)

				block := fixedMatchBlock(want[:20], length, dist, want[20+length:])

				if ref, err := deflateStdInflate(block, nil); err != nil || !bytes.Equal(ref, want) {
					t.Fatalf("distance %d, length %d, tail %d: the test's block is wrong: %v", dist, length, tail, err)
				}
				out := make([]byte, len(want))
				n, err := inflateFast(out, block, nil, nil)
				if err != nil || !bytes.Equal(out[:n], want) {
					t.Fatalf("distance %d, length %d, tail %d: %v, %q, want %q", dist, length, tail, err, out[:n], want)
				}
			}
		}
	}
}

// TestInflateDictSplit decodes a fixed-code block of one match that starts
// in the history and literals after it, with the history split in two at
// every point (as a window's ring holds it): matches that cross the split,
// that run from the history into the message, and that stay in one part
// must all copy the right bytes.
func TestInflateDictSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	dict := deflateTestRandom(rng, 100)
	for _, dist := range []int{1, 10, 60, 100} {
		for _, length := range []int{3, 20, 150} {
			hist := bytes.Clone(dict)
			for range length {
				hist = append(hist, hist[len(hist)-dist])
			}
			hist = append(hist, 'x', 'y')
			want := hist[len(dict):]

			block := fixedMatchBlock(nil, length, dist, want[length:])

			if ref, err := deflateStdInflate(block, dict); err != nil || !bytes.Equal(ref, want) {
				t.Fatalf("distance %d, length %d: the test's block is wrong: %v", dist, length, err)
			}
			for split := range len(dict) + 1 {
				out := make([]byte, len(want)+16)
				n, err := inflateFast(out, block, dict[:split], dict[split:])
				if err != nil || !bytes.Equal(out[:n], want) {
					t.Fatalf("distance %d, length %d, history split at %d: %v, %q, want %q", dist, length, split, err, out[:n], want)
				}
			}
		}
	}
}

// fixedMatchBlock returns a final block in the fixed code: the literals
// before, a match of length at distance dist, the literals after, and the
// end of block.
func fixedMatchBlock(before []byte, length, dist int, after []byte) []byte {
	var w refBits
	w.write(1, 1) // final
	w.write(1, 2) // fixed code
	for _, b := range before {
		w.write(uint64(fixedLitCode[b]), int(fixedLitLen[b]))
	}
	lc := lengthCodes[length-3]
	w.write(uint64(fixedLitCode[257+int(lc)]), int(fixedLitLen[257+int(lc)]))
	w.write(uint64(length-3-int(lengthBase[lc])), int(lengthExtra[lc]))
	dc := distanceCode(uint32(dist - 1))
	w.write(uint64(fixedDistCode[dc]), int(fixedDistLen[dc]))
	w.write(uint64(uint32(dist-1)-distBase[dc]), int(distExtra[dc]))
	for _, b := range after {
		w.write(uint64(fixedLitCode[b]), int(fixedLitLen[b]))
	}
	w.write(uint64(fixedLitCode[256]), int(fixedLitLen[256]))
	return w.out
}
