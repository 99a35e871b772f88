package conformance

// Groups 1 to 5: framing, pings and pongs, reserved bits, reserved opcodes,
// fragmentation (RFC 6455 §5).

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// tileAbove is the size past which payloads repeat a random block of a
// prime length (cheap to make under -race, and no power-of-two period).
const (
	tileAbove = 256 << 10
	tileBlock = 262139
)

// asciiPayload returns n printable bytes whose pattern depends on seed.
func asciiPayload(n int, seed uint64) []byte {
	if n > tileAbove {
		return tile(asciiPayload(tileBlock, seed), n)
	}
	p := binPayload(n, seed)
	for i, c := range p {
		p[i] = ' ' + c%95
	}
	return p
}

// binPayload returns n bytes of every value.
func binPayload(n int, seed uint64) []byte {
	if n > tileAbove {
		return tile(binPayload(tileBlock, seed), n)
	}
	p := make([]byte, n+7)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
	return p[:n:n]
}

// tile repeats block to n bytes.
func tile(block []byte, n int) []byte {
	p := make([]byte, n)
	copy(p, block)
	for k := len(block); k < n; k *= 2 {
		copy(p[k:], p[:k])
	}
	return p
}

// utf8Payload returns exactly n bytes of valid UTF-8 mixing 1- to 4-byte
// sequences.
func utf8Payload(n int) []byte {
	runes := []string{"a", "µ", "€", "𝄞", "Z", "ß", "語", "😀", " "}
	var block []byte
	for i := 0; len(block) < 1000; i++ {
		block = append(block, runes[i*7%len(runes)]...)
	}
	b := make([]byte, 0, n)
	for len(b)+len(block) <= n {
		b = append(b, block...)
	}
	// The rest: the longest whole-rune prefix of the block that fits.
	k := n - len(b)
	for k > 0 && k < len(block) && !utf8.RuneStart(block[k]) {
		k--
	}
	b = append(b, block[:k]...)
	for len(b) < n {
		b = append(b, 'x')
	}
	return b
}

// hello is the message many cases send before the frame under test, to
// check that what came before is processed.
var hello = []byte("Hello, wsmem!")

func framingCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) *tcase {
		c := &tcase{id: id, group: "1", desc: desc, script: s}
		cs = append(cs, c)
		return c
	}
	sizes := []int{0, 1, 125, 126, 127, 128, 65535, 65536, 65537, 200000}
	for i, n := range sizes {
		p := asciiPayload(n, uint64(n))
		add(fmt.Sprintf("1.1.%d", i+1), fmt.Sprintf("text message, %d bytes, one frame", n), func(b *builder) {
			b.echo(opText, p)
			b.closeNormal()
		})
	}
	for i, n := range sizes {
		p := binPayload(n, uint64(n))
		add(fmt.Sprintf("1.2.%d", i+1), fmt.Sprintf("binary message, %d bytes, one frame", n), func(b *builder) {
			b.echo(opBinary, p)
			b.closeNormal()
		})
	}
	add("1.3.1", "text message of 1-4 byte UTF-8 sequences, 1000 bytes", func(b *builder) {
		b.echo(opText, utf8Payload(1000))
		b.closeNormal()
	})
	add("1.3.2", "binary message with every byte value", func(b *builder) {
		p := make([]byte, 512)
		for i := range p {
			p[i] = byte(i)
		}
		b.echo(opBinary, p)
		b.closeNormal()
	})
	add("1.3.3", "100 messages of alternating type and size", func(b *builder) {
		for i := range 100 {
			if i%2 == 0 {
				b.echo(opText, asciiPayload(i*3, uint64(i)))
			} else {
				b.echo(opBinary, binPayload(i*5, uint64(i)))
			}
		}
		b.closeNormal()
	})
	add("1.3.4", "text message with an all-zero masking key (client frames)", func(b *builder) {
		p := []byte("zero key")
		b.chunks = append(b.chunks, appendFrame(nil, hdr{fin: true, op: opText, masked: b.masked()}, p))
		b.wantMsg(opText, p)
		b.closeNormal()
	})
	add("1.3.5", "frame masked the wrong way (unmasked from a client, masked from a server): 1002", func(b *builder) {
		b.echo(opText, hello)
		b.frameMasked(!b.masked(), true, 0, opText, []byte("wrong masking"))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("1.3.6", "5-byte payload length in the 16-bit form: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.header(true, 0, opText, 5, len16, []byte("12345"))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("1.3.7", "5-byte payload length in the 64-bit form: 1002", func(b *builder) {
		b.echo(opBinary, hello)
		b.header(true, 0, opBinary, 5, len64, []byte("12345"))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("1.3.8", "65535-byte payload length in the 64-bit form: 1002", func(b *builder) {
		b.echo(opBinary, hello)
		b.header(true, 0, opBinary, 65535, len64, make([]byte, 65535))
		b.wantFail(1002)
	})
	add("1.3.9", "64-bit payload length with its most significant bit set: 1002", func(b *builder) {
		b.echo(opBinary, hello)
		b.header(true, 0, opBinary, 1<<63|5, len64, []byte("12345"))
		b.wantFail(1002)
	})
	add("1.3.11", "continuation frame masked the wrong way: 1002", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.frameMasked(!b.masked(), true, 0, opCont, []byte("fragment2"))
		b.wantFail(1002)
	})
	add("1.3.12", "valid message and a reserved opcode in the same write: echo, 1002", func(b *builder) {
		all := appendFrame(nil, hdr{fin: true, op: opText, masked: b.masked(), key: b.key()}, hello)
		all = appendFrame(all, hdr{fin: true, op: 5, masked: b.masked(), key: b.key()}, nil)
		all = appendFrame(all, hdr{fin: true, op: opPing, masked: b.masked(), key: b.key()}, nil)
		b.raw(all)
		b.wantMsg(opText, hello)
		b.wantFail(1002)
	})
	add("1.3.10", "several frames in one write", func(b *builder) {
		var all []byte
		for i := range 5 {
			p := asciiPayload(10+i, uint64(i))
			all = appendFrame(all, hdr{fin: true, op: opText, masked: b.masked(), key: b.key()}, p)
			b.wantMsg(opText, p)
		}
		b.raw(all)
		b.closeNormal()
	})
	return cs
}

func pingCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) {
		cs = append(cs, &tcase{id: id, group: "2", desc: desc, script: s})
	}
	pingPong := func(p []byte) func(*builder) {
		return func(b *builder) {
			b.ping(p)
			b.wantPong(p)
			b.closeNormal()
		}
	}
	add("2.1", "ping without payload: pong without payload", pingPong(nil))
	add("2.2", "ping with a short text payload", pingPong([]byte("Hello, world!")))
	add("2.3", "ping with a binary payload", pingPong([]byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}))
	add("2.4", "ping with a 125-byte payload", pingPong(binPayload(125, 4)))
	add("2.5", "ping with a 126-byte payload: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.ping(binPayload(126, 5))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("2.6", "pong with a 126-byte payload: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.pong(binPayload(126, 6))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("2.7", "unsolicited pong without payload: ignored", func(b *builder) {
		b.pong(nil)
		b.closeNormal()
	})
	add("2.8", "unsolicited pong with payload: ignored", func(b *builder) {
		b.pong([]byte("unsolicited pong payload"))
		b.closeNormal()
	})
	add("2.9", "unsolicited pong, then ping: one pong", func(b *builder) {
		b.pong([]byte("unsolicited"))
		b.ping([]byte("solicited"))
		b.wantPong([]byte("solicited"))
		b.closeNormal()
	})
	add("2.10", "10 pings: 10 pongs in order", func(b *builder) {
		for i := range 10 {
			p := []byte(fmt.Sprintf("payload-%d", i))
			b.ping(p)
			b.wantPong(p)
		}
		b.closeNormal()
	})
	add("2.11", "1000 pings with distinct payloads: 1000 pongs in order", func(b *builder) {
		for i := range 1000 {
			p := binPayload(i%126, uint64(i))
			b.ping(p)
			b.wantPong(p)
		}
		b.closeNormal()
	})
	add("2.12", "pings and messages interleaved", func(b *builder) {
		for i := range 20 {
			p := asciiPayload(i*10, uint64(i))
			b.echo(opText, p)
			b.ping(p[:min(len(p), 125)])
			b.wantPong(p[:min(len(p), 125)])
		}
		b.closeNormal()
	})
	add("2.13", "ping with a 5-byte payload in the 16-bit length form: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.header(true, 0, opPing, 5, len16, []byte("12345"))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("2.14", "ping announcing 2^16 bytes in the 64-bit form: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.header(true, 0, opPing, 1<<16, len64, nil)
		b.wantFail(1002)
	})
	return cs
}

func rsvCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) {
		cs = append(cs, &tcase{id: id, group: "3", desc: desc, script: s})
	}
	// Each case first sends a message and a ping, which must be answered,
	// then the bad frame, then a ping that must not be.
	before := func(b *builder) {
		b.echo(opText, hello)
		b.ping([]byte("before"))
		b.wantPong([]byte("before"))
	}
	after := func(b *builder) {
		b.ping([]byte("after"))
		b.wantFail(1002)
	}
	n := 0
	for _, x := range []struct {
		op   byte
		rsvs []byte
	}{
		{opText, []byte{rsv1, rsv2, rsv3, rsv1 | rsv2, rsv1 | rsv3, rsv2 | rsv3, rsv1 | rsv2 | rsv3}},
		{opBinary, []byte{rsv1, rsv2, rsv3, rsv1 | rsv2 | rsv3}},
		{opPing, []byte{rsv1, rsv2, rsv3}},
		{opPong, []byte{rsv1, rsv3}},
		{opClose, []byte{rsv1, rsv2}},
	} {
		for _, r := range x.rsvs {
			n++
			op, r := x.op, r
			add(fmt.Sprintf("3.%d", n), fmt.Sprintf("%s frame with RSV bits %03b: 1002", opName(op), r), func(b *builder) {
				before(b)
				var p []byte
				switch op {
				case opClose:
					p = closePayload(1000, nil)
				case opText, opPing, opPong:
					p = []byte("reserved bits")
				default:
					p = binPayload(20, 3)
				}
				b.frame(true, r, op, p)
				after(b)
			})
		}
	}
	for _, r := range []byte{rsv1, rsv2, rsv3} {
		n++
		r := r
		add(fmt.Sprintf("3.%d", n), fmt.Sprintf("continuation frame with RSV bits %03b: 1002", r), func(b *builder) {
			before(b)
			b.frame(false, 0, opText, []byte("frag1"))
			b.frame(false, r, opCont, []byte("frag2"))
			b.frame(true, 0, opCont, []byte("frag3"))
			after(b)
		})
	}
	n++
	add(fmt.Sprintf("3.%d", n), "ping with RSV2 between the fragments of a message: 1002", func(b *builder) {
		before(b)
		b.frame(false, 0, opText, []byte("frag1"))
		b.frame(true, rsv2, opPing, []byte("bad ping"))
		b.frame(true, 0, opCont, []byte("frag2"))
		after(b)
	})
	return cs
}

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode 0x%X", op)
}

func opcodeCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) {
		cs = append(cs, &tcase{id: id, group: "4", desc: desc, script: s})
	}
	for i, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		sub := 1
		if op > 7 {
			sub = 2
		}
		k := i%5 + 1
		op := op
		add(fmt.Sprintf("4.%d.%d", sub, k), fmt.Sprintf("reserved opcode 0x%X, empty payload: 1002", op), func(b *builder) {
			b.frame(true, 0, op, nil)
			b.ping([]byte("after"))
			b.wantFail(1002)
		})
		add(fmt.Sprintf("4.%d.%d", sub, k+5), fmt.Sprintf("message, reserved opcode 0x%X with payload, ping: echo, 1002", op), func(b *builder) {
			b.echo(opText, hello)
			b.frame(true, 0, op, []byte("reserved opcode payload"))
			b.ping([]byte("after"))
			b.wantFail(1002)
		})
	}
	add("4.3.1", "reserved opcode 0x3 between the fragments of a message: 1002", func(b *builder) {
		b.frame(false, 0, opText, []byte("frag1"))
		b.frame(true, 0, 3, []byte("x"))
		b.frame(true, 0, opCont, []byte("frag2"))
		b.wantFail(1002)
	})
	add("4.3.2", "reserved opcode 0xB between the fragments of a message: 1002", func(b *builder) {
		b.frame(false, 0, opBinary, []byte("frag1"))
		b.frame(true, 0, 0xB, []byte("x"))
		b.frame(true, 0, opCont, []byte("frag2"))
		b.wantFail(1002)
	})
	add("4.3.3", "reserved opcode 0x4 without FIN: 1002", func(b *builder) {
		b.frame(false, 0, 4, []byte("frag1"))
		b.frame(true, 0, opCont, []byte("frag2"))
		b.wantFail(1002)
	})
	return cs
}

func fragmentationCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) {
		cs = append(cs, &tcase{id: id, group: "5", desc: desc, script: s})
	}
	add("5.1", "ping in two fragments: 1002", func(b *builder) {
		b.frame(false, 0, opPing, []byte("frag1"))
		b.frame(true, 0, opCont, []byte("frag2"))
		b.wantFail(1002)
	})
	add("5.2", "pong in two fragments: 1002", func(b *builder) {
		b.frame(false, 0, opPong, []byte("frag1"))
		b.frame(true, 0, opCont, []byte("frag2"))
		b.wantFail(1002)
	})
	add("5.3", "close in two fragments: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.frame(false, 0, opClose, closePayload(1000, nil))
		b.frame(true, 0, opCont, []byte("x"))
		b.wantFail(1002)
	})
	add("5.4", "ping of 125 bytes without FIN: 1002", func(b *builder) {
		b.frame(false, 0, opPing, binPayload(125, 9))
		b.wantFail(1002)
	})
	add("5.5", "text message in two fragments", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantMsg(opText, []byte("fragment1fragment2"))
		b.closeNormal()
	})
	add("5.6", "binary message in three fragments", func(b *builder) {
		p := binPayload(300, 7)
		b.fragments(opBinary, p, 100)
		b.closeNormal()
	})
	add("5.7", "text message in 1-byte fragments", func(b *builder) {
		b.fragments(opText, []byte("Hello-µ@ßöäüàá-UTF-8!!"), 1)
		b.closeNormal()
	})
	add("5.8", "ping between two fragments: pong, then the message", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.ping([]byte("ping payload"))
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantPong([]byte("ping payload"))
		b.wantMsg(opText, []byte("fragment1fragment2"))
		b.closeNormal()
	})
	add("5.9", "unsolicited pong between two fragments: the message", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.pong([]byte("pong payload"))
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantMsg(opText, []byte("fragment1fragment2"))
		b.closeNormal()
	})
	add("5.10", "1-byte fragments each followed by a ping", func(b *builder) {
		msg := []byte("fragmented with pings")
		for i := range msg {
			fin := i == len(msg)-1
			op := opCont
			if i == 0 {
				op = opText
			}
			b.frame(fin, 0, op, msg[i:i+1])
			if !fin {
				p := []byte(fmt.Sprintf("ping %d", i))
				b.ping(p)
				b.wantPong(p)
			}
		}
		b.wantMsg(opText, msg)
		b.closeNormal()
	})
	add("5.11", "125-byte pings between the fragments of a binary message", func(b *builder) {
		p := binPayload(3000, 11)
		for i := 0; i < 3; i++ {
			op := opCont
			if i == 0 {
				op = opBinary
			}
			b.frame(i == 2, 0, op, p[i*1000:(i+1)*1000])
			if i < 2 {
				pp := binPayload(125, uint64(i))
				b.ping(pp)
				b.wantPong(pp)
			}
		}
		b.wantMsg(opBinary, p)
		b.closeNormal()
	})
	add("5.12", "continuation with FIN and no message to continue: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.frame(true, 0, opCont, []byte("continuation"))
		b.ping([]byte("after"))
		b.wantFail(1002)
	})
	add("5.13", "continuation without FIN and no message to continue: 1002", func(b *builder) {
		b.echo(opText, hello)
		b.frame(false, 0, opCont, []byte("fragment1"))
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantFail(1002)
	})
	add("5.14", "continuation without a start, after a complete message: 1002", func(b *builder) {
		b.fragments(opText, []byte("complete message"), 5)
		b.frame(true, 0, opCont, []byte("stray"))
		b.wantFail(1002)
	})
	add("5.15", "text start, then a new text frame with FIN inside the message: 1002", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.frame(true, 0, opText, []byte("fragment2"))
		b.wantFail(1002)
	})
	add("5.16", "text start, then a binary frame inside the message: 1002", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.frame(true, 0, opBinary, []byte("fragment2"))
		b.wantFail(1002)
	})
	add("5.17", "binary start, text start without FIN, continuation: 1002", func(b *builder) {
		b.frame(false, 0, opBinary, []byte("fragment1"))
		b.frame(false, 0, opText, []byte("fragment2"))
		b.frame(true, 0, opCont, []byte("fragment3"))
		b.wantFail(1002)
	})
	add("5.18", "empty fragments only: an empty text message", func(b *builder) {
		b.frame(false, 0, opText, nil)
		b.frame(false, 0, opCont, nil)
		b.frame(true, 0, opCont, nil)
		b.wantMsg(opText, []byte{})
		b.closeNormal()
	})
	add("5.19", "empty fragments around data", func(b *builder) {
		b.frame(false, 0, opText, nil)
		b.frame(false, 0, opCont, []byte("abc"))
		b.frame(false, 0, opCont, nil)
		b.frame(true, 0, opCont, []byte("def"))
		b.frame(false, 0, opBinary, []byte{1, 2})
		b.frame(true, 0, opCont, nil)
		b.wantMsg(opText, []byte("abcdef"))
		b.wantMsg(opBinary, []byte{1, 2})
		b.closeNormal()
	})
	add("5.20", "close between fragments: the closing handshake, the message dropped", func(b *builder) {
		b.frame(false, 0, opText, []byte("fragment1"))
		b.sendClose(1000, nil)
		b.frame(true, 0, opCont, []byte("fragment2"))
		b.wantCloseEcho(1000)
	})
	add("5.21", "two fragmented messages in a row, then a single-frame one", func(b *builder) {
		b.fragments(opText, []byte(strings.Repeat("first message ", 10)), 13)
		b.fragments(opBinary, binPayload(777, 21), 100)
		b.echo(opText, hello)
		b.closeNormal()
	})
	add("5.22", "binary message in 1000 fragments of 1 to 100 bytes", func(b *builder) {
		p := binPayload(50500, 22)
		off := 0
		for i := 0; i < 1000 && off < len(p); i++ {
			n := i%100 + 1
			op := opCont
			if i == 0 {
				op = opBinary
			}
			b.frame(off+n == len(p), 0, op, p[off:off+n])
			off += n
		}
		b.wantMsg(opBinary, p)
		b.closeNormal()
	})
	return cs
}
