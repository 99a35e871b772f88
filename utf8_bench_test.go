package wsmem

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// utf8BenchMsg125 is a short chat message as a JSON text frame: 125 bytes
// (the largest payload with a 7-bit length), about a third of them non-ASCII.
const utf8BenchMsg125 = `{"type":"chat","room":"main","user":"Аня","text":"Привет всем! 你好世界 👍 see you 18:00","ts":1700000000}`

// utf8BenchText returns exactly n bytes of valid text: words drawn at random
// (fixed seed) from English, Russian, Chinese and emoji, separated by
// spaces. Padding at the end is ASCII. With the weights below about 29% of
// the bytes of a 16 KiB text are non-ASCII.
func utf8BenchText(n int) []byte {
	words := [][]string{
		{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "WebSocket",
			"frame", "message", "payload", "server", "client", "{\"id\":42,", "\"ok\":true}"},
		{"привет", "мир", "сообщение", "данные", "сервер", "кадр"},
		{"你好", "世界", "消息", "数据"},
		{"😀", "🚀", "👍"},
	}
	weights := []int{74, 14, 7, 5} // per cent of the words
	rng := rand.New(rand.NewPCG(0x5eed, 6455))
	out := make([]byte, 0, n)
	for {
		k, x := 0, rng.IntN(100)
		for x >= weights[k] {
			x -= weights[k]
			k++
		}
		w := words[k][rng.IntN(len(words[k]))]
		if len(out)+len(w)+1 > n {
			break
		}
		out = append(out, w...)
		out = append(out, ' ')
	}
	for len(out) < n {
		out = append(out, '.')
	}
	return out
}

func utf8NonASCIIShare(p []byte) float64 {
	n := 0
	for _, b := range p {
		if b >= 0x80 {
			n++
		}
	}
	return float64(n) / float64(len(p))
}

func TestUTF8BenchInputs(t *testing.T) {
	for _, p := range [][]byte{[]byte(utf8BenchMsg125), utf8BenchText(16 << 10)} {
		n := len(p)
		share := utf8NonASCIIShare(p)
		t.Logf("mixed %d B: %.1f%% non-ASCII bytes", n, 100*share)
		if (n != 125 && n != 16<<10) || !utf8.Valid(p) || share < 0.25 || share > 0.35 {
			t.Fatalf("bad benchmark input: len %d, valid %v, non-ASCII %.2f", n, utf8.Valid(p), share)
		}
	}
}

var utf8BenchSink bool

func utf8BenchOurs(b *testing.B, p []byte) {
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var s utf8State
	for b.Loop() {
		s.reset()
		s.feed(p)
		utf8BenchSink = s.done()
	}
	if !utf8BenchSink {
		b.Fatal("valid input rejected")
	}
}

func utf8BenchStdlib(b *testing.B, p []byte) {
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		utf8BenchSink = utf8.Valid(p)
	}
	if !utf8BenchSink {
		b.Fatal("valid input rejected")
	}
}

// BenchmarkUTF8 compares utf8State with utf8.Valid on whole messages;
// compare the two side by side with: benchstat -col /impl FILE.
func BenchmarkUTF8(b *testing.B) {
	inputs := []struct {
		name string
		p    []byte
	}{
		{"ASCII16K", bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 16<<10/45+1)[:16<<10]},
		{"Mixed16K", utf8BenchText(16 << 10)},
		{"Mixed125", []byte(utf8BenchMsg125)},
	}
	for _, in := range inputs {
		b.Run("in="+in.name+"/impl=feed", func(b *testing.B) { utf8BenchOurs(b, in.p) })
		b.Run("in="+in.name+"/impl=stdlib", func(b *testing.B) { utf8BenchStdlib(b, in.p) })
	}
}

// BenchmarkUTF8Pieces feeds the mixed 16 KiB text in 125-byte pieces, as a
// fragmented message or short reads would deliver it.
func BenchmarkUTF8Pieces(b *testing.B) {
	p := utf8BenchText(16 << 10)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	var s utf8State
	for b.Loop() {
		s.reset()
		for q := p; len(q) > 0; {
			n := min(len(q), 125)
			s.feed(q[:n])
			q = q[n:]
		}
		utf8BenchSink = s.done()
	}
	if !utf8BenchSink {
		b.Fatal("valid input rejected")
	}
}
