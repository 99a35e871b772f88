// Command _asm generates ../mask_amd64.s, the SIMD kernels behind
// wsmem.Mask and maskCopy on amd64; with -file accept
// ../accept_amd64.s, the SHA-1 of the handshake's accept value (accept.go
// in this directory); and with -file ctlmask ../ctlmask_amd64.s, the
// control-byte map of the handshake's line scanner (ctlmask.go).
//
// Run it from this directory:
//
//	go run . -out ../mask_amd64.s
//	go run . -file accept -out ../accept_amd64.s
//	go run . -file ctlmask -out ../ctlmask_amd64.s
//
// Without -out it writes the assembly to standard output, which is how the
// asm-check make recipe compares a fresh run with the committed file. The
// output depends on nothing but this source (no paths, no dates), so the
// comparison is exact.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/pass"
	"github.com/mmcloughlin/avo/printer"
	"github.com/mmcloughlin/avo/reg"
)

// fileDoc is spliced in under the "Code generated" line of the output.
var fileDoc = []string{
	"WebSocket payload masking kernels (RFC 6455 section 5.3) for amd64.",
	"",
	"Why assembly: the Go compiler does not vectorise the XOR loop, and the",
	"word-at-a-time Go version (mask_generic.go) moves 8 bytes per step where",
	"these move 16, 32 or 64. Masking sits on the path of every frame a client",
	"sends and a server reads, so it should run near memcpy speed.",
	"",
	"What would replace it: the simd/archsimd package once it is stable (it is",
	"experimental behind GOEXPERIMENT=simd in Go 1.26). The kernels are a",
	"broadcast, a load-XOR-store loop, two overlapping end vectors and, for",
	"short payloads, a chain of pieces, which that API expresses directly;",
	"this file and _asm/ can then be deleted.",
	"",
	"Go calls one function, maskAsm, which jumps to a kernel by level and",
	"length. Every kernel takes the key as a little-endian word (key[0] in",
	"the low byte) and the phase pos of src[0], and rotates it in a register:",
	"a variable-count rotate of the key doubled to 64 bits.",
	"",
	"Short kernels (n < 2W) mask n in pieces that never overlap, one per",
	"binary digit of n, which keeps store-to-load forwarding working when one",
	"buffer is masked again and again.",
	"",
	"Long kernels (n >= 2W):",
	"  - the middle is masked from src[head] on, head = -dst mod W, so the",
	"    stores are W-byte aligned;",
	"  - the first and the last W bytes are loaded before anything is stored",
	"    and stored last, so the vectors that overlap them never XOR a byte",
	"    twice nor read a byte already overwritten;",
	"  - the middle is loaded before it is stored, walking forwards, so",
	"    dst == src and dst starting below src (dst = src - k, k > 0) are safe.",
}

// vecISA describes how one instruction set loads, XORs and stores a vector.
type vecISA struct {
	name  string                // Go function name of the long kernel
	short string                // Go function name of the short kernel (n < 2*width)
	doc   string                // one-line description
	width int                   // vector width in bytes
	alloc func() reg.VecVirtual // allocates a vector register
	// bcast returns a vector holding the low 8 bytes of r in every lane.
	bcast func(c *build.Context, r reg.GPVirtual) reg.VecVirtual
	// xorLoad sets v = mem XOR key.
	xorLoad func(c *build.Context, m operand.Mem, key, v reg.VecVirtual)
	store   func(c *build.Context, v reg.VecVirtual, m operand.Mem)
	vzero   bool // emit VZEROUPPER before returning
}

