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
	"Sec-WebSocket-Accept (RFC 6455 section 4.2.2) for amd64: the SHA-1 with",
	"the SHA extensions (SHA-NI), then the base64 with SSSE3.",
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
	"The 20-byte digest is then base64-encoded in the same registers (two",
	"PSHUFB, two multiplies and a class table per 16 characters), where",
	"Go's table lookups cost a fifth as much again as the hash.",
	"",
	"What would replace it: nothing in the standard library exposes SHA-1's",
	"block function; crypto/sha1.Sum with encodeAccept is the fallback",
	"(accept.go) and, with encoding/base64, the reference the tests compare",
	"with.",
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

// acceptKernel emits acceptValueAsm(key *[24]byte, out *[28]byte): out
// becomes the base64 of the SHA-1 of the key followed by the GUID, the
// Sec-WebSocket-Accept value. It needs SSSE3, SSE4.1 and SHA.
//
// Cost (of the emitted code): 160 rounds in 40 SHA1RNDS4, about 140
// instructions, then about 30 for the base64; no branch.
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

	b64 := base64Tables(c)

	c.Function("acceptValueAsm")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr("func(key *[24]byte, out *[28]byte)")
	c.Comment("out = base64(SHA-1(key || GUID)): two blocks, the second one constant.")

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

	c.Comment("The digest, big-endian: A-D reversed bytewise (bytes 0-15), then E",
		"(16-19).")
	c.PSHUFB(shuf, abcd)
	x := c.GP32()
	c.PEXTRD(operand.U8(3), e0, x)
	c.BSWAPL(x)
	tail := c.XMM()
	c.MOVQ(x.As64(), tail) // bytes 16-19, then zeros
	c.PALIGNR(operand.U8(12), abcd, tail)
	c.Comment("Base64: bytes 0-11 give characters 0-15 (abcd), bytes 12-19 and",
		"two zero bytes characters 16-27 (tail), the last one replaced by '='.")
	base64Kernel(c, abcd, b64.shuf0, &b64)
	base64Kernel(c, tail, b64.shuf1, &b64)
	out := c.Load(c.Param("out"), c.GP64())
	c.MOVOU(abcd, operand.Mem{Base: out})
	c.MOVQ(tail, operand.Mem{Base: out, Disp: 16})
	last := c.GP32()
	c.PEXTRD(operand.U8(2), tail, last)
	c.ANDL(operand.U32(0x00ffffff), last)
	c.ORL(operand.U32('='<<24), last)
	c.MOVL(last, operand.Mem{Base: out, Disp: 24})
	c.RET()
}

// base64Consts are the tables of base64Kernel.
type base64Consts struct {
	shuf0, shuf1 operand.Mem // the byte shuffles for characters 0-15 and 16-27
	mask0, mul0  operand.Mem // isolate and place the 1st and 3rd 6-bit groups of each 3 bytes
	mask1, mul1  operand.Mem // the 2nd and 4th
	sat51, lt26  operand.Mem // 51 and 26 in every byte, to classify indices
	thirteen     operand.Mem // 13 in every byte
	offsets      operand.Mem // what to add to an index, by class
}

// bytesVec returns the 16 bytes b as four little-endian lanes.
func bytesVec(b [16]byte) vec {
	var v vec
	for i := range v {
		v[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return v
}

// splat returns byte x in all 16 bytes.
func splat(x byte) vec {
	w := uint32(x) * 0x01010101
	return vec{w, w, w, w}
}

// base64Shuffle returns the PSHUFB control that spreads the three bytes
// at from+3k, k = 0..3, over lane k as [from+3k+1, from+3k, from+3k+2,
// from+3k+1], so that each lane holds the 24 bits of its group twice over
// as 16-bit words; indices past last read as zero (0x80).
func base64Shuffle(from, last int) vec {
	var b [16]byte
	for k := range 4 {
		for j, d := range [4]int{1, 0, 2, 1} {
			i := from + 3*k + d
			if i > last {
				b[4*k+j] = 0x80
			} else {
				b[4*k+j] = byte(i)
			}
		}
	}
	return bytesVec(b)
}

// base64Tables emits the tables of base64Kernel.
func base64Tables(c *build.Context) base64Consts {
	// Characters by class of the 6-bit index x: 'A'+x below 26, 'a'+x-26
	// below 52, '0'+x-52 below 62, then '+' and '/'. The class number
	// is x saturating-minus 51 (1..12 for the digits, '+' and '/'), with
	// 13 for x < 26 and 0 for 26..51.
	wrap := func(d int) byte { return byte(d & 0xff) } // a negative offset, modulo 256
	var off [16]byte
	off[0] = wrap('a' - 26)
	for i := 1; i <= 10; i++ {
		off[i] = wrap('0' - 52)
	}
	off[11] = wrap('+' - 62)
	off[12] = wrap('/' - 63)
	off[13] = 'A'
	return base64Consts{
		shuf0:    data(c, "base64Shuf0", base64Shuffle(0, 15)),
		shuf1:    data(c, "base64Shuf1", base64Shuffle(0, 7)),
		mask0:    data(c, "base64Mask0", vec{0x0fc0fc00, 0x0fc0fc00, 0x0fc0fc00, 0x0fc0fc00}),
		mul0:     data(c, "base64Mul0", vec{0x04000040, 0x04000040, 0x04000040, 0x04000040}),
		mask1:    data(c, "base64Mask1", vec{0x003f03f0, 0x003f03f0, 0x003f03f0, 0x003f03f0}),
		mul1:     data(c, "base64Mul1", vec{0x01000010, 0x01000010, 0x01000010, 0x01000010}),
		sat51:    data(c, "base64Sat51", splat(51)),
		lt26:     data(c, "base64Lt26", splat(26)),
		thirteen: data(c, "base64Thirteen", splat(13)),
		offsets:  data(c, "base64Offsets", bytesVec(off)),
	}
}

// base64Kernel emits the base64 of the 12 bytes v holds after the byte
// shuffle shuf (see base64Shuffle) into v: 16 characters. Per 32-bit lane,
// two multiplies move the four 6-bit groups of its 24 bits into the low
// bits of its four bytes; each index then gets the offset of its class
// from a 16-byte table (PSHUFB). The method is Wojciech Muła's (SSE
// base64 encoding, 2016).
//
// Cost (of the emitted code): 13 vector operations and 8 loads.
func base64Kernel(c *build.Context, v reg.VecVirtual, shuf operand.Mem, k *base64Consts) {
	// Legacy SSE memory operands must be aligned: every table is loaded
	// first.
	load := func(m operand.Mem) reg.VecVirtual {
		r := c.XMM()
		c.MOVOU(m, r)
		return r
	}
	c.PSHUFB(load(shuf), v)
	hi := load(k.mask0)
	c.PAND(v, hi)
	c.PMULHUW(load(k.mul0), hi) // groups 1 and 3 in bytes 0 and 2 of the lane
	c.PAND(load(k.mask1), v)
	c.PMULLW(load(k.mul1), v) // groups 2 and 4 in bytes 1 and 3
	c.POR(hi, v)              // the lane's four indices, in order
	class := c.XMM()
	c.MOVO(v, class)
	c.PSUBUSB(load(k.sat51), class)
	low := load(k.lt26)
	c.PCMPGTB(v, low) // 0xff where the index is below 26
	c.PAND(load(k.thirteen), low)
	c.POR(low, class)
	offsets := load(k.offsets)
	c.PSHUFB(class, offsets)
	c.PADDB(offsets, v)
}
