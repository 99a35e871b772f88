package conformance

// Groups 12 and 13: permessage-deflate (RFC 7692).

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/wsmem/wsmem"
)

var words = strings.Fields(`the quick brown fox jumps over lazy dog WebSocket frame
message compression window context takeover server client deflate inflate
payload mask opcode fragment continuation ping pong close reason status
κόσμε größe 語 😀 data binary text`)

// wordsText returns exactly n bytes of compressible UTF-8 text.
func wordsText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 3))
	var b []byte
	for {
		w := words[r.IntN(len(words))]
		if len(b)+len(w)+1 > n {
			break
		}
		b = append(append(b, w...), ' ')
	}
	for len(b) < n {
		b = append(b, '.')
	}
	return b
}

// periodic returns n bytes repeating a random printable block of period
// bytes: matches at that distance only.
func periodic(n, period int, seed uint64) []byte {
	block := asciiPayload(period, seed)
	b := make([]byte, n)
	for i := range b {
		b[i] = block[i%period]
	}
	return b
}

// halfRandom returns n bytes: random, then a repetition of them.
func halfRandom(n int, seed uint64) []byte {
	b := binPayload(n, seed)
	copy(b[n/2:], b)
	return b
}

// deflateCase makes a case whose handshake agrees p: as server, the
// harness offers p and wsmem is configured with it; as client, wsmem is
// configured with p, must offer it, and the harness accepts it.
func deflateCase(id, group, desc string, p pmd, s func(*builder)) *tcase {
	sb, cb := bitsOr15(p.serverBits), bitsOr15(p.clientBits)
	cfg := &wsmem.Config{Compression: wsmem.CompressionConfig{
		Enabled:                 true,
		ServerNoContextTakeover: p.serverNCT,
		ClientNoContextTakeover: p.clientNCT,
		ServerMaxWindowBits:     sb,
		ClientMaxWindowBits:     cb,
	}}
	offer := pmd{serverNCT: p.serverNCT, clientNCT: p.clientNCT, clientBits: -1}
	resp := pmd{serverNCT: p.serverNCT, clientNCT: p.clientNCT}
	if sb < 15 {
		offer.serverBits, resp.serverBits = sb, sb
	}
	if cb < 15 {
		offer.clientBits, resp.clientBits = cb, cb
	}
	wantOffer := offer
	if cb == 15 {
		wantOffer.clientBits = 0
	}
	return &tcase{
		id: id, group: group, desc: desc, script: s, cfg: cfg, http: true,
		offer:     offer.String(),
		wantResp:  &pmd{serverNCT: p.serverNCT, clientNCT: p.clientNCT, serverBits: sb, clientBits: cb},
		wantOffer: &wantOffer,
		respond:   resp.String(),
	}
}

