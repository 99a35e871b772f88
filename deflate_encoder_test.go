package wsmem

import (
	"bytes"
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/klauspost/compress/flate"
)

// refHuffmanCost is the cost (sum of frequency times code length) of an
// optimal, unlimited Huffman code for freq, built the textbook way with a
// heap.
func refHuffmanCost(freq []uint32) uint64 {
	h := &uint64Heap{}
	for _, f := range freq {
		if f != 0 {
			*h = append(*h, uint64(f))
		}
	}
	switch h.Len() {
	case 0:
		return 0
	case 1:
		return (*h)[0] // one symbol: a 1-bit code
	}
	heap.Init(h)
	var cost uint64
	for h.Len() > 1 {
		a, b := heap.Pop(h).(uint64), heap.Pop(h).(uint64)
		cost += a + b // every merge adds one bit to all leaves below
		heap.Push(h, a+b)
	}
	return cost
}

type uint64Heap []uint64

func (h uint64Heap) Len() int           { return len(h) }
func (h uint64Heap) Less(i, j int) bool { return h[i] < h[j] }
func (h uint64Heap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *uint64Heap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *uint64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TestHuffmanLengths checks huffmanLengths on random, skewed and degenerate
// frequencies: the code is complete (Kraft sum exactly 1), no longer than the
// limit, gives a length to exactly the used symbols (or two when fewer are
// used), and costs exactly the optimum whenever the optimum fits the limit.
func TestHuffmanLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w huffmanWork
	check := func(name string, freq []uint32, maxBits uint8) {
		t.Helper()
		lengths := make([]uint8, len(freq))
		for i := range lengths {
			lengths[i] = 99 // must be overwritten
		}
		huffmanLengths(lengths, freq, maxBits, &w)
		used := 0
		var kraft, cost uint64
		for s, l := range lengths {
			if freq[s] != 0 {
				used++
			}
			if l == 0 {
				if freq[s] != 0 {
					t.Fatalf("%s: used symbol %d has no code", name, s)
				}
				continue
			}
			if l > maxBits {
				t.Fatalf("%s: symbol %d length %d > %d", name, s, l, maxBits)
			}
			kraft += 1 << (maxBits - l)
			cost += uint64(freq[s]) * uint64(l)
		}
		if kraft != 1<<maxBits {
			t.Fatalf("%s: Kraft sum %d/%d, want a complete code", name, kraft, uint64(1)<<maxBits)
		}
		coded := 0
		for _, l := range lengths {
			if l != 0 {
				coded++
			}
		}
		if want := max(used, 2); coded != want {
			t.Fatalf("%s: %d symbols coded, want %d", name, coded, want)
		}
		if used < 2 {
			return
		}
		var weights []uint32
		for _, f := range freq {
			if f != 0 {
				weights = append(weights, f)
			}
		}
		slices.Sort(weights)
		unlimited := huffmanDepths(weights)
		if opt := refHuffmanCost(freq); cost < opt {
			t.Fatalf("%s: cost %d below the optimum %d", name, cost, opt)
		} else if unlimited <= maxBits && cost != opt {
			// A code that needed no limiting must be optimal.
			t.Fatalf("%s: cost %d, optimum %d", name, cost, opt)
		}
	}
	for _, n := range []int{2, 3, 19, 30, 286} {
		for _, maxBits := range []uint8{7, 15} {
			if n > 1<<maxBits {
				continue
			}
			check("empty", make([]uint32, n), maxBits)
			for s := range n {
				one := make([]uint32, n)
				one[s] = 7
				check("one", one, maxBits)
			}
			for range 300 {
				freq := make([]uint32, n)
				for s := range freq {
					if rng.IntN(3) > 0 {
						freq[s] = uint32(rng.IntN(1 << rng.IntN(17)))
					}
				}
				check("random", freq, maxBits)
			}
			// Fibonacci frequencies make the deepest possible tree: the
			// limit must then be enforced.
			fib := make([]uint32, n)
			a, b := uint32(1), uint32(1)
			for s := range fib {
				if a < 1<<28 {
					fib[s] = a
					a, b = b, a+b
				} else {
					fib[s] = 1
				}
			}
			check("fibonacci", fib, maxBits)
			equal := make([]uint32, n)
			for s := range equal {
				equal[s] = 5
			}
			check("equal", equal, maxBits)
		}
	}
}

