package wsmem

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
	"unsafe"
)

// utf8PrefixOK is the fail-fast reference built on unicode/utf8: p can
// still begin a valid UTF-8 text iff it is valid, or valid followed by an
// incomplete sequence that some bytes could complete. utf8.FullRune reports
// false exactly for such a completable, incomplete tail.
func utf8PrefixOK(p []byte) bool {
	var r utf8PrefixRef
	return r.ok(p)
}

// utf8PrefixRef computes utf8PrefixOK for a growing prefix in linear total
// time, so that the fuzz target stays fast on long inputs cut into many
// pieces. Each call must pass an extension of the previous call's prefix.
type utf8PrefixRef struct {
	checked int  // prefix[:checked] is valid and ends between characters
	bad     bool // an invalid sequence has been found
}

func (r *utf8PrefixRef) ok(prefix []byte) bool {
	for !r.bad && r.checked < len(prefix) {
		rest := prefix[r.checked:]
		if !utf8.FullRune(rest) {
			return true // incomplete, but some bytes would complete it
		}
		c, n := utf8.DecodeRune(rest)
		if c == utf8.RuneError && n == 1 {
			r.bad = true
			break
		}
		r.checked += n
	}
	return !r.bad
}

// utf8PrefixOKBrute is a second, independent form of the reference, used to
// cross-check the first: p can still be completed iff p followed by zero to
// three continuation bytes is valid. Every range a continuation byte may be
// restricted to (80..BF, A0..BF, 80..9F, 90..BF, 80..8F) contains 80, 90 or
// A0, so trying those three values at each position is enough.
func utf8PrefixOKBrute(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	conts := []byte{0x80, 0x90, 0xA0}
	buf := append([]byte(nil), p...)
	var try func(depth int) bool
	try = func(depth int) bool {
		if depth == 0 {
			return false
		}
		for _, c := range conts {
			buf = append(buf, c)
			if utf8.Valid(buf) || try(depth-1) {
				return true
			}
			buf = buf[:len(buf)-1]
		}
		return false
	}
	return try(3)
}

// utf8CheckPieces feeds pieces to a fresh validator and checks, after every
// piece, that feed fails at exactly the first piece whose prefix can no
// longer be valid and that done agrees with utf8.Valid on the prefix.
func utf8CheckPieces(t *testing.T, name string, pieces [][]byte) {
	t.Helper()
	var s utf8State
	var prefix []byte
	for i, p := range pieces {
		prefix = append(prefix, p...)
		got := s.feed(p)
		if want := utf8PrefixOK(prefix); got != want {
			t.Fatalf("%s: piece %d of %q: feed = %v, want %v (prefix % x)",
				name, i, pieces, got, want, prefix)
		}
		if got, want := s.done(), utf8.Valid(prefix); got != want {
			t.Fatalf("%s: piece %d of %q: done = %v, want utf8.Valid = %v (prefix % x)",
				name, i, pieces, got, want, prefix)
		}
	}
}

// utf8CheckSplits runs utf8CheckPieces over in as one piece, split in two
// at every position (including empty pieces), byte by byte and, for short
// inputs, split in three at every pair of positions.
func utf8CheckSplits(t *testing.T, name string, in []byte) {
	t.Helper()
	utf8CheckPieces(t, name+"/whole", [][]byte{in})
	for i := 0; i <= len(in); i++ {
		utf8CheckPieces(t, fmt.Sprintf("%s/split%d", name, i), [][]byte{in[:i], in[i:]})
	}
	bytewise := make([][]byte, len(in))
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	utf8CheckPieces(t, name+"/bytewise", bytewise)
	if len(in) <= 16 {
		for i := 0; i <= len(in); i++ {
			for j := i; j <= len(in); j++ {
				utf8CheckPieces(t, fmt.Sprintf("%s/split%d,%d", name, i, j),
					[][]byte{in[:i], in[i:j], in[j:]})
			}
		}
	}
}