func deflateCases() []*tcase {
	var cs []*tcase
	add := func(id, desc string, s func(*builder)) *tcase {
		c := deflateCase(id, "12", desc, pmd{}, s)
		cs = append(cs, c)
		return c
	}
	for i, n := range []int{16, 64, 128, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		n := n
		c := add(fmt.Sprintf("12.1.%d", i+1), fmt.Sprintf("10 compressed text messages of %s", sizeName(n)), func(b *builder) {
			for j := range 10 {
				b.compressed(opText, wordsText(n, uint64(n+j)), 1<<30)
			}
			b.closeNormal()
		})
		c.heavy = n >= 64<<10
		c.budget = 16 << 10
		c.timeout = 20 * time.Second
	}
	for i, n := range []int{16, 256, 4 << 10, 64 << 10} {
		n := n
		c := add(fmt.Sprintf("12.2.%d", i+1), fmt.Sprintf("10 compressed binary messages of %s of random bytes", sizeName(n)), func(b *builder) {
			for j := range 10 {
				b.compressed(opBinary, binPayload(n, uint64(n+j)), 1<<30)
			}
			b.closeNormal()
		})
		c.heavy = n >= 64<<10
		c.budget = 16 << 10
		c.timeout = 20 * time.Second
	}
	add("12.3.1", "compressed and uncompressed messages alternating, 10 B to 2 KB", func(b *builder) {
		for j := range 20 {
			p := wordsText(10+j*100, uint64(j))
			if j%2 == 0 {
				b.compressed(opText, p, 1<<30)
			} else {
				b.echo(opText, p)
			}
		}
		b.closeNormal()
	})
	add("12.3.2", "the same text compressed, uncompressed, compressed again", func(b *builder) {
		p := wordsText(1000, 1232)
		b.compressed(opText, p, 1<<30)
		b.echo(opText, p)
		b.compressed(opText, p, 1<<30)
		b.echo(opBinary, p)
		b.compressed(opBinary, p, 1<<30)
		b.closeNormal()
	})
	for i, f := range []int{1, 7, 64} {
		f := f
		add(fmt.Sprintf("12.4.%d", i+1), fmt.Sprintf("compressed messages in frames of %d compressed bytes", f), func(b *builder) {
			b.compressed(opText, wordsText(500, 124), f)
			b.compressed(opBinary, halfRandom(300, 124), f)
			b.closeNormal()
		})
	}
	add("12.4.4", "compressed message with pings between its frames", func(b *builder) {
		data := b.def.compress(wordsText(2000, 1244))
		for i := 0; i < len(data); i += 100 {
			end := min(i+100, len(data))
			op, r := opCont, byte(0)
			if i == 0 {
				op, r = opText, rsv1
			}
			b.frame(end == len(data), r, op, data[i:end])
			if end < len(data) {
				p := []byte(fmt.Sprint("ping ", i))
				b.ping(p)
				b.wantPong(p)
			}
		}
		b.wantMsg(opText, wordsText(2000, 1244))
		b.closeNormal()
	})
	c := add("12.4.5", "compressed text of 1 MiB in frames of 4 KiB", func(b *builder) {
		b.compressed(opText, wordsText(1<<20, 1245), 4<<10)
		b.closeNormal()
	})
	c.heavy, c.timeout, c.budget = true, 20*time.Second, 16<<10
	before := func(b *builder) {
		b.compressed(opText, wordsText(300, 1250), 1<<30)
	}
	add("12.5.1", "RSV1 on the continuation of a compressed message: 1002", func(b *builder) {
		before(b)
		data := b.def.compress(wordsText(300, 1251))
		b.frame(false, rsv1, opText, data[:10])
		b.frame(true, rsv1, opCont, data[10:])
		b.wantFail(1002)
	})
	add("12.5.2", "RSV1 on the continuation of an uncompressed message: 1002", func(b *builder) {
		before(b)
		b.frame(false, 0, opText, []byte("fragment1"))
		b.frame(true, rsv1, opCont, []byte("fragment2"))
		b.wantFail(1002)
	})
	for i, op := range []byte{opPing, opPong, opClose} {
		op := op
		add(fmt.Sprintf("12.5.%d", i+3), fmt.Sprintf("RSV1 on a %s frame: 1002", opName(op)), func(b *builder) {
			before(b)
			p := []byte("control")
			if op == opClose {
				p = closePayload(1000, nil)
			}
			b.frame(true, rsv1, op, p)
			b.wantFail(1002)
		})
	}
	add("12.5.6", "RSV1 and RSV2 on a compressed message: 1002", func(b *builder) {
		before(b)
		b.frame(true, rsv1|rsv2, opText, b.def.compress([]byte("Hello")))
		b.wantFail(1002)
	})
	add("12.5.7", "RSV3 on an uncompressed message: 1002", func(b *builder) {
		before(b)
		b.frame(true, rsv3, opBinary, []byte("Hello"))
		b.wantFail(1002)
	})
	add("12.5.8", "RSV1 on a ping between the frames of a compressed message: 1002", func(b *builder) {
		before(b)
		data := b.def.compress(wordsText(300, 1258))
		b.frame(false, rsv1, opText, data[:10])
		b.frame(true, rsv1, opPing, []byte("ping"))
		b.frame(true, 0, opCont, data[10:])
		b.wantFail(1002)
	})
	// RFC 7692 §7.2.3 examples, sent as they are (these cases do not use the
	// harness's compressor).
	hello := []byte("Hello")
	add("12.6.1", "RFC 7692 §7.2.3.1: \"Hello\" compressed", func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		b.wantMsg(opText, hello)
		b.closeNormal()
	})
	add("12.6.2", "RFC 7692 §7.2.3.1: \"Hello\" in two compressed fragments", func(b *builder) {
		b.frame(false, rsv1, opText, []byte{0xf2, 0x48, 0xcd})
		b.frame(true, 0, opCont, []byte{0xc9, 0xc9, 0x07, 0x00})
		b.wantMsg(opText, hello)
		b.closeNormal()
	})
	add("12.6.3", "RFC 7692 §7.2.3.2: a second \"Hello\" referring to the first (context takeover)", func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		b.frame(true, rsv1, opText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})
		b.wantMsg(opText, hello)
		b.wantMsg(opText, hello)
		b.closeNormal()
	})
	add("12.6.4", "RFC 7692 §7.2.3.3: \"Hello\" in a stored block", func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00})
		b.wantMsg(opText, hello)
		b.closeNormal()
	})
	add("12.6.5", "RFC 7692 §7.2.3.4: \"Hello\" in a final (BFINAL) block", func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		b.wantMsg(opText, hello)
		b.closeNormal()
	})
	add("12.6.6", "RFC 7692 §7.2.3.6: an empty message compressed as 0x00", func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0x00})
		b.wantMsg(opText, []byte{})
		b.frame(true, rsv1, opBinary, []byte{0x00})
		b.wantMsg(opBinary, []byte{})
		b.closeNormal()
	})
	add("12.6.7", "corrupt DEFLATE data (block type 3): 1002 or 1007", func(b *builder) {
		b.echo(opText, []byte("before"))
		b.frame(true, rsv1, opBinary, []byte{0xff, 0xff, 0xff, 0xff})
		b.wantFail(1002, 1007)
	})
	add("12.6.8", "back-reference before the start of the stream: 1002 or 1007", func(b *builder) {
		b.frame(true, rsv1, opBinary, fixedBlock(nil, 3, 1))
		b.wantFail(1002, 1007)
	})
	add("12.6.9", "compressed text that inflates to invalid UTF-8: 1007", func(b *builder) {
		before(b)
		b.frame(true, rsv1, opText, b.def.compress([]byte("κόσμε\xed\xa0\x80edited")))
		b.wantFail(1007)
	})
	c = add("12.6.10", "compressed text whose invalid UTF-8 is in the first of 2 frames, the rest never sent: 1007 at once", func(b *builder) {
		data := b.def.compress(append([]byte("\xed\xa0\x80"), wordsText(10000, 12610)...))
		b.frame(false, rsv1, opText, data[:len(data)/2])
		b.wantFail(1007)
	})
	c.timeout, c.fast = 3*time.Second, true
	c = add("12.6.11", "MaxMessageSize 64 KiB: 1 MiB of zeros compressed to ~1 KiB: 1009", func(b *builder) {
		before(b)
		b.frame(true, rsv1, opBinary, b.def.compress(make([]byte, 1<<20)))
		b.wantFail(1009)
	})
	c.cfg = &wsmem.Config{MaxMessageSize: 64 << 10, Compression: c.cfg.Compression}
	add("12.6.12", "compressed data ending in an empty stored block and an empty final block", func(b *builder) {
		data := b.def.compress([]byte("abc"))
		b.frame(true, rsv1, opText, append(data, 0x00, 0x00, 0xff, 0xff, 0x01))
		b.wantMsg(opText, []byte("abc"))
		b.closeNormal()
	})
	add("12.6.13", "close between the frames of a compressed message: closing handshake", func(b *builder) {
		data := b.def.compress(wordsText(300, 12613))
		b.frame(false, rsv1, opText, data[:10])
		b.sendClose(1000, nil)
		b.frame(true, 0, opCont, data[10:])
		b.wantCloseEcho(1000)
	})
	c = add("12.6.14", "MaxMessageSize 64 KiB: 64 KiB of zeros compressed is echoed", func(b *builder) {
		b.compressed(opBinary, make([]byte, 64<<10), 1<<30)
		b.closeNormal()
	})
	c.cfg = &wsmem.Config{MaxMessageSize: 64 << 10, Compression: c.cfg.Compression}
	c = add("12.6.15", "MaxMessageSize 64 KiB: 64 KiB + 1 of text compressed in 3 frames: 1009", func(b *builder) {
		before(b)
		data := b.def.compress(wordsText(64<<10+1, 12615))
		b.sendFragments(opText, rsv1, data, len(data)/3+1)
		b.wantFail(1009)
	})
	c.cfg = &wsmem.Config{MaxMessageSize: 64 << 10, Compression: c.cfg.Compression}
	add("12.7.1", "the same 1000-byte text 20 times (context takeover)", func(b *builder) {
		p := wordsText(1000, 1271)
		for range 20 {
			b.compressed(opText, p, 1<<30)
		}
		b.closeNormal()
	})
	add("12.7.2", "30 compressed messages of both types and mixed sizes", func(b *builder) {
		for j := range 30 {
			if j%3 == 0 {
				b.compressed(opBinary, halfRandom(100+j*50, uint64(j)), 1<<30)
			} else {
				b.compressed(opText, wordsText(100+j*70, uint64(j)), 1<<30)
			}
		}
		b.closeNormal()
	})
	return cs
}