// deflateEncoderInputs are the messages the encoder tests compress: edge
// sizes, text, random bytes, long runs, and lengths around the block size.
func deflateEncoderInputs() [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(n int) []byte { return deflateTestRandom(rng, n) }
	inputs := [][]byte{
		nil, {0}, {1, 2}, []byte("aaaa"), []byte("abcabcabcabc"),
		bytes.Repeat([]byte{0}, 1000), bytes.Repeat([]byte("ab"), 40000),
		random(100), random(5000), random(70000),
		bytes.Repeat([]byte("x"), encBlockBytes+1000),
	}
	for _, n := range []int{5, 64, 300, 1024, 4000, 16 << 10, 60000, encBlockBytes - 1, encBlockBytes, encBlockBytes + 1, 200000} {
		inputs = append(inputs, deflateTestText(rng, n))
	}
	// Half text, half noise: some blocks compress, some are stored.
	mixed := append(deflateTestText(rng, 80000), random(80000)...)
	return append(inputs, append(mixed, deflateTestText(rng, 80000)...))
}

// TestDeflateEncode round-trips deflateEncode's output through compress/flate
// (which rejects incomplete codes) and through the independent decoder of
// deflate_ref_test.go, for every window size, and checks that no
// back-reference reaches as far as 2^windowBits and that a result is only
// returned when shorter than the message.
func TestDeflateEncode(t *testing.T) {
	for i, m := range deflateEncoderInputs() {
		for bits := uint8(deflateMinWindowBits); bits <= deflateMaxWindowBits; bits++ {
			prefix := []byte("header")
			out, ok := deflateEncode(prefix, m, bits)
			if !bytes.Equal(out[:len(prefix)], []byte("header")) {
				t.Fatalf("input %d: prefix overwritten", i)
			}
			if !ok {
				if len(out) != len(prefix) {
					t.Fatalf("input %d: !ok but %d bytes appended", i, len(out)-len(prefix))
				}
				if std := deflateStdLen(t, m); len(m) > 1000 && std < len(m)*9/10 {
					t.Fatalf("input %d (%d bytes): refused, but compress/flate gets %d", i, len(m), std)
				}
				continue
			}
			payload := out[len(prefix):]
			if len(payload) >= len(m) {
				t.Fatalf("input %d: %d bytes out for %d in", i, len(payload), len(m))
			}
			got, err := deflateStdInflate(payload, nil)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("input %d, bits %d: compress/flate: %v (got %d bytes of %d)", i, bits, err, len(got), len(m))
			}
			got, maxDist, err := deflateRefInflate(nil, payload)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("input %d, bits %d: reference decoder: %v", i, bits, err)
			}
			if maxDist >= 1<<bits {
				t.Fatalf("input %d, bits %d: distance %d", i, bits, maxDist)
			}
		}
	}
}

// TestDeflateEncodeTight compresses barely compressible messages into a dst
// with exactly the capacity a result may need (len(src)-1 bytes) and into a
// roomy one: both must give the same bytes and the same ok, whatever the
// margin, and the results must decode. Some results end right at the limit,
// so the writer's paths for the last bytes of dst run.
func TestDeflateEncodeTight(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	atLimit := 0
	for i := range 3000 {
		m := deflateTestRandom(rng, 20+rng.IntN(300))
		// A repeated tail of a few bytes makes it just compressible.
		tail := rng.IntN(min(40, len(m)))
		for j := len(m) - tail; j < len(m); j++ {
			m[j] = 'x'
		}
		tight, okTight := deflateEncode(make([]byte, 0, len(m)-1), m, 15)
		roomy, okRoomy := deflateEncode(make([]byte, 0, 2*len(m)+64), m, 15)
		if okTight != okRoomy || !bytes.Equal(tight, roomy) {
			t.Fatalf("message %d: tight %v %d bytes, roomy %v %d bytes", i, okTight, len(tight), okRoomy, len(roomy))
		}
		if !okTight {
			continue
		}
		if len(tight) >= len(m)-8 {
			atLimit++
		}
		got, err := deflateStdInflate(tight, nil)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if atLimit < 10 {
		t.Fatalf("only %d results within 8 bytes of the limit", atLimit)
	}
}

// TestDeflateEncodeStoredAtLimit compresses two blocks: noise ending in a
// run of k equal bytes (Huffman-coded noise costs a little more than it
// holds, the run much less), then noise, which goes out as a stored block
// and costs 5 bytes more than it holds. For every k around
// the point where the whole becomes shorter than the message, the stored
// block is the one that reaches the limit: its size must be counted exactly,
// or a result comes out cut.
func TestDeflateEncodeStoredAtLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	m := deflateTestRandom(rng, encBlockBytes+1000)
	const runs = 1000
	noise := append([]byte(nil), m[encBlockBytes-runs:encBlockBytes]...)
	compressed := 0
	for k := 1; k <= runs; k++ {
		copy(m[encBlockBytes-runs:], noise)
		for i := encBlockBytes - k; i < encBlockBytes; i++ {
			m[i] = 'x'
		}
		out, ok := deflateEncode(nil, m, 15)
		if !ok {
			continue
		}
		compressed++
		got, err := deflateStdInflate(out, nil)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("run of %d: %d bytes out: %v", k, len(out), err)
		}
	}
	if compressed == 0 || compressed == runs {
		t.Fatalf("%d of %d runs compressed: the limit was not crossed", compressed, runs)
	}
}

