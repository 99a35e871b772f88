package main

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// ctlMaskDoc is spliced in under the "Code generated" line of
// ../ctlmask_amd64.s.
var ctlMaskDoc = []string{
	"The control-byte bitmap behind the opening handshake's line scanner",
	"(lineScanner in handshake.go) for amd64.",
	"",
	"Why assembly: the parser finds every line's end, and checks that the",
	"line holds no control byte, by looking for bytes below 0x20 or equal to",
	"0x7f. Word-at-a-time Go (ctlMaskGeneric) spends about a dozen operations",
	"per 8 bytes and, looking line by line, a mispredicted loop exit per line.",
	"Here SSE2 compares and PMOVMSKB turn up to 256 bytes into a bitmap, about",
	"eight instructions per 16 bytes, and the scanner walks the map with TZCNT.",
	"",
	"What would replace it: the simd/archsimd package once it is stable",
	"(experimental behind GOEXPERIMENT=simd in Go 1.26): a compare and a",
	"ToBits per vector.",
}

// ctlMapKernel emits ctlMap(out *[4]uint64, b []byte): bit j%64 of
// out[j/64] is set when b[j], j < min(len(b), 256), is below 0x20 or is
// 0x7f, and every other bit of out is clear. It reads only those bytes
// of b (from 16 on, the last 16 again, overlapping, when their count is
// not a multiple of 16; below 16, one at a time). SSE2 only, the amd64
// baseline, so it needs no CPU check.
//
// Cost (of the emitted code): two stores to clear out; then per 16 bytes
// one unaligned load, five vector operations, a PMOVMSKB, a shift and an
// OR, 64 bytes per loop iteration and one 64-bit store per word of out;
// below 16 bytes a compare or two per byte; no frame.
func ctlMapKernel(c *build.Context) {
	c.Function("ctlMap")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.Pragma("noescape")
	c.SignatureExpr("func(out *[4]uint64, b []byte)")
	out := c.Load(c.Param("out"), c.GP64())
	p := c.Load(c.Param("b").Base(), c.GP64())
	n := c.Load(c.Param("b").Len(), c.GP64())

	c.Comment("n = min(len(b), 256); out = 0.")
	window := c.GP64()
	c.MOVQ(operand.U32(256), window)
	c.CMPQ(n, window)
	c.CMOVQHI(window, n)
	for k := range 4 {
		c.MOVQ(operand.U32(0), operand.Mem{Base: out, Disp: 8 * k})
	}

	at, end := c.GP64(), c.GP64() // at: bytes mapped so far
	c.XORQ(at, at)
	c.CMPQ(n, operand.U8(16))
	c.JB(operand.LabelRef("bytes"))

	// broadcast returns a vector of 16 copies of byte b.
	broadcast := func(b uint64) reg.VecVirtual {
		t := c.GP64()
		c.MOVQ(operand.U64(b*0x0101010101010101), t)
		return broadcastXMM(c, t)
	}
	limit := broadcast(0x1f) // the highest control byte
	del := broadcast(0x7f)

	// chunk emits the map of the 16 bytes at m into a new register:
	// x <= 0x1f is min(x, 0x1f) == x; DEL is x == 0x7f.
	chunk := func(m operand.Mem) reg.GPVirtual {
		x, low, bits := c.XMM(), c.XMM(), c.GP64()
		c.MOVOU(m, x)
		c.MOVO(x, low)
		c.PMINUB(limit, low)
		c.PCMPEQB(x, low)
		c.PCMPEQB(del, x)
		c.POR(low, x)
		c.PMOVMSKB(x, bits.As32())
		return bits
	}

	c.Comment("64 bytes per iteration while that many remain, four masks joined",
		"into one word of out (one 64-bit store, which later 64-bit loads can",
		"take straight from the store buffer).")
	c.Label("loop64")
	c.LEAQ(operand.Mem{Base: at, Disp: 64}, end)
	c.CMPQ(end, n)
	c.JA(operand.LabelRef("tail"))
	word := chunk(operand.Mem{Base: p, Index: at, Scale: 1})
	for k := 1; k < 4; k++ {
		bits := chunk(operand.Mem{Base: p, Index: at, Scale: 1, Disp: 16 * k})
		c.SHLQ(operand.U8(16*k), bits)
		c.ORQ(bits, word)
	}
	c.MOVQ(word, operand.Mem{Base: out})
	c.MOVQ(end, at)
	c.ADDQ(operand.U8(8), out)
	c.JMP(operand.LabelRef("loop64"))

	c.Comment("Fewer than 64 bytes remain: their masks gather in acc, at bit",
		"CX, and go to the next word of out in one store.")
	c.Label("tail")
	c.CMPQ(at, n)
	c.JAE(operand.LabelRef("done"))
	acc := c.GP64()
	c.XORQ(acc, acc)
	c.XORL(reg.ECX, reg.ECX)

	c.Comment("16 bytes at a time.")
	c.Label("loop16")
	c.LEAQ(operand.Mem{Base: at, Disp: 16}, end)
	c.CMPQ(end, n)
	c.JA(operand.LabelRef("last"))
	bits := chunk(operand.Mem{Base: p, Index: at, Scale: 1})
	c.SHLQ(reg.CL, bits)
	c.ORQ(bits, acc)
	c.ADDL(operand.U8(16), reg.ECX)
	c.MOVQ(end, at)
	c.JMP(operand.LabelRef("loop16"))

	c.Comment("The last n-at < 16 bytes: the 16 that end b[:n], shifted up to",
		"bit CX, then down by the at+16-n bytes mapped already. Those bytes'",
		"bits land on their own (equal) bits in acc, or fall off the word.")
	c.Label("last")
	c.CMPQ(at, n)
	c.JAE(operand.LabelRef("store"))
	last := chunk(operand.Mem{Base: p, Index: n, Scale: 1, Disp: -16})
	c.SUBQ(n, end) // at+16-n
	c.SHLQ(reg.CL, last)
	c.MOVQ(end, reg.RCX)
	c.SHRQ(reg.CL, last)
	c.ORQ(last, acc)
	c.Label("store")
	c.MOVQ(acc, operand.Mem{Base: out})
	c.Label("done")
	c.RET()

	c.Comment("Fewer than 16 bytes: one at a time, into the first word.")
	c.Label("bytes")
	few, x := c.GP64(), c.GP32()
	c.XORQ(few, few)
	c.Label("byteLoop")
	c.CMPQ(at, n)
	c.JAE(operand.LabelRef("bytesDone"))
	c.MOVBLZX(operand.Mem{Base: p, Index: at, Scale: 1}, x)
	c.CMPL(x, operand.U8(0x20))
	c.JB(operand.LabelRef("flag"))
	c.CMPL(x, operand.U8(0x7f))
	c.JNE(operand.LabelRef("next"))
	c.Label("flag")
	c.BTSQ(at, few)
	c.Label("next")
	c.INCQ(at)
	c.JMP(operand.LabelRef("byteLoop"))
	c.Label("bytesDone")
	c.MOVQ(few, operand.Mem{Base: out})
	c.RET()
}
