package wsmem

import (
	"bytes"
	stdflate "compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/flate"
)

// deflateTestText returns n bytes of JSON-like text that differs from call to
// call (ids, names, numbers), like a stream of real API messages.
func deflateTestText(rng *rand.Rand, n int) []byte {
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	b := make([]byte, 0, n+256)
	b = append(b, '[')
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"user":"%s_%d","email":"%s%d@example.org","active":%t,"score":%d.%02d,"tags":["%s","%s"]},`,
			rng.IntN(1_000_000), words[rng.IntN(len(words))], rng.IntN(10_000), words[rng.IntN(len(words))], rng.IntN(1000),
			rng.IntN(2) == 0, rng.IntN(1000), rng.IntN(100), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	return b[:n]
}

func deflateTestRandom(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// deflateRefWindow is the tests' own model of an LZ77 window: the last size bytes of
// everything appended.
func deflateRefWindow(hist, msg []byte, size int) []byte {
	h := append(append([]byte(nil), hist...), msg...)
	if len(h) > size {
		h = h[len(h)-size:]
	}
	return h
}

// deflateStdInflate decompresses a permessage-deflate payload with the standard
// library, on top of dict.
func deflateStdInflate(payload, dict []byte) ([]byte, error) {
	in := append(append([]byte(nil), payload...), deflateReadTail[:]...)
	r := stdflate.NewReaderDict(bytes.NewReader(in), dict)
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// deflateStdDeflate compresses msg as a permessage-deflate payload with the standard
// library, on top of dict.
func deflateStdDeflate(t testing.TB, msg, dict []byte, level int) []byte {
	var buf bytes.Buffer
	w, err := stdflate.NewWriterDict(&buf, level, dict)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(out, deflateSyncTail[:]) {
		t.Fatal("stdlib flush without sync tail")
	}
	return out[:len(out)-4]
}

type deflateTestMsg struct {
	name         string
	data         []byte
	compressible bool // must compress
	incompress   bool // must not compress
}

func deflateTestMessages(rng *rand.Rand) []deflateTestMsg {
	t16 := deflateTestText(rng, 16<<10)
	return []deflateTestMsg{
		{"text 2000", deflateTestText(rng, 2000), true, false},
		{"text 300", deflateTestText(rng, 300), true, false},
		{"empty", nil, false, true},
		{"random 3000", deflateTestRandom(rng, 3000), false, true},
		{"text 50K", deflateTestText(rng, 50<<10), true, false},
		{"text 16K", t16, true, false},
		{"1 byte", []byte{'x'}, false, true},
		// Sent uncompressed, so it must stay out of the window: otherwise it
		// would push the 16 KiB text out before its second copy.
		{"random 70K", deflateTestRandom(rng, 70<<10), false, true},
		{"text 16K again", t16, true, false},
		{"text 130", deflateTestText(rng, 130), false, false},
		{"zeros 100K", make([]byte, 100<<10), true, false},
		{"text 5000", deflateTestText(rng, 5000), true, false},
	}
}

// TestCompressMessageAgainstStdlib compresses message sequences with every
// window size, with and without context takeover, and decodes each message
// with compress/flate and with the reference decoder, which also checks that
// no back-reference reaches outside the negotiated window.
func TestCompressMessageAgainstStdlib(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		for bits := uint8(8); bits <= 15; bits++ {
			levels := []int{1}
			if bits == 15 {
				levels = []int{1, 2, 5, 6, 7, 9}
			}
			for _, level := range levels {
				t.Run(fmt.Sprintf("takeover=%v/bits=%d/level=%d", takeover, bits, level), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(bits), uint64(level)))
					var win *deflateWindow
					if takeover {
						win = newDeflateWindow(bits)
					}
					var hist []byte // what the peer's decompressor has seen
					sizes := map[string]int{}
					for _, m := range deflateTestMessages(rng) {
						dst := append(make([]byte, 0, 8), "hdr"...)
						out, ok := compressMessage(dst, m.data, level, bits, win)
						if string(out[:3]) != "hdr" {
							t.Fatalf("%s: prefix clobbered", m.name)
						}
						if !ok {
							if m.compressible {
								t.Fatalf("%s: not compressed", m.name)
							}
							if len(out) != 3 {
								t.Fatalf("%s: ok=false but dst grew", m.name)
							}
						} else {
							if m.incompress {
								t.Fatalf("%s: claimed to compress", m.name)
							}
							payload := out[3:]
							if len(payload) >= len(m.data) {
								t.Fatalf("%s: %d bytes not smaller than %d", m.name, len(payload), len(m.data))
							}
							sizes[m.name] = len(payload)
							got, err := deflateStdInflate(payload, hist)
							if err != nil || !bytes.Equal(got, m.data) {
								t.Fatalf("%s: stdlib inflate: err=%v equal=%v", m.name, err, bytes.Equal(got, m.data))
							}
							got, maxDist, err := deflateRefInflate(hist, payload)
							if err != nil || !bytes.Equal(got, m.data) {
								t.Fatalf("%s: reference inflate: err=%v equal=%v", m.name, err, bytes.Equal(got, m.data))
							}
							if maxDist > 1<<bits {
								t.Fatalf("%s: back-reference distance %d outside the %d-byte window", m.name, maxDist, 1<<bits)
							}
							if takeover {
								hist = deflateRefWindow(hist, m.data, 1<<bits)
							}
						}
						if takeover && !bytes.Equal(win.history(), hist) {
							t.Fatalf("%s: window (%d bytes) differs from the peer's (%d bytes)", m.name, len(win.history()), len(hist))
						}
					}
					// The repeated 16 KiB message must profit from the window
					// exactly when it fits in it.
					first, again := sizes["text 16K"], sizes["text 16K again"]
					if takeover && bits == 15 && again*4 > first {
						t.Fatalf("takeover did not help: %d then %d bytes", first, again)
					}
					if !takeover && again*2 < first {
						t.Fatalf("no takeover but second copy shrank: %d then %d bytes", first, again)
					}
				})
			}
		}
	}
}

// TestCompressSmallerSendWindow keeps less send history than the negotiated
// 15-bit window; the peer, which keeps the full 32 KiB, must still decode.
func TestCompressSmallerSendWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	send, recv := newDeflateWindow(12), newDeflateWindow(15)
	var hist []byte // the peer's full window
	for i := range 40 {
		m := deflateTestText(rng, rng.IntN(12000))
		out, ok := compressMessage(nil, m, 1, 15, send)
		if !ok {
			continue
		}
		got, err := deflateStdInflate(out, hist)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("msg %d: stdlib: %v", i, err)
		}
		got, err = inflateMessage(nil, out, recv, -1)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("msg %d: inflate: %v", i, err)
		}
		hist = deflateRefWindow(hist, m, 1<<15)
		if !bytes.Equal(recv.history(), hist) || !bytes.Equal(send.history(), deflateRefWindow(nil, hist, 1<<12)) {
			t.Fatalf("msg %d: windows", i)
		}
	}
}

// TestInflateAgainstStdlib decodes message sequences compressed by
// compress/flate (primed with the same history a peer with context takeover
// would use), reading in chunks of various sizes, and checks the receive
// window after every message. Some messages are "sent uncompressed" and must
// not touch the window.
func TestInflateAgainstStdlib(t *testing.T) {
	for _, takeover := range []bool{false, true} {
		for _, bits := range []uint8{8, 9, 10, 12, 14, 15} {
			for _, chunk := range []int{1, 333, 4096, 1 << 20} {
				t.Run(fmt.Sprintf("takeover=%v/bits=%d/chunk=%d", takeover, bits, chunk), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(uint64(bits), uint64(chunk)))
					var win *deflateWindow
					if takeover {
						win = newDeflateWindow(bits)
					}
					var hist []byte
					buf := make([]byte, chunk)
					for i, m := range deflateTestMessages(rng) {
						if chunk == 1 && len(m.data) > 20000 {
							continue // keep the byte-at-a-time runs short
						}
						if i%4 == 3 {
							continue // sent with RSV1 clear: not inflated, window untouched
						}
						payload := deflateStdDeflate(t, m.data, hist, 6)
						f := getInflater(payload, win)
						var got []byte
						for {
							n, err := f.Read(buf)
							got = append(got, buf[:n]...)
							if err == io.EOF {
								break
							}
							if err != nil {
								t.Fatalf("%s: %v", m.name, err)
							}
						}
						if n, err := f.Read(buf); n != 0 || err != io.EOF {
							t.Fatalf("%s: read after EOF: %d %v", m.name, n, err)
						}
						putInflater(f)
						if !bytes.Equal(got, m.data) {
							t.Fatalf("%s: got %d bytes, want %d (equal=%v)", m.name, len(got), len(m.data), bytes.Equal(got, m.data))
						}
						if takeover {
							hist = deflateRefWindow(hist, m.data, 1<<bits)
							if !bytes.Equal(win.history(), hist) {
								t.Fatalf("%s: window (%d bytes) differs from the sender's (%d bytes)", m.name, len(win.history()), len(hist))
							}
						}
					}
				})
			}
		}
	}
}

// TestDeflateOursBothWays runs long random conversations through our own
// compressor and decompressor, mixing compressed and uncompressed messages.
func TestDeflateOursBothWays(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 12 {
		bits := uint8(8 + round%8)
		takeover := round%3 != 0
		level := 1 + round%9
		var sendWin, recvWin *deflateWindow
		if takeover {
			sendWin, recvWin = newDeflateWindow(bits), newDeflateWindow(bits)
		}
		var out, plain []byte
		for i := range 60 {
			var msg []byte
			switch rng.IntN(4) {
			case 0:
				msg = deflateTestRandom(rng, rng.IntN(2000))
			default:
				msg = deflateTestText(rng, rng.IntN(40000))
			}
			var ok bool
			out, ok = compressMessage(out[:0], msg, level, bits, sendWin)
			if !ok {
				continue
			}
			var err error
			plain, err = inflateMessage(plain[:0], out, recvWin, len(msg))
			if err != nil || !bytes.Equal(plain, msg) {
				t.Fatalf("round %d msg %d (bits %d, takeover %v): err=%v equal=%v", round, i, bits, takeover, err, bytes.Equal(plain, msg))
			}
			if takeover && !bytes.Equal(sendWin.history(), recvWin.history()) {
				t.Fatalf("round %d msg %d: windows diverged", round, i)
			}
		}
	}
}

// history returns w's history, oldest first, in a new slice.
func (w *deflateWindow) history() []byte {
	a, b := w.parts()
	return append(append([]byte{}, a...), b...)
}

func TestDeflateWindowWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bits := range []uint8{8, 9, 12, 15} {
		w := newDeflateWindow(bits)
		var ref []byte
		for range 300 {
			p := deflateTestRandom(rng, rng.IntN(3<<bits/2))
			w.write(p)
			ref = deflateRefWindow(ref, p, 1<<bits)
			if !bytes.Equal(w.history(), ref) {
				t.Fatalf("bits %d: window differs", bits)
			}
			n := rng.IntN(1<<bits + 10)
			scratch := make([]byte, 0, 1<<bits)
			if got := w.contiguous(n, scratch); !bytes.Equal(got, ref[max(0, len(ref)-n):]) {
				t.Fatalf("bits %d: the last %d bytes of the window differ", bits, n)
			}
			if cap(w.hist) > 1<<bits {
				t.Fatalf("bits %d: capacity %d beyond window", bits, cap(w.hist))
			}
		}
	}
	w := newDeflateWindow(15)
	w.write(make([]byte, 100))
	if cap(w.hist) >= 1<<15 {
		t.Fatalf("a 100-byte history allocated %d bytes", cap(w.hist))
	}
}

// RFC 7692 §7.2.3 examples, all encoding "Hello".
func TestInflateRFCExamples(t *testing.T) {
	tests := []struct {
		name string
		msgs [][]byte // decoded in sequence with one window
	}{
		{"7.2.3.1 one compressed block", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}},
		{"7.2.3.2 sharing the window", [][]byte{{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00}}},
		{"7.2.3.3 no compression", [][]byte{{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}}},
		{"7.2.3.4 BFINAL set", [][]byte{{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}}},
		{"7.2.3.5 two blocks", [][]byte{{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00}}},
	}
	for _, tc := range tests {
		win := newDeflateWindow(15)
		for i, m := range tc.msgs {
			got, err := inflateMessage(nil, m, win, 100)
			if err != nil || string(got) != "Hello" {
				t.Fatalf("%s #%d: %q %v", tc.name, i, got, err)
			}
		}
	}
	// The second message of 7.2.3.2 refers to the first: without the window
	// it is corrupt.
	if _, err := inflateMessage(nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, nil, 100); !errors.Is(err, errDeflateCorrupt) {
		t.Fatalf("back-reference without history: %v", err)
	}
	// Empty messages: an empty payload, and the single 0x00 of §7.2.3.6.
	for _, m := range [][]byte{nil, {0x00}} {
		got, err := inflateMessage(nil, m, newDeflateWindow(15), 0)
		if err != nil || len(got) != 0 {
			t.Fatalf("empty message %x: %q %v", m, got, err)
		}
	}
}

func TestCompressEmptyAndTiny(t *testing.T) {
	win := newDeflateWindow(15)
	for _, m := range [][]byte{nil, {}, {'a'}, []byte("abc")} {
		out, ok := compressMessage(nil, m, 1, 15, win)
		if ok || len(out) != 0 {
			t.Fatalf("%q: ok=%v out=%x", m, ok, out)
		}
	}
	if len(win.history()) != 0 {
		t.Fatalf("uncompressed messages entered the window: %q", win.history())
	}
}

func TestInflateCorrupt(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bad := [][]byte{
		{0x07},                               // BFINAL, reserved block type 3
		{0x06},                               // reserved block type 3
		{0x00, 0x05, 0x00, 0x00, 0x00},       // stored block, LEN/NLEN mismatch
		{0x00, 0x14, 0x00, 0xeb, 0xff, 0x48}, // stored block cut short (tail is read as data, then EOF)
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0x04, 0xff, 0xff}, // dynamic block with nonsense tables
	}
	for _, m := range bad {
		_, err := inflateMessage(nil, m, nil, 1<<20)
		if !errors.Is(err, errDeflateCorrupt) {
			t.Fatalf("%x: err = %v", m, err)
		}
	}
	// The error is sticky on the Read API.
	f := getInflater([]byte{0x07}, nil)
	buf := make([]byte, 16)
	if _, err := f.Read(buf); !errors.Is(err, errDeflateCorrupt) {
		t.Fatalf("first read: %v", err)
	}
	if n, err := f.Read(buf); n != 0 || !errors.Is(err, errDeflateCorrupt) {
		t.Fatalf("second read: %d %v", n, err)
	}
	putInflater(f)

	// Truncations and bit flips of a real message never panic and never
	// silently yield the original.
	msg := deflateTestText(rng, 20000)
	good, ok := compressMessage(nil, msg, 1, 15, nil)
	if !ok {
		t.Fatal("not compressed")
	}
	for cut := 0; cut < len(good); cut += 1 + cut/8 {
		got, err := inflateMessage(nil, good[:cut], nil, 1<<20)
		if err == nil && bytes.Equal(got, msg) {
			t.Fatalf("truncated at %d/%d decoded to the original", cut, len(good))
		}
	}
	for range 500 {
		m := append([]byte(nil), good...)
		m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
		_, _ = inflateMessage(nil, m, newDeflateWindow(10), 1<<20)
	}
	for range 2000 {
		m := deflateTestRandom(rng, rng.IntN(300))
		_, err := inflateMessage(nil, m, nil, 1<<20)
		if err != nil && !errors.Is(err, errDeflateCorrupt) && !errors.Is(err, errDeflateTooLarge) {
			t.Fatalf("unexpected error %v", err)
		}
	}
}

// inflateInPlace is inflateMessage through getInflater with the tail
// written behind a copy of src, as a connection inflates. It fails t if
// anything past the tail's room was written.
func inflateInPlace(t testing.TB, src []byte, win *deflateWindow, limit int) ([]byte, error) {
	const guard = 64
	buf := make([]byte, len(src), len(src)+deflateTailRoom+guard)
	copy(buf, src)
	after := buf[len(src)+deflateTailRoom : cap(buf)]
	for i := range after {
		after[i] = 0xa5
	}
	f := getInflater(buf, win)
	if f.src.tail != nil {
		t.Fatal("in-place inflater reads from an inflateSource")
	}
	got, err := f.readAll(nil, limit)
	putInflater(f)
	if !bytes.Equal(buf[:len(src)], src) {
		t.Fatal("the payload changed")
	}
	for _, c := range after {
		if c != 0xa5 {
			t.Fatal("written past the tail")
		}
	}
	return got, err
}

// TestInflateInPlace: decoding with the tail written behind the payload
// (a *bytes.Reader source) gives what the inflateSource path gives, for
// good, empty, truncated and damaged messages, with and without history.
func TestInflateInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	hist := deflateTestText(rng, 40000)
	msg := deflateTestText(rng, 20000)
	var inputs [][]byte
	for _, w := range []*deflateWindow{nil, newDeflateWindow(15)} {
		if w != nil {
			w.write(hist)
		}
		good, ok := compressMessage(nil, msg, 1, 15, w)
		if !ok {
			t.Fatal("not compressed")
		}
		inputs = append(inputs, good, nil, []byte{0x00}, []byte{0x07}, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		for cut := 0; cut < len(good); cut += 1 + cut/4 {
			inputs = append(inputs, good[:cut])
		}
		for range 200 {
			m := append([]byte(nil), good...)
			m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
			inputs = append(inputs, m)
		}
	}
	for i, in := range inputs {
		for _, takeover := range []bool{false, true} {
			for _, limit := range []int{-1, len(msg) / 2} {
				var w1, w2 *deflateWindow
				if takeover {
					w1, w2 = newDeflateWindow(15), newDeflateWindow(15)
					w1.write(hist)
					w2.write(hist)
				}
				want, wantErr := inflateMessage(nil, in, w1, limit)
				got, err := inflateInPlace(t, in, w2, limit)
				if !bytes.Equal(got, want) || err != wantErr {
					t.Fatalf("input %d (%d bytes): in place %d bytes, %v; want %d bytes, %v", i, len(in), len(got), err, len(want), wantErr)
				}
				if takeover && wantErr == nil && !bytes.Equal(w1.history(), w2.history()) {
					t.Fatalf("input %d: windows differ", i)
				}
			}
		}
	}
}

// TestCompressPrimedStream: a pooled compressor that goes back to the send
// window it last compressed for goes on with its stream instead of being
// primed again; whatever else happened in between (other windows using it,
// a message that did not compress, the window reset for a new
// connection), every message decodes with exactly its own window's history
// and never reaches further back than the window.
func TestCompressPrimedStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, bits := range []uint8{15, 10} {
		type conn struct {
			send *deflateWindow
			hist []byte
		}
		conns := []*conn{{send: newDeflateWindow(bits)}, {send: newDeflateWindow(bits)}}
		texts := make([][]byte, 6)
		for i := range texts {
			texts[i] = deflateTestText(rng, 200+rng.IntN(3000))
		}
		continued := 0
		for i := range 400 {
			c := conns[0]
			if rng.IntN(4) == 0 { // mostly the same connection back to back
				c = conns[1]
			}
			var m []byte
			switch rng.IntN(20) {
			case 0:
				m = deflateTestRandom(rng, 500) // does not compress
			case 1:
				c.send.init(bits) // a new connection gets the window
				c.hist = nil
				fallthrough
			default:
				m = texts[rng.IntN(len(texts))]
			}
			pc := getDeflateCompressor(1, bits)
			if pc.primed == c.send.stamp {
				continued++
			}
			pc.pool.Put(pc)
			out, ok := compressMessage(nil, m, 1, bits, c.send)
			if !ok {
				if !bytes.Equal(c.send.history(), c.hist) {
					t.Fatalf("message %d: window changed by a message sent uncompressed", i)
				}
				continue
			}
			got, maxDist, err := deflateRefInflate(c.hist, out)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("bits %d message %d: %v", bits, i, err)
			}
			if maxDist > 1<<bits {
				t.Fatalf("distance %d beyond a %d-bit window", maxDist, bits)
			}
			c.hist = deflateRefWindow(c.hist, m, 1<<bits)
			if !bytes.Equal(c.send.history(), c.hist) {
				t.Fatalf("message %d: windows differ", i)
			}
		}
		if !raceEnabled && continued < 100 {
			t.Fatalf("bits %d: only %d of 400 messages went on with a primed compressor", bits, continued)
		}
	}
}

// TestCompressReprimedUsesRecentHistory: a compressor that served another
// connection in between is primed with the last deflatePrimeBytes of the
// window, so a message repeating recent history still shrinks to a few
// back-references, and the stream stays decodable with the whole window.
func TestCompressReprimedUsesRecentHistory(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	a := newDeflateWindow(15)
	var aHist []byte
	send := func(m []byte) []byte {
		t.Helper()
		out, ok := compressMessage(nil, m, 1, 15, a)
		if !ok {
			t.Fatal("not compressed")
		}
		got, _, err := deflateRefInflate(aHist, out)
		if err != nil || !bytes.Equal(got, m) {
			t.Fatalf("decode: %v", err)
		}
		aHist = deflateRefWindow(aHist, m, 1<<15)
		return out
	}
	// Fill a's window past deflatePrimeBytes, end it with a random block,
	// and send that block again from a compressor that must be primed:
	// a new stamp (as when another stream used the compressor) rules out
	// the pool handing back the one left primed with a's stream.
	send(deflateTestText(rng, 20000))
	recent := append(deflateTestRandom(rng, 1000), deflateTestText(rng, 200)...)
	send(recent)
	a.restamp(15)
	if out := send(recent); len(out) > 100 {
		t.Fatalf("re-primed compressor: %d bytes for a %d-byte repeat of recent history", len(out), len(recent))
	}
}

func TestInflateMessageLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	msg := deflateTestText(rng, 10000)
	c, ok := compressMessage(nil, msg, 1, 15, nil)
	if !ok {
		t.Fatal("not compressed")
	}
	for _, start := range [][]byte{nil, make([]byte, 0, 10000), make([]byte, 3, 20000)} {
		got, err := inflateMessage(start, c, nil, len(msg))
		if err != nil || !bytes.Equal(got[len(start):], msg) {
			t.Fatalf("limit == size: %v", err)
		}
		_, err = inflateMessage(start, c, nil, len(msg)-1)
		if !errors.Is(err, errDeflateTooLarge) {
			t.Fatalf("limit == size-1: %v", err)
		}
		got, err = inflateMessage(start, c, nil, -1)
		if err != nil || !bytes.Equal(got[len(start):], msg) {
			t.Fatalf("no limit: %v", err)
		}
	}
	if got, err := inflateMessage(nil, c, nil, 0); !errors.Is(err, errDeflateTooLarge) || len(got) != 0 {
		t.Fatalf("limit 0: %d bytes, %v", len(got), err)
	}
}

// deflateBombStream returns the permessage-deflate payload of n MiB of zeros,
// compressed one MiB at a time so that only the compressed stream (about a
// kilobyte per MiB) is ever held.
func deflateBombStream(t testing.TB, n int) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range n {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[:buf.Len()-4]
}

func TestInflateBomb(t *testing.T) {
	// The construction itself, at a size that can be checked in full.
	small := deflateBombStream(t, 8)
	got, err := inflateMessage(nil, small, nil, -1)
	if err != nil || len(got) != 8<<20 || bytes.IndexByte(got, 1) >= 0 {
		t.Fatalf("8 MiB of zeros: %d bytes, %v", len(got), err)
	}
	got = nil

	bomb := deflateBombStream(t, 1024) // 1 GiB of zeros
	t.Logf("1 GiB of zeros compresses to %d bytes", len(bomb))
	const limit = 1 << 20

	// Warm the pool so that only the message's own memory is measured.
	putInflater(getInflater(nil, nil))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := inflateMessage(nil, bomb, nil, limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errDeflateTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if len(out) > limit+64<<10 {
		t.Fatalf("produced %d bytes past a %d limit", len(out), limit)
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("inflateMessage: stopped after %d bytes, allocated %d bytes in total", len(out), grew)
	if grew > 4<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte limit", grew, limit)
	}

	// The Read API with a fixed 32 KiB buffer: nothing allocated at all.
	buf := make([]byte, 32<<10)
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := getInflater(bomb, nil)
	total := 0
	for total <= limit {
		n, err := f.Read(buf)
		total += n
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	putInflater(f)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
		t.Fatalf("Read API allocated %d bytes", grew)
	}
	if after.HeapInuse > before.HeapInuse+4<<20 {
		t.Fatalf("heap grew from %d to %d bytes", before.HeapInuse, after.HeapInuse)
	}
}

// TestDeflateZeroAllocs checks that, once pools and windows are warm, a
// message costs no heap allocation in any mode.
func TestDeflateZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects under the race detector")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for _, size := range []int{1 << 10, 16 << 10} {
		msgs := make([][]byte, 16)
		for i := range msgs {
			msgs[i] = deflateTestText(rng, size)
		}
		for _, mode := range []struct {
			name     string
			takeover bool
			bits     uint8
			level    int
		}{
			{"no-takeover", false, 15, 1},
			{"takeover", true, 15, 1},
			{"takeover-level9", true, 15, 9},
			{"takeover-bits10", true, 10, 1},
			{"no-takeover-bits9", false, 9, 1},
		} {
			t.Run(fmt.Sprintf("%d/%s", size, mode.name), func(t *testing.T) {
				var sendWin, recvWin *deflateWindow
				if mode.takeover {
					sendWin, recvWin = newDeflateWindow(mode.bits), newDeflateWindow(mode.bits)
				}
				cbuf := make([]byte, 0, size+64)
				pbuf := make([]byte, 0, size)
				rbuf := make([]byte, 4096)
				i := 0
				step := func() {
					m := msgs[i%len(msgs)]
					i++
					c, ok := compressMessage(cbuf[:0], m, mode.level, mode.bits, sendWin)
					if !ok {
						t.Fatal("not compressed")
					}
					var err error
					if i%2 == 0 {
						var p []byte
						p, err = inflateMessage(pbuf[:0], c, recvWin, size)
						if !bytes.Equal(p, m) {
							t.Fatal("round trip mismatch")
						}
					} else {
						f := getInflater(c, recvWin)
						n := 0
						for err == nil {
							var k int
							k, err = f.Read(rbuf)
							n += k
						}
						putInflater(f)
						if err == io.EOF && n == len(m) {
							err = nil
						}
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				for range 64 { // fill the windows to their final size
					step()
				}
				if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
					t.Fatalf("%v allocations per message", allocs)
				}
			})
		}
	}
}

// TestDeflateRetainedPerConnection measures what a connection keeps between
// messages in each mode, after one message in each direction: the heap with
// 1000 connection states alive minus the heap after they are dropped, with the
// pooled (de)compressor held outside its pool during both readings so that
// pool clearing by the GC does not blur the figure.
func TestDeflateRetainedPerConnection(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type conn struct{ send, recv *deflateWindow }
	const n = 1000
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		msg := deflateTestText(rng, size)
		cbuf := make([]byte, 0, size+64)
		pbuf := make([]byte, 0, size)
		for _, takeover := range []bool{false, true} {
			conns := make([]conn, n)
			for i := range conns {
				if takeover {
					conns[i] = conn{newDeflateWindow(15), newDeflateWindow(15)}
				}
				c, ok := compressMessage(cbuf[:0], msg, 1, 15, conns[i].send)
				if !ok {
					t.Fatal("not compressed")
				}
				if _, err := inflateMessage(pbuf[:0], c, conns[i].recv, -1); err != nil {
					t.Fatal(err)
				}
			}
			w := getDeflateCompressor(1, 15)
			f := getInflater(nil, nil)
			withConns := heap()
			runtime.KeepAlive(conns)
			conns = nil
			without := heap()
			w.pool.Put(w)
			putInflater(f)
			per := (withConns - without) / n
			t.Logf("message %5d B, takeover=%-5v: %6d bytes retained per connection (both directions)", size, takeover, per)
			limit := int64(256)
			if takeover {
				limit += 2 * int64(min(size, 32<<10)) // one window per direction
			}
			if per > limit {
				t.Fatalf("%d bytes per connection, want <= %d", per, limit)
			}
		}
	}

	// For comparison: a dedicated writer and reader per connection.
	keep := make([]any, 0, 20)
	for range 10 {
		w, _ := flate.NewWriter(io.Discard, 1)
		_, _ = w.Write(deflateTestText(rng, 100))
		_ = w.Flush()
		r := flate.NewReader(bytes.NewReader(nil))
		keep = append(keep, w, r)
	}
	with := heap()
	runtime.KeepAlive(keep)
	keep = nil
	t.Logf("for comparison, a dedicated level-1 flate.Writer + flate reader: %d bytes per connection", (with-heap())/10)
}

// TestDeflateConcurrent shares the pools between goroutines (run with -race).
func TestDeflateConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			bits := uint8(12 + g%4)
			send, recv := newDeflateWindow(bits), newDeflateWindow(bits)
			var c, p []byte
			for range 50 {
				m := deflateTestText(rng, rng.IntN(8000))
				var ok bool
				if c, ok = compressMessage(c[:0], m, 1+g, bits, send); !ok {
					continue
				}
				var err error
				if p, err = inflateMessage(p[:0], c, recv, -1); err != nil || !bytes.Equal(p, m) {
					t.Errorf("goroutine %d: err=%v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzDeflateRoundTrip(f *testing.F) {
	f.Add([]byte("hello hello hello hello hello hello"), uint8(1), uint8(7), uint16(10), true)
	f.Add(bytes.Repeat([]byte(`{"a":1,"b":[1,2,3]}`), 200), uint8(5), uint8(0), uint16(1000), true)
	f.Add(make([]byte, 3000), uint8(9), uint8(3), uint16(0), false)
	f.Add(bytes.Repeat([]byte("a long line of text, repeated; "), 400), uint8(0x80), uint8(7), uint16(9000), true)
	f.Fuzz(func(t *testing.T, data []byte, level, bits uint8, cut uint16, takeover bool) {
		bits = 8 + bits%8
		lvl := 1 + int(level%9)
		// With level's high bit every message gets a compressor primed
		// anew from the window, as after another connection used it.
		reprime := level&0x80 != 0
		var sendWin, recvWin *deflateWindow
		if takeover {
			sendWin, recvWin = newDeflateWindow(bits), newDeflateWindow(bits)
		}
		// Up to three messages: data[:c], data[c:], and data again.
		c := int(cut) % (len(data) + 1)
		var hist []byte
		for _, m := range [][]byte{data[:c], data[c:], data} {
			if reprime && sendWin != nil {
				sendWin.restamp(bits)
			}
			out, ok := compressMessage(nil, m, lvl, bits, sendWin)
			if !ok {
				if len(out) != 0 {
					t.Fatal("ok=false with output")
				}
				continue
			}
			if len(out) >= len(m) {
				t.Fatalf("%d bytes from %d", len(out), len(m))
			}
			got, maxDist, err := deflateRefInflate(hist, out)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("reference inflate: %v", err)
			}
			if maxDist > 1<<bits {
				t.Fatalf("distance %d beyond %d-bit window", maxDist, bits)
			}
			if got, err = deflateStdInflate(out, hist); err != nil || !bytes.Equal(got, m) {
				t.Fatalf("stdlib inflate: %v", err)
			}
			if got, err = inflateMessage(nil, out, recvWin, len(m)); err != nil || !bytes.Equal(got, m) {
				t.Fatalf("inflate: %v", err)
			}
			if takeover {
				hist = deflateRefWindow(hist, m, 1<<bits)
				if !bytes.Equal(sendWin.history(), hist) || !bytes.Equal(recvWin.history(), hist) {
					t.Fatal("windows differ")
				}
			}
		}
	})
}

func FuzzInflateCorrupt(f *testing.F) {
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint16(0))
	f.Add([]byte{0xf2, 0x00, 0x11, 0x00, 0x00}, uint16(5))
	f.Add([]byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}, uint16(0))
	f.Add([]byte{0x07}, uint16(100))
	// Both decodes start from new decoders: pooled ones may hold tables of
	// earlier inputs, which a malformed stream can reach (see
	// freshInflaters).
	freshInflaters.Store(true)
	defer freshInflaters.Store(false)
	f.Fuzz(func(t *testing.T, data []byte, dictLen uint16) {
		const limit = 1 << 20
		var win *deflateWindow
		var dict []byte
		if dictLen > 0 {
			win = newDeflateWindow(15)
			dict = bytes.Repeat([]byte("Hello"), int(dictLen)%7000)
			win.write(dict)
			dict = win.history()
			dict = append([]byte(nil), dict...)
		}
		var win2 *deflateWindow
		if win != nil {
			win2 = newDeflateWindow(15)
			win2.write(dict)
		}
		got, err := inflateMessage(nil, data, win, limit)
		got2, err2 := inflateInPlace(t, data, win2, limit)
		if !bytes.Equal(got, got2) || err != err2 {
			t.Fatalf("in place: %d bytes, %v; from an inflateSource: %d bytes, %v", len(got2), err2, len(got), err)
		}
		if err != nil {
			if !errors.Is(err, errDeflateCorrupt) && !errors.Is(err, errDeflateTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(got) > limit {
			t.Fatalf("%d bytes past the limit", len(got))
		}
		// Where the standard library also accepts the stream, both agree.
		in := append(append([]byte(nil), data...), deflateReadTail[:]...)
		want, stdErr := io.ReadAll(io.LimitReader(stdflate.NewReaderDict(bytes.NewReader(in), dict), limit+1))
		if stdErr == nil && !bytes.Equal(got, want) {
			t.Fatalf("decoders disagree: %d vs %d bytes", len(got), len(want))
		}
	})
}

// Benchmarks: one message per iteration, rotating through distinct JSON-like
// messages, more of them than fit in a 32 KiB window, so that context
// takeover is not flattered by exact repeats.

func deflateBenchMessages(size int) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(size), 1))
	msgs := make([][]byte, max(32, 4*deflateMaxWindow/size))
	for i := range msgs {
		msgs[i] = deflateTestText(rng, size)
	}
	return msgs
}

func BenchmarkDeflate(b *testing.B) {
	modes := []struct {
		name     string
		takeover bool
		sendBits uint8 // history our compressor keeps (negotiated: 15)
	}{
		{"no-takeover", false, 0},
		{"takeover", true, 15},
		{"takeover-send8KiB", true, 13},
	}
	for _, size := range []int{1 << 10, 16 << 10} {
		msgs := deflateBenchMessages(size)
		for _, mode := range modes {
			sendWin := func() *deflateWindow {
				if mode.takeover {
					return newDeflateWindow(mode.sendBits)
				}
				return nil
			}
			recvWin := func() *deflateWindow {
				if mode.takeover {
					return newDeflateWindow(15)
				}
				return nil
			}
			// Pre-compressed stream for the inflate-only benchmark.
			var comp [][]byte
			cw := sendWin()
			for _, m := range msgs {
				c, ok := compressMessage(nil, m, 1, 15, cw)
				if !ok {
					b.Fatal("not compressed")
				}
				comp = append(comp, c)
			}
			name := fmt.Sprintf("%dKiB/%s", size>>10, mode.name)
			b.Run(name+"/compress", func(b *testing.B) {
				win := sendWin()
				dst := make([]byte, 0, size+64)
				var total int
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					c, _ := compressMessage(dst[:0], msgs[i%len(msgs)], 1, 15, win)
					total += len(c)
					i++
				}
				b.ReportMetric(float64(total)/float64(i)/float64(size), "ratio")
			})
			if mode.takeover {
				b.Run(name+"/compress-2conns", func(b *testing.B) {
					// Two connections sending in turn: the pooled
					// compressor comes back primed for the other one, so
					// every message first re-primes it with its window.
					wins := [2]*deflateWindow{sendWin(), sendWin()}
					dst := make([]byte, 0, size+64)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					i, total := 0, 0
					for b.Loop() {
						c, _ := compressMessage(dst[:0], msgs[i/2%len(msgs)], 1, 15, wins[i%2])
						total += len(c)
						i++
					}
					b.ReportMetric(float64(total)/float64(i)/float64(size), "ratio")
				})
			}
			b.Run(name+"/inflate", func(b *testing.B) {
				dst := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				win := recvWin()
				i := 0
				for b.Loop() {
					if i%len(comp) == 0 && win != nil {
						win.init(15) // the stream restarts; keeps the buffer
					}
					if _, err := inflateMessage(dst[:0], comp[i%len(comp)], win, size); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run(name+"/inflate-tail", func(b *testing.B) {
				// As a connection inflates: the tail written behind the
				// payload, decoded from a *bytes.Reader.
				spare := make([][]byte, len(comp))
				for i, c := range comp {
					spare[i] = append(make([]byte, 0, len(c)+deflateTailRoom), c...)
				}
				dst := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				win := recvWin()
				i := 0
				for b.Loop() {
					if i%len(comp) == 0 && win != nil {
						win.init(15)
					}
					f := getInflater(spare[i%len(spare)], win)
					_, err := f.readAll(dst[:0], size)
					putInflater(f)
					if err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			b.Run(name+"/roundtrip", func(b *testing.B) {
				send, recv := sendWin(), recvWin()
				cbuf := make([]byte, 0, size+64)
				pbuf := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					c, _ := compressMessage(cbuf[:0], msgs[i%len(msgs)], 1, 15, send)
					if _, err := inflateMessage(pbuf[:0], c, recv, size); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// TestInflateIgnoresPastMessages: whatever pooled decoders decoded before
// (malformed streams, mutated messages, valid ones at every level, with
// and without a window), a valid message decodes to its text. A reused
// klauspost decoder keeps tables of earlier streams (see freshInflaters);
// only a stream that reads a table it did not declare can see them.
func TestInflateIgnoresPastMessages(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type sample struct {
		text, comp []byte
		dict       []byte // the window's history, nil without takeover
	}
	var samples []sample
	for i := range 64 {
		text := deflateTestText(rng, 16+rng.IntN(6000))
		var win *deflateWindow
		var dict []byte
		if i%2 == 1 {
			win = newDeflateWindow(15)
			win.write(deflateTestText(rng, 1+rng.IntN(40000)))
			dict = append([]byte(nil), win.history()...)
		}
		comp, ok := compressMessage(nil, text, 1+i%9, 15, win)
		if !ok {
			continue
		}
		samples = append(samples, sample{text, comp, dict})
	}
	malformed := [][]byte{
		[]byte("$\x01\x00\x00\x00\x8b\x8b\x8b\x8bA$\x00100000000O000000000000000"),
		[]byte("$0\x00\x00$000000\xff\x000\xad\xbd\x02æ\xe38\xf600(00000\x00\x04\x00\x00"),
	}
	window := func(dict []byte) *deflateWindow {
		if dict == nil {
			return nil
		}
		w := newDeflateWindow(15)
		w.write(dict)
		return w
	}
	for i := range 20000 {
		// Something else first: junk, a known malformed stream, or a
		// valid message with bits flipped.
		var junk []byte
		switch i % 3 {
		case 0:
			junk = make([]byte, rng.IntN(80))
			for k := range junk {
				junk[k] = byte(rng.Uint32())
			}
		case 1:
			junk = malformed[rng.IntN(len(malformed))]
		case 2:
			s := samples[rng.IntN(len(samples))]
			junk = append([]byte(nil), s.comp...)
			for range 1 + rng.IntN(3) {
				junk[rng.IntN(len(junk))] ^= 1 << rng.IntN(8)
			}
		}
		_, _ = inflateMessage(nil, junk, window(samples[rng.IntN(len(samples))].dict), 1<<16)
		s := samples[rng.IntN(len(samples))]
		var got []byte
		var err error
		if i%2 == 0 {
			got, err = inflateMessage(nil, s.comp, window(s.dict), 1<<20)
		} else {
			got, err = inflateInPlace(t, s.comp, window(s.dict), 1<<20)
		}
		if err != nil || !bytes.Equal(got, s.text) {
			t.Fatalf("round %d, after %q: %d bytes, %v; want the %d-byte text", i, junk, len(got), err, len(s.text))
		}
	}
}