// refBits is a bit writer one bit at a time, least significant first.
type refBits struct {
	out   []byte
	nbits int
}

func (r *refBits) write(v uint64, n int) {
	for i := range n {
		if r.nbits%8 == 0 {
			r.out = append(r.out, 0)
		}
		r.out[len(r.out)-1] |= byte(v>>i&1) << (r.nbits % 8)
		r.nbits++
	}
}

// TestBitWriterTokens checks bitWriter.tokens against refBits with codes
// as long as DEFLATE allows (15 bits plus the most extra bits), after 0 to
// 31 bits already pending: the accumulator must never overflow, wherever a
// block's tokens start.
func TestBitWriterTokens(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var litCode [288]uint16
	var litLen [288]uint8
	var distCode [32]uint16
	var distLen [32]uint8
	for round := range 2000 {
		for i := range litCode {
			litLen[i] = uint8(1 + rng.IntN(15))
			if round%2 == 0 {
				litLen[i] = 15
			}
			litCode[i] = uint16(rng.IntN(1 << litLen[i]))
		}
		for i := range distCode {
			distLen[i] = uint8(1 + rng.IntN(15))
			if round%2 == 0 {
				distLen[i] = 15
			}
			distCode[i] = uint16(rng.IntN(1 << distLen[i]))
		}
		block := make([]byte, 0, 4096)
		var tokens []uint32
		var ref refBits
		pending := rng.IntN(32)
		pre := rng.Uint64() & (1<<pending - 1)
		ref.write(pre, pending)
		for range 1 + rng.IntN(20) {
			if rng.IntN(2) == 0 {
				run := 1 + rng.IntN(10)
				for range run {
					b := byte(rng.Uint32())
					block = append(block, b)
					ref.write(uint64(litCode[b]), int(litLen[b]))
				}
				tokens = append(tokens, uint32(run))
				continue
			}
			length := 3 + rng.IntN(256)
			dist := 1 + rng.IntN(32768)
			if round%2 == 0 {
				length, dist = 257, 24577+rng.IntN(8192) // most extra bits
			}
			block = append(block, make([]byte, length)...)
			l, d := uint32(length-3), uint32(dist-1)
			lc, dc := lengthCodes[l], distanceCode(d)
			tokens = append(tokens, encMatchFlag|dc<<23|l<<15|d)
			ref.write(uint64(litCode[257+int(lc)]), int(litLen[257+int(lc)]))
			ref.write(uint64(uint16(l)-lengthBase[lc]), int(lengthExtra[lc]))
			ref.write(uint64(distCode[dc]), int(distLen[dc]))
			ref.write(uint64(d-distBase[dc]), int(distExtra[dc]))
		}
		ref.write(uint64(litCode[256]), int(litLen[256]))

		w := bitWriter{out: make([]byte, len(ref.out)+rng.IntN(16))}
		w.write(pre, uint8(pending))
		w.tokens(block, tokens, &litCode, &litLen, &distCode, &distLen)
		w.align()
		if !bytes.Equal(w.out[:w.n], ref.out) {
			t.Fatalf("round %d (%d bits pending): bits differ", round, pending)
		}
	}
}

// deflateStdLen is the length of src compressed by klauspost at level 1.
func deflateStdLen(t *testing.T, src []byte) int {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(src)
	fw.Flush()
	return buf.Len()
}