var utf8Cases = []struct {
	name string
	in   string
}{
	{"empty", ""},
	{"ascii", "Hello, WebSocket!"},
	{"nul", "\x00"},

	// Boundary code points, valid.
	{"U+007F", "\x7f"},
	{"U+0080", "\xc2\x80"},
	{"U+07FF", "\xdf\xbf"},
	{"U+0800", "\xe0\xa0\x80"},
	{"U+D7FF", "\xed\x9f\xbf"},
	{"U+E000", "\xee\x80\x80"},
	{"U+FFFD", "\xef\xbf\xbd"},
	{"U+FFFF", "\xef\xbf\xbf"},
	{"U+10000", "\xf0\x90\x80\x80"},
	{"U+10FFFF", "\xf4\x8f\xbf\xbf"},
	{"U+FEFF", "\ufeff"},
	{"mixed", "aЖb中c😀d\u00e9\u0800\U0010FFFF"},
	{"cyrillic", "Привет, мир"},
	{"cjk", "你好，世界"},
	{"emoji", "😀😃😄😁"},

	// Beyond U+10FFFF.
	{"U+110000", "\xf4\x90\x80\x80"},
	{"F4-BF", "\xf4\xbf\xbf\xbf"},
	{"F5", "\xf5\x80\x80\x80"},
	{"F7", "\xf7\xbf\xbf\xbf"},
	{"F8-5byte", "\xf8\x88\x80\x80\x80"},
	{"FC-6byte", "\xfc\x84\x80\x80\x80\x80"},
	{"FE", "\xfe"},
	{"FF", "\xff"},

	// Overlong encodings.
	{"C0-80", "\xc0\x80"},
	{"C0-AF", "\xc0\xaf"},
	{"C1-BF", "\xc1\xbf"},
	{"E0-80-80", "\xe0\x80\x80"},
	{"E0-9F-BF", "\xe0\x9f\xbf"},
	{"F0-80-80-80", "\xf0\x80\x80\x80"},
	{"F0-8F-BF-BF", "\xf0\x8f\xbf\xbf"},

	// Surrogates, alone and paired.
	{"U+D800", "\xed\xa0\x80"},
	{"U+DBFF", "\xed\xaf\xbf"},
	{"U+DC00", "\xed\xb0\x80"},
	{"U+DFFF", "\xed\xbf\xbf"},
	{"surrogate-pair", "\xed\xa0\x80\xed\xb0\x80"},

	// Continuation byte where a lead byte is expected.
	{"lone-80", "\x80"},
	{"lone-BF", "\xbf"},
	{"ascii-then-80", "a\x80"},
	{"extra-cont-2", "\xc2\x80\x80"},
	{"extra-cont-3", "\xe1\x80\x80\x80"},
	{"extra-cont-4", "\xf1\x80\x80\x80\x80"},

	// Something else where a continuation byte is expected.
	{"C2-ascii", "\xc2a"},
	{"C2-lead", "\xc2\xc2\x80"},
	{"E1-ascii", "\xe1\x80a"},
	{"E1-lead", "\xe1\xe1\x80\x80"},
	{"F1-ascii", "\xf1\x80\x80a"},
	{"F1-lead", "\xf1\x80\xf1\x80\x80\x80"},
	{"E0-C0", "\xe0\xc0\x80"},
	{"F4-ascii", "\xf4 "},
	// A run of ASCII long enough for the word-at-a-time path, inside a
	// sequence: it must not be skipped as if between characters.
	{"C2-ascii-run-80", "\xc2abcdefghijklmnopqrstuvwxyz\x80"},
	{"E1-80-ascii-run-80", "\xe1\x80" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" + "\x80"},
	{"F1-ascii-run-80-80-80", "\xf1abcdefghijklmnop\x80\x80\x80"},

	// Incomplete at the end of the message: never invalid before the end.
	{"trunc-C2", "\xc2"},
	{"trunc-E0", "\xe0"},
	{"trunc-E0-A0", "\xe0\xa0"},
	{"trunc-ED-9F", "\xed\x9f"},
	{"trunc-F0", "\xf0"},
	{"trunc-F0-90", "\xf0\x90"},
	{"trunc-F0-90-80", "\xf0\x90\x80"},
	{"trunc-F4-8F-BF", "\xf4\x8f\xbf"},
	{"trunc-after-text", "Привет\xd0"},
	{"trunc-then-more", "\xe2\x82 \xe2\x82\xac"},

	// Invalid inside or after longer valid text.
	{"invalid-mid", "κόσμε\xffκόσμε"},
	{"invalid-late", "The quick brown fox jumps over the lazy dog\xc0"},
}

func TestUTF8Cases(t *testing.T) {
	for _, c := range utf8Cases {
		in := []byte(c.in)
		// The two forms of the reference must agree on every prefix.
		for i := 0; i <= len(in); i++ {
			if a, b := utf8PrefixOK(in[:i]), utf8PrefixOKBrute(in[:i]); a != b {
				t.Fatalf("%s: reference disagrees on % x: %v vs %v", c.name, in[:i], a, b)
			}
		}
		utf8CheckSplits(t, c.name, in)
	}
}

// TestUTF8CasesEmbedded places every case at many offsets inside ASCII and
// non-ASCII filler, so that it meets the 8-byte words and 64-byte blocks of
// the word-at-a-time paths at every alignment.
func TestUTF8CasesEmbedded(t *testing.T) {
	fillers := []string{"a", "é", "中", "😀"}
	for _, c := range utf8Cases {
		for _, f := range fillers {
			for k := 0; k <= 140; k++ {
				for _, m := range []int{0, 5, 40} {
					var in []byte
					for len(in) < k {
						in = append(in, f...)
					}
					in = append(in, c.in...)
					for n := len(in) + m; len(in) < n; {
						in = append(in, f...)
					}
					name := fmt.Sprintf("%s/%q*%d/+%d", c.name, f, k, m)
					utf8CheckPieces(t, name, [][]byte{in})
					step := 3
					if k > 40 {
						step = 11
					}
					for i := 0; i <= len(in); i += step {
						utf8CheckPieces(t, name, [][]byte{in[:i], in[i:]})
					}
				}
			}
			in := bytes.Repeat([]byte(f), 20)
			in = append(in, c.in...)
			in = append(in, bytes.Repeat([]byte(f), 20)...)
			utf8CheckSplits(t, c.name+"/"+f+"-long", in)
		}
	}
}

// TestUTF8Exhaustive feeds every sequence of up to two bytes, and every
// sequence of up to four bytes drawn from the values at the edges of the
// byte classes, byte by byte, checking every prefix.
func TestUTF8Exhaustive(t *testing.T) {
	edges := []byte{
		0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
		0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
		0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF,
	}
	check := func(in []byte) {
		var s utf8State
		for i := range in {
			got := s.feed(in[i : i+1])
			if want := utf8PrefixOK(in[:i+1]); got != want {
				t.Fatalf("% x: feed after %d bytes = %v, want %v", in, i+1, got, want)
			}
			if got, want := s.done(), utf8.Valid(in[:i+1]); got != want {
				t.Fatalf("% x: done after %d bytes = %v, want %v", in, i+1, got, want)
			}
		}
		s.reset()
		if got, want := s.feed(in), utf8PrefixOK(in); got != want {
			t.Fatalf("% x: feed whole = %v, want %v", in, got, want)
		}
	}
	// The two forms of the reference must agree wherever they are both
	// cheap enough to run.
	brute := func(in []byte) {
		if a, b := utf8PrefixOK(in), utf8PrefixOKBrute(in); a != b {
			t.Fatalf("reference disagrees on % x: %v vs %v", in, a, b)
		}
	}
	for a := range 256 {
		check([]byte{byte(a)})
		for b := range 256 {
			check([]byte{byte(a), byte(b)})
			brute([]byte{byte(a), byte(b)})
		}
	}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				check([]byte{a, b, c})
				brute([]byte{a, b, c})
				for _, d := range edges {
					check([]byte{a, b, c, d})
				}
			}
		}
	}
}