// fixedBlock builds a non-final fixed-Huffman DEFLATE block holding the
// literals lits and then one match of length n at distance d (n == 0: no
// match), followed by the header bits of an empty stored block, as a
// permessage-deflate sender leaves them (RFC 7692 §7.2.1).
func fixedBlock(lits []byte, n, d int) []byte {
	var w bitWriter
	w.bits(0, 1) // BFINAL
	w.bits(1, 2) // fixed Huffman
	for _, c := range lits {
		if c < 144 {
			w.code(0x30+uint32(c), 8)
		} else {
			w.code(0x190+uint32(c)-144, 9)
		}
	}
	if n > 0 {
		// Lengths 3..10 are symbols 257..264 without extra bits.
		w.code(uint32(n-2), 7)
		// Distances 1..4 are codes 0..3 without extra bits.
		w.code(uint32(d-1), 5)
	}
	w.code(0, 7) // end of block
	w.bits(0, 3) // the empty stored block's header
	return w.flush()
}

type bitWriter struct {
	out  []byte
	acc  uint32
	nacc uint
}

// bits writes the n low bits of v, LSB first.
func (w *bitWriter) bits(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		w.acc |= (v >> i & 1) << w.nacc
		w.nacc++
		if w.nacc == 8 {
			w.out = append(w.out, byte(w.acc))
			w.acc, w.nacc = 0, 0
		}
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(v uint32, n uint) {
	for i := n; i > 0; i-- {
		w.bits(v>>(i-1)&1, 1)
	}
}

func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nacc = 0, 0
	}
	return w.out
}