// main builds the masking dispatcher and kernels, or with -file accept the
// accept kernel, and writes the assembly to -out or standard output.
//
// Cost: well under a second; run only to regenerate or check the file.
func main() {
	// avo's build package registers its own flags on flag.CommandLine, so
	// this command parses a private set.
	fs := flag.NewFlagSet("_asm", flag.ExitOnError)
	out := fs.String("out", "", "write the assembly to this file instead of standard output")
	file := fs.String("file", "mask", "the file to generate: mask (mask_amd64.s), accept (accept_amd64.s) or ctlmask (ctlmask_amd64.s)")
	_ = fs.Parse(os.Args[1:])

	c := build.NewContext()
	c.ConstraintExpr("!purego")

	doc := fileDoc
	switch *file {
	case "mask":
		all := isas(c)
		dispatcher(c, all)
		for _, isa := range all {
			kernel(c, isa)
		}
		for _, isa := range all {
			shortKernel(c, isa)
		}
		tinyKernel(c)
	case "accept":
		acceptKernel(c)
		cpuidKernel(c)
		doc = acceptDoc
	case "ctlmask":
		ctlMapKernel(c)
		doc = ctlMaskDoc
	default:
		log.Fatalf("unknown -file %q: want mask, accept or ctlmask", *file)
	}

	var buf bytes.Buffer
	cfg := &build.Config{
		ErrOut:    os.Stderr,
		MaxErrors: 0,
		Passes: []pass.Interface{
			pass.Compile,
			&pass.Output{
				Writer:  nopCloser{&buf},
				Printer: printer.NewGoAsm(printer.Config{Name: "_asm/main.go via avo", Pkg: "wsmem"}),
			},
		},
	}
	if build.Main(cfg, c) != 0 {
		os.Exit(1)
	}

	src := spliceDoc(buf.Bytes(), doc)
	if *out == "" {
		if _, err := os.Stdout.Write(src); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// isas lists the kernels to generate, narrowest first.
//
// Cost: builds a three-element table.
func isas(c *build.Context) []vecISA {
	return []vecISA{
		{
			name:  "maskSSE2",
			short: "maskShortSSE2",
			doc:   "16-byte vectors, 64 bytes per loop iteration (SSE2, the amd64 baseline)",
			width: 16,
			alloc: func() reg.VecVirtual { return c.XMM() },
			bcast: broadcastXMM,
			xorLoad: func(c *build.Context, m operand.Mem, key, v reg.VecVirtual) {
				// Legacy SSE memory operands must be aligned, so load first.
				c.MOVOU(m, v)
				c.PXOR(key, v)
			},
			store: func(c *build.Context, v reg.VecVirtual, m operand.Mem) { c.MOVOU(v, m) },
		},
		{
			name:  "maskAVX2",
			short: "maskShortAVX2",
			doc:   "32-byte vectors, 128 bytes per loop iteration (AVX2)",
			width: 32,
			alloc: func() reg.VecVirtual { return c.YMM() },
			bcast: func(c *build.Context, r reg.GPVirtual) reg.VecVirtual {
				// VMOVQ, not MOVQ: a legacy SSE instruction after a
				// 256-bit one (the kernel broadcasts three keys) costs
				// about 700 cycles on some CPUs (an AMD EPYC with AVX2
				// but no AVX-512 here: 230 ns a call against 10).
				x, y := c.XMM(), c.YMM()
				c.VMOVQ(r, x)
				c.VPBROADCASTQ(x, y)
				return y
			},
			xorLoad: func(c *build.Context, m operand.Mem, key, v reg.VecVirtual) {
				c.VPXOR(m, key, v)
			},
			store: func(c *build.Context, v reg.VecVirtual, m operand.Mem) { c.VMOVDQU(v, m) },
			vzero: true,
		},
		{
			name:  "maskAVX512",
			short: "maskShortAVX512",
			doc:   "64-byte vectors, 256 bytes per loop iteration (AVX-512F)",
			width: 64,
			alloc: func() reg.VecVirtual { return c.ZMM() },
			bcast: func(c *build.Context, r reg.GPVirtual) reg.VecVirtual {
				z := c.ZMM()
				c.VPBROADCASTQ(r, z)
				return z
			},
			xorLoad: func(c *build.Context, m operand.Mem, key, v reg.VecVirtual) {
				c.VPXORD(m, key, v)
			},
			store: func(c *build.Context, v reg.VecVirtual, m operand.Mem) { c.VMOVDQU64(v, m) },
			vzero: true,
		},
	}
}

// broadcastXMM emits the SSE2 broadcast of the 64-bit word in r to both
// halves of a new XMM register, and returns that register.
//
// Cost (of the emitted code): a move and an unpack.
func broadcastXMM(c *build.Context, r reg.GPVirtual) reg.VecVirtual {
	v := c.XMM()
	c.MOVQ(r, v)
	c.PUNPCKLQDQ(v, v)
	return v
}

// unroll is the number of vectors the main loop handles per iteration.
const unroll = 4

// kernelSig is the Go signature every kernel shares: key is the masking key
// as a little-endian word (key[0] in the low byte) and pos the key phase of
// src[0] (only pos&3 counts). The kernels rotate the key themselves, in a
// register; loading the rotated key from a byte offset of a doubled key in
// memory would defeat store-to-load forwarding of the argument just written
// (measured: about 2.5 ns more per call on this CPU).
const kernelSig = "func(dst, src []byte, key uint32, pos int)"

// dispatcher emits maskAsm, the one function Go calls: it jumps to
// maskTiny up to tinyMax bytes, else to the widest level that maskLevel allows, to that level's short kernel below two
// vectors and to its long kernel from there, having stored the phase after
// the last byte as its result. The kernels read the same first five
// arguments.
//
// Cost (of the emitted code): two loads, at most four compares, two jumps.
func dispatcher(c *build.Context, isas []vecISA) {
	c.Function("maskAsm")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr("func(dst, src []byte, key uint32, pos int) (next int)")
	c.Comment(
		"Stores the next phase, then jumps to maskTiny up to 32 bytes, else to the",
		"kernels of the widest level (1: SSE2, 2: AVX2, 3: AVX-512) that is <=",
		"maskLevel: the short one below two vectors, else the long one.",
	)
	n := c.Load(c.Param("src").Len(), c.GP64())
	next := c.GP64()
	c.Load(c.Param("pos"), next)
	c.ADDQ(n, next)
	c.ANDQ(operand.U8(3), next)
	c.Store(next, c.ReturnIndex(0))
	c.CMPQ(n, operand.U8(tinyMax))
	c.JBE(operand.LabelRef(tinyName + "_jmp"))
	level := c.GP64()
	c.MOVQ(operand.NewDataAddr(operand.Symbol{Name: "\u00b7maskLevel"}, 0), level)
	for i := len(isas) - 1; i >= 0; i-- {
		isa := isas[i]
		narrower := "maskAsm_no" + strings.TrimPrefix(isa.name, "mask")
		if i > 0 {
			c.CMPQ(level, operand.U32(i+1))
			c.JB(operand.LabelRef(narrower))
		}
		c.CMPQ(n, operand.U32(2*isa.width))
		c.JB(operand.LabelRef(isa.short + "_jmp"))
		tailJump(c, isa.name)
		if i > 0 {
			c.Label(narrower)
		}
	}
	for _, isa := range isas {
		c.Label(isa.short + "_jmp")
		tailJump(c, isa.short)
	}
	c.Label(tinyName + "_jmp")
	tailJump(c, tinyName)
}

// keyAt emits the code that returns a register holding the key at phase
// 8*count bits in (count in CX, any multiple of 8 bits): key64 is the key
// doubled to 64 bits, so rotating it right by count bits leaves the rotated
// 4-byte key in both halves.
//
// Cost (of the emitted code): a move and a rotate.
func keyAt(c *build.Context, key64 reg.GPVirtual) reg.GPVirtual {
	k := c.GP64()
	c.MOVQ(key64, k)
	c.RORQ(reg.CL, k)
	return k
}

// loadKey64 emits the code that loads the key argument and doubles it to 64
// bits.
//
// Cost (of the emitted code): a load, a move, a shift and an OR.
func loadKey64(c *build.Context) reg.GPVirtual {
	k := c.GP64()
	c.Load(c.Param("key"), k.As32())
	hi := c.GP64()
	c.MOVQ(k, hi)
	c.SHLQ(operand.U8(32), hi)
	c.ORQ(hi, k)
	return k
}

// tailJump emits JMP ·name(SB): a tail call into another function of this
// package that takes the same arguments. avo's JMP only knows labels, so the
// instruction is built by hand and marked terminal, like RET.
//
// Cost (of the emitted code): one direct jump.
func tailJump(c *build.Context, name string) {
	c.Instruction(&ir.Instruction{
		Opcode:     "JMP",
		Operands:   []operand.Op{operand.Mem{Symbol: operand.Symbol{Name: "\u00b7" + name}, Base: reg.StaticBase}},
		IsTerminal: true,
	})
}

// kernel emits one long masking kernel (n >= 2W). It masks the first and
// the last vector of the buffer up front (unaligned), then the bytes
// between in vectors that start head bytes in, where head (0 <= head < W)
// brings the stores to a W-byte boundary of dst. The first and last vectors
// are stored at the very end, over the middle's overlapping bytes, with the
// same values. It needs the key at three phases: that of src[0], that of
// the aligned middle (any 4-byte-aligned address of dst: pos - dst) and
// that of the last vector, which starts a multiple of 4 before the end
// (pos + n).
//
// Cost (of the emitted code): about 30 instructions of set-up, then one
// load-XOR and one store per vector.
func kernel(c *build.Context, isa vecISA) {
	w := isa.width
	step := w * unroll

	c.Function(isa.name)
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr(kernelSig)
	c.Comment(fmt.Sprintf("Masks n >= %d bytes: %s.", 2*w, isa.doc))

	dst := c.Load(c.Param("dst").Base(), c.GP64())
	src := c.Load(c.Param("src").Base(), c.GP64())
	n := c.Load(c.Param("src").Len(), c.GP64())
	key64 := loadKey64(c)

	c.Comment("The key at the phases of src[0], of the aligned middle and of the last vector.")
	c.Load(c.Param("pos"), reg.RCX)
	c.SHLQ(operand.U8(3), reg.RCX)
	firstKey := isa.bcast(c, keyAt(c, key64))
	c.Load(c.Param("pos"), reg.RCX)
	c.SUBQ(dst, reg.RCX)
	c.SHLQ(operand.U8(3), reg.RCX)
	key := isa.bcast(c, keyAt(c, key64))
	c.Load(c.Param("pos"), reg.RCX)
	c.ADDQ(n, reg.RCX)
	c.SHLQ(operand.U8(3), reg.RCX)
	endKey := isa.bcast(c, keyAt(c, key64))

	c.Comment("Mask the first and last vectors while src is untouched; store them last.")
	first := isa.alloc()
	isa.xorLoad(c, operand.Mem{Base: src}, firstKey, first)
	last := isa.alloc()
	isa.xorLoad(c, operand.Mem{Base: src, Index: n, Scale: 1, Disp: -w}, endKey, last)
	firstDst := c.GP64()
	c.MOVQ(dst, firstDst)
	lastDst := c.GP64()
	c.LEAQ(operand.Mem{Base: dst, Index: n, Scale: 1, Disp: -w}, lastDst)

	c.Comment(fmt.Sprintf("Skip head = -dst & %d bytes (inside the first vector) to align the stores.", w-1))
	head := c.GP64()
	c.MOVQ(dst, head)
	c.NEGQ(head)
	c.ANDQ(operand.U8(w-1), head)
	c.ADDQ(head, src)
	c.ADDQ(head, dst)
	c.SUBQ(head, n)

	c.Comment(fmt.Sprintf("Main loop: %d vectors per iteration while at least %d bytes remain.", unroll, step))
	c.SUBQ(operand.U32(step), n)
	c.JB(operand.LabelRef(isa.name + "_rest"))
	c.Label(isa.name + "_loop")
	vs := make([]reg.VecVirtual, unroll)
	for i := range vs {
		vs[i] = isa.alloc()
		isa.xorLoad(c, operand.Mem{Base: src, Disp: i * w}, key, vs[i])
	}
	for i := range vs {
		isa.store(c, vs[i], operand.Mem{Base: dst, Disp: i * w})
	}
	c.ADDQ(operand.U32(step), src)
	c.ADDQ(operand.U32(step), dst)
	c.SUBQ(operand.U32(step), n)
	c.JAE(operand.LabelRef(isa.name + "_loop"))

	c.Label(isa.name + "_rest")
	c.Comment(
		fmt.Sprintf("Fewer than %d bytes remain: whole vectors until the last vector covers the rest.", step),
	)
	c.ADDQ(operand.U32(step), n)
	for i := 0; i < unroll-1; i++ {
		c.CMPQ(n, operand.U32((i+1)*w))
		c.JLE(operand.LabelRef(isa.name + "_ends"))
		v := isa.alloc()
		isa.xorLoad(c, operand.Mem{Base: src, Disp: i * w}, key, v)
		isa.store(c, v, operand.Mem{Base: dst, Disp: i * w})
	}

	c.Label(isa.name + "_ends")
	isa.store(c, first, operand.Mem{Base: firstDst})
	isa.store(c, last, operand.Mem{Base: lastDst})
	if isa.vzero {
		c.VZEROUPPER()
	}
	c.RET()
}

// shortKernel emits isa.short, which masks 0 <= n < 2W bytes by splitting
// n into its binary digits: one W-byte vector if n >= W, then a piece of
// each smaller power of two down to 16 bytes (vectors) and 8, 4, 2 and 1
// (a general register) for each bit of n that is set, walking forwards. No
// two pieces overlap and every piece has the width and address of the piece
// that covers the same bytes on the next call with the same n, so
// re-masking one buffer (and masking bytes just written) keeps every load
// forwarded from the store before it; overlapping end vectors, as the long
// kernels use, defeat store-to-load forwarding and cost about 1.5 ns more
// per call at these sizes. Every piece up to the 2-byte one starts a
// multiple of 4 bytes in, so the key at the phase of src[0] fits it; the
// last byte takes that key shifted by 16 bits if a 2-byte piece went before.
//
// Cost (of the emitted code): about 5 instructions per piece, at most 7
// pieces, no loop.
func shortKernel(c *build.Context, isa vecISA) {
	splitKernel(c, isa.short, isa.width, &isa)
}

// tinyName is the kernel for payloads of up to tinyMax bytes, on every
// level.
const tinyName = "maskTiny"

// tinyMax is the longest payload maskAsm sends to maskTiny.
const tinyMax = 32

// tinyKernel emits maskTiny, which masks 0 <= n < 64 bytes the way the
// short kernels do (32, 16, 8, 4, 2 and 1 bytes as the bits of n ask)
// through general registers only: no vector to broadcast the key into and
// no VZEROUPPER, the fixed costs that dominate up to tinyMax bytes, which
// is all the dispatcher sends it.
//
// Cost (of the emitted code): about 5 instructions per 8-byte word or
// smaller piece.
func tinyKernel(c *build.Context) {
	splitKernel(c, tinyName, 32, nil)
}

// splitKernel emits the kernel name, masking 0 <= n < 2*top bytes in
// pieces, one per binary digit of n (see shortKernel); isa gives the
// vector instructions for pieces of 16 bytes and more, or is nil to mask
// every piece through general registers, 8 bytes at a time.
//
// Cost (of the emitted code): about 5 instructions per piece.
func splitKernel(c *build.Context, name string, top int, isa *vecISA) {
	c.Function(name)
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr(kernelSig)
	c.Comment(fmt.Sprintf("Masks 0 <= n < %d bytes in non-overlapping pieces: the binary digits of n.", 2*top))
	dst := c.Load(c.Param("dst").Base(), c.GP64())
	src := c.Load(c.Param("src").Base(), c.GP64())
	n := c.Load(c.Param("src").Len(), c.GP64())
	key64 := loadKey64(c)
	c.Load(c.Param("pos"), reg.RCX)
	c.SHLQ(operand.U8(3), reg.RCX)
	k64 := keyAt(c, key64)
	var key reg.VecVirtual
	if isa != nil {
		key = isa.bcast(c, k64)
	}
	i := c.GP64()
	c.XORL(i.As32(), i.As32())
	at := func(base reg.Register) operand.Mem { return operand.Mem{Base: base, Index: i, Scale: 1} }
	for w := top; w >= 1; w /= 2 {
		skip := fmt.Sprintf("%s_no%d", name, w)
		c.TESTQ(operand.U32(w), n)
		c.JZ(operand.LabelRef(skip))
		switch {
		case isa != nil && w == top:
			v := isa.alloc()
			isa.xorLoad(c, at(src), key, v)
			isa.store(c, v, at(dst))
		case isa != nil && w == 32:
			v := c.YMM()
			c.VPXOR(at(src), key.AsY(), v)
			c.VMOVDQU(v, at(dst))
		case isa != nil && w == 16:
			v := c.XMM()
			c.VPXOR(at(src), key.AsX(), v)
			c.VMOVDQU(v, at(dst))
		case w >= 8: // w/8 words, each loaded, XORed and stored in turn
			for j := 0; j < w; j += 8 {
				t := c.GP64()
				m := at(src)
				m.Disp = j
				c.MOVQ(m, t)
				c.XORQ(k64, t)
				m = at(dst)
				m.Disp = j
				c.MOVQ(t, m)
			}
		case w == 4:
			t := c.GP32()
			c.MOVL(at(src), t)
			c.XORL(k64.As32(), t)
			c.MOVL(t, at(dst))
		case w == 2:
			t := c.GP16()
			c.MOVW(at(src), t)
			c.XORW(k64.As16(), t)
			c.MOVW(t, at(dst))
			c.SHRQ(operand.U8(16), k64) // the key at the phase of the next byte
		case w == 1:
			t := c.GP8()
			c.MOVB(at(src), t)
			c.XORB(k64.As8(), t)
			c.MOVB(t, at(dst))
		}
		if w > 1 {
			c.ADDQ(operand.U8(w), i)
		}
		c.Label(skip)
	}
	if isa != nil && isa.vzero {
		c.VZEROUPPER()
	}
	c.RET()
}

// spliceDoc inserts doc as comment lines after the first line of the
// generated assembly (the "Code generated ... DO NOT EDIT." line).
//
// Cost: one copy of the output.
func spliceDoc(src []byte, doc []string) []byte {
	first, rest, _ := bytes.Cut(src, []byte("\n"))
	var b bytes.Buffer
	b.Write(first)
	b.WriteString("\n\n")
	for _, l := range doc {
		b.WriteString(strings.TrimRight("// "+l, " "))
		b.WriteByte('\n')
	}
	b.Write(rest)
	return b.Bytes()
}

// nopCloser lets a bytes.Buffer serve as avo's output writer.
type nopCloser struct{ *bytes.Buffer }

// Close does nothing: the buffer needs no closing.
//
// Cost: none.
func (nopCloser) Close() error { return nil }
