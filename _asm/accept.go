package main

import (
	"encoding/binary"
	"math/bits"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// acceptDoc is spliced in under the "Code generated" line of
// ../accept_amd64.s.
var acceptDoc = []string{
	"The SHA-1 behind Sec-WebSocket-Accept (RFC 6455 section 4.2.2) for amd64,",
	"with the SHA extensions (SHA-NI).",
	"",
	"Why assembly: the server computes one accept value per handshake, the",
	"SHA-1 of the client's 24-byte key followed by a fixed 36-byte GUID: two",
	"64-byte blocks, the second all padding. crypto/sha1.Sum runs the same",
	"instructions, but through a digest it fills, pads and serialises, which",
	"costs about half as much again as the rounds, and its frames deepen the",
	"handshake's stack. Here the constant words are precomputed: the last 40",
	"bytes of the first block (GUID and padding) are three constant vectors,",
	"and the second block's whole message schedule is a table, so that block",
	"runs the rounds alone.",
	"",
	"What would replace it: nothing in the standard library exposes SHA-1's",
	"block function; crypto/sha1.Sum is the fallback (accept.go) and the",
	"reference the tests compare with.",
}

// The SHA-1 initial state (FIPS 180-4 section 5.3.1).
var sha1Init = [5]uint32{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}

// acceptGUID is RFC 6455's GUID, which follows the key in the hashed input.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// vec is four 32-bit lanes, lowest first, as the SHA instructions hold
// message words: the first word of a group of four in the highest lane.
type vec [4]uint32

// msgVec returns the lanes of message words w[0..3].
func msgVec(w []uint32) vec { return vec{w[3], w[2], w[1], w[0]} }

// data emits a read-only 16-byte-per-vector table and returns its address.
func data(c *build.Context, name string, vs ...vec) operand.Mem {
	m := c.StaticGlobal(name)
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for _, v := range vs {
		for _, x := range v {
			c.AppendDatum(operand.U32(x))
		}
	}
	return m
}

// cpuidKernel emits cpuidLeaf7EBX() uint32: the EBX bits of CPUID leaf 7
// (structured extended features; bit 29 is SHA), or 0 when the CPU has no
// such leaf. golang.org/x/sys/cpu does not report SHA.
//
// Cost (of the emitted code): two CPUID instructions; call it once.
func cpuidKernel(c *build.Context) {
	c.Function("cpuidLeaf7EBX")
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func() uint32")
	c.XORL(reg.EAX, reg.EAX)
	c.CPUID()
	c.CMPL(reg.EAX, operand.U8(7))
	c.JB(operand.LabelRef("noLeaf7"))
	c.MOVL(operand.U32(7), reg.EAX)
	c.XORL(reg.ECX, reg.ECX)
	c.CPUID()
	c.Store(reg.EBX, c.ReturnIndex(0))
	c.RET()
	c.Label("noLeaf7")
	c.XORL(reg.EBX, reg.EBX)
	c.Store(reg.EBX, c.ReturnIndex(0))
	c.RET()
}

// acceptKernel emits sha1Accept(key *[24]byte, sum *[20]byte): sum becomes
// the SHA-1 of the key followed by the GUID. It needs SSSE3, SSE4.1 and SHA.
//
// Cost (of the emitted code): 160 rounds in 40 SHA1RNDS4, about 140
// instructions in all, no branch.
func acceptKernel(c *build.Context) {
	// The first block: the key (words 0-5), the GUID (6-14), the 0x80
	// padding byte (word 15). Words 4-5 are the key's; 6-7 are in guidLo.
	var block [16]uint32
	var in [64]byte
	copy(in[24:], acceptGUID)
	in[60] = 0x80
	for i := range block {
		block[i] = binary.BigEndian.Uint32(in[4*i:])
	}
	// The second block: zeros and the message length in bits (60*8), then
	// its whole schedule (FIPS 180-4 section 6.1.2).
	var w [80]uint32
	w[15] = 60 * 8
	for t := 16; t < 80; t++ {
		w[t] = bits.RotateLeft32(w[t-3]^w[t-8]^w[t-14]^w[t-16], 1)
	}
	sched := make([]vec, 20)
	for g := range sched {
		sched[g] = msgVec(w[4*g : 4*g+4])
	}

	shufMask := data(c, "acceptShuf", vec{0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203})
	initABCD := data(c, "acceptInitABCD", vec{sha1Init[3], sha1Init[2], sha1Init[1], sha1Init[0]})
	initE := data(c, "acceptInitE", vec{0, 0, 0, sha1Init[4]})
	// guidLo holds the GUID's first 8 bytes as they sit in memory, in the
	// low half, to sit beside the key's last 8 before the byte shuffle.
	guidLo := data(c, "acceptGUIDLo", vec{
		binary.LittleEndian.Uint32([]byte(acceptGUID[0:4])),
		binary.LittleEndian.Uint32([]byte(acceptGUID[4:8])), 0, 0,
	})
	msg23 := data(c, "acceptMsg23", msgVec(block[8:12]), msgVec(block[12:16]))
	block2 := data(c, "acceptBlock2", sched...)

	c.Function("sha1Accept")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr("func(key *[24]byte, sum *[20]byte)")
	c.Comment("sum = SHA-1(key || GUID): two blocks, the second one constant.")

	key := c.Load(c.Param("key"), c.GP64())
	shuf := c.XMM()
	c.MOVOU(shufMask, shuf)
	abcd, e0, e1 := c.XMM(), c.XMM(), c.XMM()
	c.MOVOU(initABCD, abcd)
	c.MOVOU(initE, e0)

	c.Comment("The first block's message: the key's 24 bytes, then constants.")
	msg := [4]reg.VecVirtual{c.XMM(), c.XMM(), c.XMM(), c.XMM()}
	c.MOVOU(operand.Mem{Base: key}, msg[0])
	c.PSHUFB(shuf, msg[0])
	c.MOVQ(operand.Mem{Base: key, Disp: 16}, msg[1])
	g := c.XMM()
	c.MOVOU(guidLo, g)
	c.PUNPCKLQDQ(g, msg[1])
	c.PSHUFB(shuf, msg[1])
	c.MOVOU(msg23, msg[2])
	c.MOVOU(msg23.Offset(16), msg[3])

	saveABCD, saveE := c.XMM(), c.XMM()
	c.MOVO(abcd, saveABCD)
	c.MOVO(e0, saveE)
	e := [2]reg.VecVirtual{e0, e1}
	// Four rounds per group; group r uses the words in msg[r%4] and computes
	// later groups' words in the others (the SHA extensions' schedule).
	for r := 0; r < 20; r++ {
		cur, next := e[r%2], e[(r+1)%2]
		m := msg[r%4]
		if r == 0 {
			c.PADDD(m, cur)
		} else {
			c.SHA1NEXTE(m, cur)
		}
		c.MOVO(abcd, next)
		if r >= 3 && r <= 18 {
			c.SHA1MSG2(m, msg[(r+1)%4])
		}
		c.SHA1RNDS4(operand.U8(r/5), cur, abcd)
		if r >= 1 && r <= 16 {
			c.SHA1MSG1(m, msg[(r+3)%4])
		}
		if r >= 2 && r <= 17 {
			c.PXOR(m, msg[(r+2)%4])
		}
	}
	// After group 19 (odd), e0 holds the state before it: its next E.
	c.SHA1NEXTE(saveE, e0)
	c.PADDD(saveABCD, abcd)

	c.Comment("The second block: every word of its schedule is a constant.")
	c.MOVO(abcd, saveABCD)
	c.MOVO(e0, saveE)
	t := c.XMM()
	for r := 0; r < 20; r++ {
		cur, next := e[r%2], e[(r+1)%2]
		c.MOVOU(block2.Offset(16*r), t)
		if r == 0 {
			c.PADDD(t, cur)
		} else {
			c.SHA1NEXTE(t, cur)
		}
		c.MOVO(abcd, next)
		c.SHA1RNDS4(operand.U8(r/5), cur, abcd)
	}
	c.SHA1NEXTE(saveE, e0)
	c.PADDD(saveABCD, abcd)

	c.Comment("The digest, big-endian: A-D reversed bytewise, then E.")
	sum := c.Load(c.Param("sum"), c.GP64())
	c.PSHUFB(shuf, abcd)
	c.MOVOU(abcd, operand.Mem{Base: sum})
	x := c.GP32()
	c.PEXTRD(operand.U8(3), e0, x)
	c.BSWAPL(x)
	c.MOVL(x, operand.Mem{Base: sum, Disp: 16})
	c.RET()
}