// comboScript exercises one parameter combination: messages below the
// compression threshold and above it, matches within and beyond small
// windows, repetitions of earlier messages, both types, an uncompressed
// message among compressed ones.
func comboScript(b *builder) {
	b.compressed(opText, wordsText(64, 1), 1<<30)
	b.compressed(opText, wordsText(300, 2), 1<<30)
	b.compressed(opText, periodic(1500, 200, 3), 1<<30)
	b.echo(opText, wordsText(400, 4))
	b.compressed(opText, periodic(1500, 600, 5), 1<<30)
	b.compressed(opBinary, halfRandom(2000, 6), 1<<30)
	b.compressed(opText, wordsText(300, 2), 100)
	b.compressed(opText, wordsText(5000, 7), 1<<30)
	b.closeNormal()
}

func comboName(p pmd) string {
	var s []string
	if p.serverNCT {
		s = append(s, "server_no_ctx")
	}
	if p.clientNCT {
		s = append(s, "client_no_ctx")
	}
	s = append(s, fmt.Sprintf("server_bits=%d", bitsOr15(p.serverBits)), fmt.Sprintf("client_bits=%d", bitsOr15(p.clientBits)))
	return strings.Join(s, ", ")
}

func deflateParamCases() []*tcase {
	var cs []*tcase
	for k, nct := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		for sb := 8; sb <= 15; sb++ {
			for cb := 8; cb <= 15; cb++ {
				p := pmd{serverNCT: nct[0], clientNCT: nct[1], serverBits: sb, clientBits: cb}
				cs = append(cs, deflateCase(fmt.Sprintf("13.%d.%d.%d", k+1, sb, cb), "13", comboName(p), p, comboScript))
			}
		}
	}

	// Negotiation, wsmem as server.
	srv := func(id, desc, offer string, cfg wsmem.CompressionConfig, want *pmd, s func(*builder)) {
		cfg.Enabled = true
		cs = append(cs, &tcase{id: id, group: "13", desc: desc, only: wsServer, http: true,
			cfg: &wsmem.Config{Compression: cfg}, offer: offer, wantResp: want, script: s})
	}
	rsv1Fails := func(b *builder) {
		b.echo(opText, []byte("uncompressed"))
		b.frame(true, rsv1, opText, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		b.wantFail(1002)
	}
	works := func(b *builder) {
		b.compressed(opText, wordsText(3000, 139), 1<<30)
		b.compressed(opText, wordsText(3000, 139), 1<<30)
		b.closeNormal()
	}
	srv("13.9.1", "offer with an unknown parameter: declined, RSV1 then fails", "permessage-deflate; foo=1", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.2", "offer with server_max_window_bits=7: declined", "permessage-deflate; server_max_window_bits=7", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.3", "offer with server_max_window_bits=16: declined", "permessage-deflate; server_max_window_bits=16", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.4", "offer with server_max_window_bits without a value: declined", "permessage-deflate; server_max_window_bits", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.5", "offer with client_max_window_bits twice: declined", "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.6", "offer with server_no_context_takeover=1: declined", "permessage-deflate; server_no_context_takeover=1", wsmem.CompressionConfig{}, nil, rsv1Fails)
	srv("13.9.7", "invalid first offer, plain second: the second accepted", "permessage-deflate; server_max_window_bits=7, permessage-deflate", wsmem.CompressionConfig{}, &pmd{}, works)
	srv("13.9.8", "unknown extension offered first: only permessage-deflate accepted", "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits", wsmem.CompressionConfig{}, &pmd{}, works)
	srv("13.9.9", "quoted value server_max_window_bits=\"10\"", `permessage-deflate; server_max_window_bits="10"`, wsmem.CompressionConfig{}, &pmd{serverBits: 10}, works)
	srv("13.9.10", "server limit 10, offer 12: server_max_window_bits=10", "permessage-deflate; server_max_window_bits=12", wsmem.CompressionConfig{ServerMaxWindowBits: 10}, &pmd{serverBits: 10}, works)
	srv("13.9.11", "server limit 12, offer 10: server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10", wsmem.CompressionConfig{ServerMaxWindowBits: 12}, &pmd{serverBits: 10}, works)
	srv("13.9.12", "client limit 10, offer client_max_window_bits=12: 10", "permessage-deflate; client_max_window_bits=12", wsmem.CompressionConfig{ClientMaxWindowBits: 10}, &pmd{clientBits: 10}, works)
	srv("13.9.13", "client limit 10, no client_max_window_bits offered: client_no_context_takeover", "permessage-deflate", wsmem.CompressionConfig{ClientMaxWindowBits: 10}, &pmd{clientNCT: true}, works)
	srv("13.9.14", "compression disabled: offer declined, RSV1 then fails", "permessage-deflate", wsmem.CompressionConfig{}, nil, rsv1Fails)
	cs[len(cs)-1].cfg = nil
	srv("13.9.15", "no context takeover for the client, a reference into the previous message: 1002 or 1007", "permessage-deflate; client_no_context_takeover", wsmem.CompressionConfig{}, &pmd{clientNCT: true}, func(b *builder) {
		b.frame(true, rsv1, opText, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00})
		b.wantMsg(opText, []byte("Hello"))
		b.frame(true, rsv1, opText, []byte{0xf2, 0x00, 0x11, 0x00, 0x00})
		b.wantFail(1002, 1007)
	})

	// Negotiation, wsmem as client.
	cli := func(id, desc string, cfg wsmem.CompressionConfig, wantOffer *pmd, respond string, fails bool, s func(*builder)) {
		cfg.Enabled = true
		cs = append(cs, &tcase{id: id, group: "13", desc: desc, only: wsClient, http: true,
			cfg: &wsmem.Config{Compression: cfg}, wantOffer: wantOffer, respond: respond, handshakeFails: fails, script: s})
	}
	cli("13.10.1", "response with an unknown parameter: refused", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate; foo", true, nil)
	cli("13.10.2", "response accepting permessage-deflate twice: refused", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate, permessage-deflate", true, nil)
	cli("13.10.3", "response with an extension never offered: refused", wsmem.CompressionConfig{}, &pmd{}, "x-unknown", true, nil)
	cli("13.10.4", "response with server_max_window_bits=16: refused", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate; server_max_window_bits=16", true, nil)
	cli("13.10.5", "asked server_max_window_bits=10, granted 12: refused", wsmem.CompressionConfig{ServerMaxWindowBits: 10}, &pmd{serverBits: 10}, "permessage-deflate; server_max_window_bits=12", true, nil)
	cli("13.10.6", "asked server_no_context_takeover, not granted: refused", wsmem.CompressionConfig{ServerNoContextTakeover: true}, &pmd{serverNCT: true}, "permessage-deflate", true, nil)
	cli("13.10.7", "response client_max_window_bits without a value: refused", wsmem.CompressionConfig{ClientMaxWindowBits: 12}, &pmd{clientBits: 12}, "permessage-deflate; client_max_window_bits", true, nil)
	cli("13.10.8", "server_no_context_takeover granted unasked", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate; server_no_context_takeover", false, works)
	cli("13.10.9", "client_no_context_takeover imposed unasked", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate; client_no_context_takeover", false, works)
	cli("13.10.10", "server_max_window_bits=9 announced unasked", wsmem.CompressionConfig{}, &pmd{}, "permessage-deflate; server_max_window_bits=9", false, works)
	cli("13.10.11", "asked client_max_window_bits=12, granted 9", wsmem.CompressionConfig{ClientMaxWindowBits: 12}, &pmd{clientBits: 12}, "permessage-deflate; client_max_window_bits=9", false, works)
	cli("13.10.12", "offer declined by the server: RSV1 then fails", wsmem.CompressionConfig{}, &pmd{}, "", false, rsv1Fails)
	return cs
}
