package wsmem

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveCtlIndex is lineScanner.next byte by byte.
func naiveCtlIndex(b []byte, i int) int {
	for ; i < len(b); i++ {
		if b[i] < ' ' || b[i] == 0x7f {
			return i
		}
	}
	return len(b)
}

// naiveHeadEnd is headEnd with bytes.Index.
func naiveHeadEnd(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// TestLineScannerNext compares lineScanner.next with the byte loop: every
// byte value at every position of inputs up to 24 bytes, from every start
// (with a fresh scanner, and with one scanner walking forward or back),
// over fillers at the edges of the ranges, and random inputs up to 700
// bytes (the map's windows are 256) rich in control characters.
func TestLineScannerNext(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		back := newLineScanner(b) // calls going backwards map again
		for i := len(b); i >= 0; i-- {
			if got, want := back.next(i), naiveCtlIndex(b, i); got != want {
				t.Fatalf("next(%q, %d) walking back = %d, want %d", b, i, got, want)
			}
		}
		walk := newLineScanner(b)
		for i := 0; i <= len(b); i++ {
			fresh := newLineScanner(b)
			want := naiveCtlIndex(b, i)
			if got := fresh.next(i); got != want {
				t.Fatalf("next(%q, %d) = %d, want %d", b, i, got, want)
			}
			if got := walk.next(i); got != want {
				t.Fatalf("next(%q, %d) walking = %d, want %d", b, i, got, want)
			}
			// peek sees the 64 bytes from i, within the mapped window.
			inWindow := i >= walk.base && want < len(b) && want-walk.base < mapWindow
			if got := walk.peek(i); got != want && (got != -1 || want-i < 64 && inWindow) {
				t.Fatalf("peek(%q, %d) after next = %d, want %d", b, i, got, want)
			}
		}
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < max(n, 1); pos++ {
			for c := 0; c < 256; c++ {
				for _, fill := range []byte{'a', ' ', '!', '~', 0x80, 0xff, 0x7e, 0x01} {
					b := bytes.Repeat([]byte{fill}, n)
					if n > 0 {
						b[pos] = byte(c)
					}
					check(b)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{'a', ' ', '\t', '\r', '\n', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x9f, 0xa0}
	for range 5000 {
		b := make([]byte, r.IntN(700))
		for k := range b {
			if r.IntN(8) == 0 {
				b[k] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[k] = 'a'
			}
		}
		check(b)
	}
}

// TestHeadEndRandom compares headEnd with bytes.Index on random inputs made
// of CR, LF, VT (0x0b, which the LF search may flag) and letters.
func TestHeadEndRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{'\r', '\n', 0x0b, 'a', 0x09}
	for range 200000 {
		b := make([]byte, r.IntN(48))
		for k := range b {
			b[k] = alphabet[r.IntN(len(alphabet))]
		}
		if got, want := headEnd(b), naiveHeadEnd(b); got != want {
			t.Fatalf("headEnd(%q) = %d, want %d", b, got, want)
		}
	}
}

// TestScanRequestPrefixes checks scanRequest's contract on every prefix of
// the vectors and of every request case: before the head is whole, end is
// -1 and a status, if any, is the final one; once it is whole, the answer
// is parseRequest's on the head.
func TestScanRequestPrefixes(t *testing.T) {
	var inputs [][]byte
	for _, name := range []string{"chromium.http", "firefox.http", "curl.http", "goclient.http"} {
		inputs = append(inputs, readVector(t, name))
	}
	for _, tc := range requestCases {
		inputs = append(inputs, []byte(tc.in))
	}
	for _, in := range inputs {
		n := headEnd(in)
		var req requestHead
		want := -1
		if n >= 0 {
			want = parseRequest(in[:n], &req, 64)
		}
		for p := 0; p <= len(in); p++ {
			end, status := scanRequest(in[:p], &req, 64)
			switch {
			case n < 0:
				if end != -1 {
					t.Fatalf("scanRequest(%q) = %d, %d; there is no head end", in[:p], end, status)
				}
			case p < n:
				if end != -1 || status != 0 && status != want {
					t.Fatalf("scanRequest(%q) = %d, %d; whole head %d gives %d", in[:p], end, status, n, want)
				}
			case end != n || status != want:
				t.Fatalf("scanRequest(%q) = %d, %d, want %d, %d", in[:p], end, status, n, want)
			}
		}
	}
}

// TestResponseLengths checks acceptResponseLen and maxRejectResponse
// against what the writers append.
func TestResponseLengths(t *testing.T) {
	var accept [28]byte
	for _, p := range []string{"", "chat", "a-much-longer-subprotocol-name"} {
		for _, e := range []string{"", "permessage-deflate", "permessage-deflate; server_no_context_takeover"} {
			got := len(appendAcceptResponse(nil, &accept, []byte(p), []byte(e)))
			if want := acceptResponseLen([]byte(p), []byte(e)); got != want {
				t.Errorf("protocol %q extensions %q: %d bytes, acceptResponseLen says %d", p, e, got, want)
			}
		}
	}
	for status := 0; status < 1100; status++ {
		if n := len(appendRejectResponse(nil, status)); n > maxRejectResponse {
			t.Errorf("status %d: %d bytes, above maxRejectResponse", status, n)
		}
	}
}

// TestMayEndHead compares the filter with the byte loop on random inputs
// up to 600 bytes (the map's windows are 256), and checks that it never
// misses a head's end.
func TestMayEndHead(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	alphabet := []byte{'\r', '\n', 0x0b, 0x7f, '\t', 0x1f}
	outcomes := map[bool]int{}
	for range 20000 {
		b := make([]byte, r.IntN(600))
		density := []int{2, 4, 10, 40}[r.IntN(4)] // one byte in density is a control byte
		for k := range b {
			if r.IntN(density) == 0 {
				b[k] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[k] = 'a' + byte(r.IntN(26))
			}
		}
		if r.IntN(4) == 0 && len(b) >= 4 { // a head's end, somewhere
			copy(b[r.IntN(len(b)-3):], "\r\n\r\n")
		}
		want := false
		for k := 0; k+3 < len(b); k++ {
			run := true
			for _, c := range b[k : k+4] {
				run = run && (c < ' ' || c == 0x7f)
			}
			want = want || run
		}
		if got := mayEndHead(b); got != want {
			t.Fatalf("mayEndHead(%q) = %v, want %v", b, got, want)
		}
		if headEnd(b) >= 0 && !want {
			t.Fatalf("headEnd(%q) found an end without four control bytes in a row", b)
		}
		outcomes[want]++
	}
	if outcomes[false] < 1000 || outcomes[true] < 1000 {
		t.Fatalf("outcomes %v: the inputs do not exercise both answers", outcomes)
	}
}