// TestUTF8AllRunes checks every code point, surrogates included (which
// utf8.AppendRune would replace, so they are encoded by hand), and the
// first byte past the Unicode range.
func TestUTF8AllRunes(t *testing.T) {
	var buf [4]byte
	for r := rune(0); r <= 0x110000; r++ {
		var in []byte
		switch {
		case r < 0x80:
			in = append(buf[:0], byte(r))
		case r < 0x800:
			in = append(buf[:0], 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
		case r < 0x10000:
			in = append(buf[:0], 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
		default:
			in = append(buf[:0], 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F,
				0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
		}
		want := utf8.ValidRune(r)
		var s utf8State
		ok := true
		for i := range in {
			ok = s.feed(in[i : i+1])
		}
		if ok != want || s.done() != want {
			t.Fatalf("U+%04X (% x): feed = %v, done = %v, want %v", r, in, ok, s.done(), want)
		}
		s.reset()
		if s.feed(in) != want || s.done() != want {
			t.Fatalf("U+%04X (% x): whole: want %v", r, in, want)
		}
	}
}

func TestUTF8StickyAndReset(t *testing.T) {
	var s utf8State
	if !s.done() {
		t.Fatal("zero value: done = false, want true (empty message is valid)")
	}
	if !s.feed(nil) || !s.done() {
		t.Fatal("empty feed on zero value must keep it valid")
	}
	if s.feed([]byte("ok\xed\xa0")) {
		t.Fatal("surrogate prefix accepted")
	}
	for _, p := range []string{"", "a", "\x80", "more plain ASCII text, long enough for the fast path"} {
		if s.feed([]byte(p)) || s.done() {
			t.Fatalf("feed(%q) after an error: want sticky failure", p)
		}
	}
	s.reset()
	if !s.feed([]byte("\xe2\x82")) || s.done() {
		t.Fatal("after reset: incomplete euro sign must be pending, not done")
	}
	if !s.feed([]byte("\xac")) || !s.done() {
		t.Fatal("after reset: euro sign completed across pieces must be valid")
	}
	s.reset()
	if !s.feed([]byte("\xf0")) {
		t.Fatal("F0 alone must be possibly valid")
	}
	s.reset() // a pending sequence must not leak into the next message
	if !s.feed([]byte("a")) || !s.done() {
		t.Fatal("reset did not clear a pending sequence")
	}
}

// TestUTF8Table checks the packed table against utf8Step for every state
// and byte, and that every live state can still reach utf8Accept (which is
// what makes a reject the earliest possible one).
func TestUTF8Table(t *testing.T) {
	for b := range 256 {
		for i := range utf8States {
			st := uint8(i * 6)
			got := uint8(utf8Table[b]>>st) & 63
			if want := utf8Step(st, byte(b)); got != want {
				t.Fatalf("table[%#02x] state %d: %d, want %d", b, st, got, want)
			}
		}
	}
	for i := range utf8States {
		st := uint8(i * 6)
		if st == utf8Reject {
			continue
		}
		// Breadth-first search from st over all bytes.
		seen := map[uint8]bool{st: true}
		queue := []uint8{st}
		for len(queue) > 0 {
			q := queue[0]
			queue = queue[1:]
			for b := range 256 {
				n := utf8Step(q, byte(b))
				if !seen[n] {
					seen[n] = true
					queue = append(queue, n)
				}
			}
		}
		if !seen[utf8Accept] {
			t.Fatalf("state %d cannot reach utf8Accept", st)
		}
	}
	if got := unsafe.Sizeof(utf8State{}); got != 1 {
		t.Fatalf("utf8State is %d bytes, want 1", got)
	}
}

func TestUTF8RandomPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", " ", "\x7f", "é", "ж", "\u07ff", "\u0800", "中", "\uffff",
		"😀", "\U00010000", "\U0010ffff", "\x80", "\xbf", "\xc0", "\xc2", "\xe0", "\xed",
		"\xed\xa0", "\xf0", "\xf4", "\xf4\x90", "\xf5", "\xff"}
	for iter := range 3000 {
		var in []byte
		n := rng.IntN(120)
		for range n {
			// Mostly valid text, with a rare bad or partial token.
			tok := alphabet[rng.IntN(12)]
			if rng.IntN(40) == 0 {
				tok = alphabet[rng.IntN(len(alphabet))]
			}
			in = append(in, tok...)
		}
		utf8CheckPieces(t, fmt.Sprintf("random%d", iter), utf8RandomSplit(rng, in))
	}
}

// utf8RandomSplit cuts in into pieces at random points, empty pieces
// included.
func utf8RandomSplit(rng *rand.Rand, in []byte) [][]byte {
	var pieces [][]byte
	for len(in) > 0 {
		n := rng.IntN(min(len(in), 40) + 1)
		if rng.IntN(4) == 0 {
			n = rng.IntN(len(in) + 1)
		}
		pieces = append(pieces, in[:n])
		in = in[n:]
	}
	return append(pieces, in)
}

func FuzzUTF8(f *testing.F) {
	for _, c := range utf8Cases {
		f.Add([]byte(c.in), uint64(0))
		f.Add([]byte("some ASCII text around it: "+c.in+" and after it"), uint64(len(c.in)))
	}
	f.Add(bytes.Repeat([]byte("Привет, 世界! 😀 "), 8), uint64(12345))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
		pieces := utf8RandomSplit(rng, data)
		var s utf8State
		var ref utf8PrefixRef
		end := 0
		for i, p := range pieces {
			end += len(p)
			prefix := data[:end]
			if got, want := s.feed(p), ref.ok(prefix); got != want {
				t.Fatalf("piece %d: feed = %v, want %v (prefix % x)", i, got, want, prefix)
			}
		}
		if got, want := s.done(), utf8.Valid(data); got != want {
			t.Fatalf("done = %v, utf8.Valid = %v (% x)", got, want, data)
		}
		// The whole input in one piece must agree too.
		s.reset()
		s.feed(data)
		if got, want := s.done(), utf8.Valid(data); got != want {
			t.Fatalf("one piece: done = %v, utf8.Valid = %v (% x)", got, want, data)
		}
	})
}

func TestUTF8FeedAllocs(t *testing.T) {
	text := bytes.Repeat([]byte("Hello, Привет, 世界! 😀 "), 100)
	var s utf8State
	allocs := testing.AllocsPerRun(100, func() {
		s.reset()
		for p := text; len(p) > 0; p = p[min(len(p), 37):] {
			s.feed(p[:min(len(p), 37)])
		}
		s.feed(text)
		if !s.done() {
			panic("valid text rejected")
		}
	})
	if allocs != 0 {
		t.Fatalf("feed allocates: %v allocs per run, want 0", allocs)
	}
}
