package loadtest

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"unicode/utf8"

	"github.com/wsmem/wsmem"
)

// A message is a header, 40 hex digits (so that text stays valid UTF-8) of
// five big-endian uint32s — connection id, sequence number, type, body
// length, CRC-32 — followed by the body. The CRC covers the first 32 digits
// and the body. An empty message (0 bytes) has no header: its receiver
// checks it by its place in the stream.
const (
	headerLen = 40
	crcAt     = 32 // the CRC's digits are hdr[crcAt:]
)

// maxBody is the largest body: with the header, messages go up to 256 KiB.
const maxBody = 256<<10 - headerLen

// sum is what identifies a message: a receiver compares the one it computed
// from the bytes with the one it expected. Empty messages have only a type.
type sum struct {
	id, seq uint32
	typ     wsmem.Flags
	size    int
	crc     uint32
}

// message is one message to send. Its body is a slice of the corpus.
type message struct {
	sum
	hdr  [headerLen]byte
	body []byte
}

// newMessage builds message seq of connection id with body; empty makes
// a 0-byte message (body must then be empty).
func newMessage(id, seq uint32, typ wsmem.Flags, body []byte, empty bool) message {
	if empty {
		return message{sum: sum{typ: typ}}
	}
	m := message{sum: sum{id: id, seq: seq, typ: typ, size: headerLen + len(body)}, body: body}
	var f [20]byte
	binary.BigEndian.PutUint32(f[0:], id)
	binary.BigEndian.PutUint32(f[4:], seq)
	binary.BigEndian.PutUint32(f[8:], uint32(typ))
	binary.BigEndian.PutUint32(f[12:], uint32(len(body)))
	hex.Encode(m.hdr[:crcAt], f[:16])
	m.crc = crc32.Update(crc32.ChecksumIEEE(m.hdr[:crcAt]), crc32.IEEETable, body)
	binary.BigEndian.PutUint32(f[16:], m.crc)
	hex.Encode(m.hdr[crcAt:], f[16:])
	return m
}

// pieces appends the message's bytes to dst as at most about max slices
// cut at random points (the header and the body are always apart), for
// SendL and NextWriter. An empty message has no pieces.
func (m *message) pieces(rng *rand.Rand, dst [][]byte, max int) [][]byte {
	if m.size == 0 {
		return dst
	}
	for _, p := range [2][]byte{m.hdr[:], m.body} {
		for len(p) > 0 {
			n := len(p)
			if len(dst) < max-1 && rng.IntN(2) == 0 {
				n = 1 + rng.IntN(len(p))
			}
			dst = append(dst, p[:n])
			p = p[n:]
		}
	}
	return dst
}

// checker checks one received message, fed in any chunks through Write.
type checker struct {
	hdr [headerLen]byte
	n   int // bytes written
	crc uint32
}

// Write feeds the next bytes of the message. It never fails.
func (k *checker) Write(p []byte) (int, error) {
	total := len(p)
	if k.n < headerLen {
		m := copy(k.hdr[k.n:], p)
		k.n += m
		p = p[m:]
		if k.n < headerLen {
			return total, nil
		}
		k.crc = crc32.ChecksumIEEE(k.hdr[:crcAt])
	}
	k.crc = crc32.Update(k.crc, crc32.IEEETable, p)
	k.n += len(p)
	return total, nil
}

// result returns the sum of the message fed since the last result, of type
// typ, or an error if it is not a well-formed message whose header agrees
// with its type, length and CRC. It resets k for the next message.
func (k *checker) result(typ wsmem.Flags) (sum, error) {
	defer func() { k.n, k.crc = 0, 0 }()
	if k.n == 0 {
		return sum{typ: typ}, nil
	}
	if k.n < headerLen {
		return sum{}, fmt.Errorf("%d-byte message: shorter than its header", k.n)
	}
	var f [20]byte
	if _, err := hex.Decode(f[:], k.hdr[:]); err != nil {
		return sum{}, fmt.Errorf("corrupt header %q: %v", k.hdr[:], err)
	}
	s := sum{
		id:   binary.BigEndian.Uint32(f[0:]),
		seq:  binary.BigEndian.Uint32(f[4:]),
		typ:  wsmem.Flags(binary.BigEndian.Uint32(f[8:])),
		size: headerLen + int(binary.BigEndian.Uint32(f[12:])),
		crc:  binary.BigEndian.Uint32(f[16:]),
	}
	switch {
	case s.size != k.n:
		return s, fmt.Errorf("conn %d seq %d: %d bytes, header says %d", s.id, s.seq, k.n, s.size)
	case s.crc != k.crc:
		return s, fmt.Errorf("conn %d seq %d: CRC %08x, header says %08x", s.id, s.seq, k.crc, s.crc)
	case s.typ != typ:
		return s, fmt.Errorf("conn %d seq %d: arrived as %v, sent as %v", s.id, s.seq, typ, s.typ)
	}
	return s, nil
}