// TestDeflateEncodeRatio compares the encoder's output size with klauspost's
// level 1 on text: it must stay within 10%.
func TestDeflateEncodeRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1 << 10, 16 << 10, 256 << 10} {
		m := deflateTestText(rng, n)
		out, ok := deflateEncode(nil, m, 15)
		if !ok {
			t.Fatalf("%d bytes: not compressed", n)
		}
		std := deflateStdLen(t, m) - len(deflateSyncTail)
		t.Logf("%d bytes: %d (klauspost level 1: %d)", n, len(out), std)
		if len(out) > std*11/10 {
			t.Fatalf("%d bytes: %d, klauspost %d", n, len(out), std)
		}
	}
}

// TestDeflateEncodeTableReuse compresses many messages with one pooled
// encoder whose base is about to wrap, so that the table is cleared, and
// checks each round trip: entries left by earlier messages must never be
// taken for matches.
func TestDeflateEncodeTableReuse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 200 {
		if i == 100 {
			e := deflateEncoderPool.Get().(*deflateEncoder)
			e.base = 1<<32 - 5000
			deflateEncoderPool.Put(e)
		}
		m := deflateTestText(rng, 100+rng.IntN(20000))
		out, ok := deflateEncode(nil, m, 15)
		if !ok {
			continue
		}
		got, err := deflateStdInflate(out, nil)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// FuzzDeflateEncode round-trips arbitrary messages through deflateEncode and
// compress/flate, and checks the window limit with the reference decoder.
// With the high bit of bits set, the message is made long enough for a
// second block, which starts inside the fuzzer's bytes.
func FuzzDeflateEncode(f *testing.F) {
	for _, m := range deflateEncoderInputs() {
		if len(m) < 20000 {
			f.Add(m, uint8(15))
		}
	}
	f.Add([]byte("abababababababababab"), uint8(8))
	f.Add([]byte(`{"id":1,"name":"x"},{"id":2,"name":"y"}`), uint8(0x80|15))
	f.Fuzz(func(t *testing.T, m []byte, bits uint8) {
		if bits&0x80 != 0 && len(m) > 0 {
			// A second block that starts inside m, after copies of m
			// (each changed a little) that it may refer back to.
			big := make([]byte, 0, encBlockBytes+len(m))
			for i := 0; len(big) < encBlockBytes-len(m)/2; i++ {
				big = append(big, m...)
				big[len(big)-1-i%len(m)] ^= byte(i)
			}
			m = append(big[:encBlockBytes-len(m)/2], m...)
		}
		bits = deflateMinWindowBits + bits%(deflateMaxWindowBits-deflateMinWindowBits+1)
		out, ok := deflateEncode(nil, m, bits)
		if !ok {
			return
		}
		if len(out) >= len(m) {
			t.Fatalf("%d bytes out for %d in", len(out), len(m))
		}
		got, err := deflateStdInflate(out, nil)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("compress/flate: %v", err)
		}
		_, maxDist, err := deflateRefInflate(nil, out)
		if err != nil || maxDist >= 1<<bits {
			t.Fatalf("reference decoder: %v, distance %d", err, maxDist)
		}
	})
}

// BenchmarkDeflateEncode compares the encoder with klauspost/compress at
// level 1 (what compressMessage used before it), on the messages of
// BenchmarkDeflate, compressed each on its own: run with -count 6 and
// compare with benchstat.
func BenchmarkDeflateEncode(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		msgs := deflateBenchMessages(size)
		dst := make([]byte, 0, size+64)
		b.Run(fmt.Sprintf("%dKiB/enc=wsmem", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i, total := 0, 0
			for b.Loop() {
				out, _ := deflateEncode(dst[:0], msgs[i%len(msgs)], 15)
				total += len(out)
				i++
			}
			b.ReportMetric(float64(total)/float64(i)/float64(size), "ratio")
		})
		b.Run(fmt.Sprintf("%dKiB/enc=klauspost", size>>10), func(b *testing.B) {
			sink := deflateSink{limit: size + 64}
			fw, err := flate.NewWriter(&sink, flate.BestSpeed)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i, total := 0, 0
			for b.Loop() {
				sink.buf = dst[:0]
				fw.Reset(&sink)
				fw.Write(msgs[i%len(msgs)])
				fw.Flush()
				total += len(sink.buf) - len(deflateSyncTail)
				i++
			}
			b.ReportMetric(float64(total)/float64(i)/float64(size), "ratio")
		})
	}
}

// TestDeflateCodeReuse encodes a run of similar messages with one encoder,
// which reuses its last code where it may (deflate_reuse.go), and each
// also with a new encoder, which cannot: every output must decode, most
// messages must reuse the code (buildCode, which fills e.wLit, does not
// run), and the run may grow by at most 3%. Then messages over shifting
// alphabets, whose new symbols the kept code lacks: writing one with it
// would not decode.
func TestDeflateCodeReuse(t *testing.T) {
	for _, size := range []int{1 << 10, 16 << 10} {
		e := deflateEncoderPool.New().(*deflateEncoder)
		msgs := deflateBenchMessages(size)
		reused, withReuse, fresh := 0, 0, 0
		for i, m := range msgs {
			e.wLit[0] = math.MaxUint32
			out, ok := e.encode(nil, m, 15)
			if !ok {
				t.Fatalf("%d bytes, message %d: not compressed", size, i)
			}
			if e.wLit[0] == math.MaxUint32 {
				reused++
			}
			got, err := deflateStdInflate(out, nil)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("%d bytes, message %d: %v", size, i, err)
			}
			alone, _ := deflateEncodeFresh(m)
			withReuse += len(out)
			fresh += len(alone)
		}
		t.Logf("%d bytes: %d of %d messages reused the code; %d bytes, %d without reuse", size, reused, len(msgs), withReuse, fresh)
		if reused < len(msgs)/2 {
			t.Errorf("%d bytes: %d of %d messages reused the code", size, reused, len(msgs))
		}
		if withReuse > fresh*103/100 {
			t.Errorf("%d bytes: %d bytes with reuse, %d without", size, withReuse, fresh)
		}
	}
	e := deflateEncoderPool.New().(*deflateEncoder)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 300 {
		m := make([]byte, 200+rng.IntN(3000))
		from := byte(i % 200)
		for k := range m {
			if k > 40 && rng.IntN(4) == 0 { // a repeat, near or far
				d := 1 + rng.IntN(min(k, 1<<(1+i%15)))
				m[k] = m[k-d]
				continue
			}
			m[k] = from + byte(rng.IntN(8+i%40))
		}
		out, ok := e.encode(nil, m, 15)
		if !ok {
			continue
		}
		got, err := deflateStdInflate(out, nil)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("shifting alphabet, message %d: %v", i, err)
		}
	}
}

// deflateEncodeFresh encodes m with a new encoder, which has no code to
// reuse.
func deflateEncodeFresh(m []byte) ([]byte, bool) {
	return deflateEncoderPool.New().(*deflateEncoder).encode(nil, m, 15)
}

// TestReuseCostThreshold checks where reuseCost stops reusing a code: at
// 4% above the block's entropy for a small block, at 256 bits above it for
// a large one. The kept code is built for counts halving from 'a' to 'l'
// (nearly free of waste); the block's counts move from those towards the
// reverse order, and two of them are taken whose cost over the entropy
// (computed here with math.Log2) falls just below and just above that
// threshold.
func TestReuseCostThreshold(t *testing.T) {
	const symbols = 12
	e := deflateEncoderPool.New().(*deflateEncoder)
	var kept [286]uint32
	for k := range symbols {
		kept['a'+k] = 1 << (symbols - k)
	}
	kept[256] = 1
	huffmanLengths(e.litLen[:286], kept[:], 15, &e.huff)
	e.code.valid = true
	for _, scale := range []float64{0.25, 200} { // about 2,000 and 1,600,000 symbols
		below, above := false, false
		for step := 0; step <= 100000 && !(below && above); step++ {
			mix := float64(step) / 100000
			clear(e.litFreq[:])
			var n, sumXlogX, cost float64
			for s, f := range kept {
				if f == 0 {
					continue
				}
				g := float64(f)
				if s != 256 {
					g = (1-mix)*g + mix*float64(kept['a'+symbols-1-(s-'a')])
				}
				c := uint32(max(1, math.Round(g*scale)))
				e.litFreq[s] = c
				x := float64(c)
				n += x
				sumXlogX += x * math.Log2(x)
				cost += x * float64(e.litLen[s])
			}
			ent := n*math.Log2(n) - sumXlogX
			threshold := min(ent*0.04, 256)
			excess := cost - ent
			var want bool
			switch {
			case excess > 0.9*threshold && excess < 0.97*threshold && !below:
				want, below = true, true
			case excess > 1.03*threshold && excess < 1.1*threshold && !above:
				want, above = false, true
			default:
				continue
			}
			if _, got := e.reuseCost(); got != want {
				t.Errorf("scale %v: %.0f bits over an entropy of %.0f (threshold %.0f): reuse %v", scale, excess, ent, threshold, got)
			}
		}
		if !below || !above {
			t.Fatalf("scale %v: no counts near the threshold", scale)
		}
	}
}