// corpus holds the bytes message bodies are sliced from. It is never
// written after it is built, and bodies are sent from it as they are: a
// codec that wrote into a caller's payload would corrupt later messages
// (and the race detector would see it).
type corpus struct {
	text   []byte // valid UTF-8: words, and 2-, 3- and 4-byte runes
	binary []byte // random bytes and compressible runs, in blocks
}

// newCorpus builds both corpora, each maxBody plus spread bytes long.
func newCorpus(rng *rand.Rand, spread int) *corpus {
	size := maxBody + spread
	c := &corpus{text: make([]byte, 0, size+utf8.UTFMax), binary: make([]byte, 0, size)}
	words := []string{"the ", "socket ", "frame ", "deflate ", "mask ", "echo ", "wsmem ", "\n"}
	for len(c.text) < size {
		switch r := rng.IntN(10); {
		case r < 7:
			c.text = append(c.text, words[rng.IntN(len(words))]...)
		case r < 8:
			c.text = utf8.AppendRune(c.text, rune(0x80+rng.IntN(0x800-0x80)))
		case r < 9:
			cp := rune(0x800 + rng.IntN(0x10000-0x800))
			if utf8.ValidRune(cp) { // not a surrogate
				c.text = utf8.AppendRune(c.text, cp)
			}
		default:
			c.text = utf8.AppendRune(c.text, rune(0x10000+rng.IntN(0x110000-0x10000)))
		}
	}
	for len(c.binary) < size {
		n := min(size-len(c.binary), 1<<10+rng.IntN(8<<10))
		if rng.IntN(2) == 0 { // random: deflate cannot shrink it
			for range n {
				c.binary = append(c.binary, byte(rng.Uint32()))
			}
		} else { // a short pattern repeated: deflate shrinks it a lot
			pattern := []byte{byte(rng.Uint32()), byte(rng.Uint32()), 0, 0, byte(rng.Uint32())}
			for i := range n {
				c.binary = append(c.binary, pattern[i%len(pattern)])
			}
		}
	}
	return c
}

// body returns about n bytes of typ's corpus from a random place; text is
// cut on rune boundaries, so it may be up to 6 bytes shorter.
func (c *corpus) body(rng *rand.Rand, typ wsmem.Flags, n int) []byte {
	src := c.binary
	if typ == wsmem.Text {
		src = c.text
	}
	off := rng.IntN(len(src) - n + 1)
	b := src[off : off+n]
	if typ != wsmem.Text {
		return b
	}
	for len(b) > 0 && !utf8.RuneStart(b[0]) {
		b = b[1:]
	}
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				b = b[:i]
			}
			break
		}
	}
	return b
}

// randomMessage makes message seq of connection id: 3% are empty; the
// others have a body of random size, most of them small (57% under 128
// bytes, 25% under 4 KiB, 12% under 64 KiB, 3% up to maxBody), and are text
// or binary with even odds.
func (c *corpus) randomMessage(rng *rand.Rand, id, seq uint32) message {
	typ := wsmem.Binary
	if rng.IntN(2) == 0 {
		typ = wsmem.Text
	}
	var n int
	switch r := rng.IntN(100); {
	case r < 3:
		return newMessage(id, seq, typ, nil, true)
	case r < 60:
		n = rng.IntN(128)
	case r < 85:
		n = rng.IntN(4 << 10)
	case r < 97:
		n = rng.IntN(64 << 10)
	default:
		n = rng.IntN(maxBody + 1)
	}
	return newMessage(id, seq, typ, c.body(rng, typ, n), false)
}
