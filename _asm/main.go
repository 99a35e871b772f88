// Command _asm generates ../mask_amd64.s, the SIMD kernels behind
// wsmem.Mask and maskCopy on amd64, and with -file accept
// ../accept_amd64.s, the SHA-1 of the handshake's accept value (accept.go
// in this directory).
//
// Run it from this directory:
//
//	go run . -out ../mask_amd64.s
//	go run . -file accept -out ../accept_amd64.s
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
	"broadcast, a load-XOR-store loop and two overlapping end vectors, which",
	"that API expresses directly; this file and _asm/ can then be deleted.",
	"",
	"maskShortAVX512 (up to 128 bytes on the AVX-512 level) takes only dst,",
	"src, n and key: byte-masked vectors (AVX-512BW) cover exactly n bytes.",
	"",
	"Contract shared by the other kernels (maskBytes and maskSIMD uphold it):",
	"  - n >= the vector width W, dst and src hold n bytes each;",
	"  - key is the 4-byte key already rotated to the phase of src[0],",
	"    alignedKey to the first 4-byte-aligned address of dst, endKey to the",
	"    phase after the last byte; all as little-endian words;",
	"  - the middle is masked from src[head] on, head = -dst mod W, so the",
	"    stores are W-byte aligned; its phase is that of alignedKey;",
	"  - the first and the last W bytes are loaded before anything is stored",
	"    and stored last, so the vectors that overlap them never XOR a byte",
	"    twice nor read a byte already overwritten;",
	"  - the middle is loaded before it is stored, walking forwards, so",
	"    dst == src and dst starting below src (dst = src - k, k > 0) are safe.",
}

// vecISA describes how one instruction set loads, XORs and stores a vector.
type vecISA struct {
	name  string // Go function name
	doc   string // one-line description
	width int    // vector width in bytes
	// minLen is the shortest n the dispatcher sends here (at least width).
	minLen int
	alloc  func() reg.VecVirtual                                // allocates a vector register
	bcast  func(c *build.Context, m operand.Mem) reg.VecVirtual // broadcasts 4 bytes from memory
	// xorLoad sets v = mem XOR key.
	xorLoad func(c *build.Context, m operand.Mem, key, v reg.VecVirtual)
	store   func(c *build.Context, v reg.VecVirtual, m operand.Mem)
	vzero   bool // emit VZEROUPPER before returning
}

// main builds the dispatcher and the three kernels and writes the assembly
// to -out or standard output.
//
// Cost: well under a second; run only to regenerate or check the file.
func main() {
	// avo's build package registers its own flags on flag.CommandLine, so
	// this command parses a private set.
	fs := flag.NewFlagSet("_asm", flag.ExitOnError)
	out := fs.String("out", "", "write the assembly to this file instead of standard output")
	file := fs.String("file", "mask", "the file to generate: mask (mask_amd64.s) or accept (accept_amd64.s)")
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
		shortKernel(c)
	case "accept":
		acceptKernel(c)
		cpuidKernel(c)
		doc = acceptDoc
	default:
		log.Fatalf("unknown -file %q: want mask or accept", *file)
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
			name:   "maskSSE2",
			doc:    "16-byte vectors, 64 bytes per loop iteration (SSE2, the amd64 baseline)",
			width:  16,
			minLen: 16,
			alloc:  func() reg.VecVirtual { return c.XMM() },
			bcast: func(c *build.Context, m operand.Mem) reg.VecVirtual {
				v := c.XMM()
				c.MOVSS(m, v) // a 4-byte load; Go's MOVD would load 8
				c.PSHUFL(operand.U8(0), v, v)
				return v
			},
			xorLoad: func(c *build.Context, m operand.Mem, key, v reg.VecVirtual) {
				// Legacy SSE memory operands must be aligned, so load first.
				c.MOVOU(m, v)
				c.PXOR(key, v)
			},
			store: func(c *build.Context, v reg.VecVirtual, m operand.Mem) { c.MOVOU(v, m) },
		},
		{
			name:   "maskAVX2",
			doc:    "32-byte vectors, 128 bytes per loop iteration (AVX2)",
			width:  32,
			minLen: 32,
			alloc:  func() reg.VecVirtual { return c.YMM() },
			bcast: func(c *build.Context, m operand.Mem) reg.VecVirtual {
				y := c.YMM()
				c.VBROADCASTSS(m, y) // same bits as VPBROADCASTD; vet sizes it right
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
			doc:   "64-byte vectors, 256 bytes per loop iteration (AVX-512F)",
			width: 64,
			// Up to shortMax bytes the dispatcher sends the AVX-512 level to
			// maskShortAVX512 instead: its byte-masked vectors need no
			// overlapping ends, which, re-masking one buffer in place, defeat
			// store forwarding.
			minLen: shortMax + 1,
			alloc:  func() reg.VecVirtual { return c.ZMM() },
			bcast: func(c *build.Context, m operand.Mem) reg.VecVirtual {
				z := c.ZMM()
				c.VBROADCASTSS(m, z)
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

// unroll is the number of vectors the main loop handles per iteration.
const unroll = 4

// kernelSig is the Go signature every kernel shares. key is the masking key
// as a little-endian word rotated to the phase of src[0]; alignedKey is the
// key at the first 4-byte-aligned address of dst and endKey the key at the
// phase after the last byte. The Go side rotates them: it is a few
// instructions there, while loading one key word at a byte offset here
// would defeat store-to-load forwarding of the argument just written
// (measured: about 2.5 ns more per call on this CPU).
const kernelSig = "func(dst, src *byte, n int, key, alignedKey, endKey uint32)"

// dispatcher emits maskVec, the one entry point Go calls: it jumps to the
// widest kernel that level allows and whose minLen n reaches, keeping the
// Go side to a single call. Every kernel reads the same first six arguments.
//
// Cost (of the emitted code): two loads, at most four compares, two jumps.
func dispatcher(c *build.Context, isas []vecISA) {
	c.Function("maskVec")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr("func(dst, src *byte, n int, key, alignedKey, endKey uint32, level int)")
	c.Comment(
		"Jumps to the widest kernel whose level (1: SSE2, 2: AVX2, 3: AVX-512)",
		"is <= level and whose minimum length is <= n; n >= 16. On the AVX-512",
		"level that is maskShortAVX512 up to its maximum, which reads only the",
		"first four arguments.",
	)
	n := c.Load(c.Param("n"), c.GP64())
	level := c.Load(c.Param("level"), c.GP64())
	top := len(isas) - 1
	c.CMPQ(level, operand.U32(top+1))
	c.JB(operand.LabelRef("maskVec_no" + strings.TrimPrefix(isas[top].name, "mask")))
	c.Comment("The AVX-512 level: the short kernel up to its maximum, else the long one.")
	c.CMPQ(n, operand.U32(shortMax))
	c.JA(operand.LabelRef(isas[top].name + "_jmp"))
	tailJump(c, "maskShortAVX512")
	for i := top; i > 0; i-- {
		next := "maskVec_no" + strings.TrimPrefix(isas[i].name, "mask")
		if i < top {
			c.CMPQ(level, operand.U32(i+1))
			c.JB(operand.LabelRef(next))
			c.CMPQ(n, operand.U32(isas[i].minLen))
			c.JAE(operand.LabelRef(isas[i].name + "_jmp"))
		}
		c.Label(next)
	}
	tailJump(c, isas[0].name)
	for i := top; i > 0; i-- {
		c.Label(isas[i].name + "_jmp")
		tailJump(c, isas[i].name)
	}
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

// kernel emits one masking kernel. It masks the first and the last vector of
// the buffer up front (unaligned), then the bytes between in vectors that
// start head bytes in, where head (0 <= head < W) brings the stores to a
// W-byte boundary of dst. The first and last vectors are stored at the very
// end, over the middle's overlapping bytes, with the same values.
//
// Cost (of the emitted code): about 20 instructions of set-up, then one
// load-XOR and one store per vector.
func kernel(c *build.Context, isa vecISA) {
	w := isa.width
	step := w * unroll

	c.Function(isa.name)
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr(kernelSig)
	c.Comment(fmt.Sprintf("Masks n >= %d bytes: %s.", w, isa.doc))

	dst := c.Load(c.Param("dst"), c.GP64())
	src := c.Load(c.Param("src"), c.GP64())
	n := c.Load(c.Param("n"), c.GP64())
	// bcastArg broadcasts the named uint32 argument straight from the frame.
	bcastArg := func(name string) reg.VecVirtual {
		b, err := c.Param(name).Resolve()
		if err != nil {
			log.Fatal(err)
		}
		return isa.bcast(c, b.Addr)
	}

	c.Comment("Mask the first and last vectors while src is untouched; store them last.")
	first := isa.alloc()
	isa.xorLoad(c, operand.Mem{Base: src}, bcastArg("key"), first)
	last := isa.alloc()
	// It starts n-W bytes in, a multiple of 4 before the end: endKey fits.
	isa.xorLoad(c, operand.Mem{Base: src, Index: n, Scale: 1, Disp: -w}, bcastArg("endKey"), last)
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
	key := bcastArg("alignedKey") // dst+head is W-aligned, so 4-aligned

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

// shortMax is the longest payload maskShortAVX512 takes: two 64-byte
// vectors, the second one masked to the length.
const shortMax = 128

// shortKernel emits maskShortAVX512, which masks 1..shortMax bytes with
// AVX-512BW byte-masked loads and stores: a K register holding one bit per
// byte of the last (or only) vector lets it load, XOR and store exactly n
// bytes with no scalar tail, no overlapping vectors and no alignment step.
// Every vector starts a multiple of 64 bytes in, so all take key as it is.
//
// Cost (of the emitted code): about 12 instructions for up to 64 bytes,
// 16 for up to 128.
func shortKernel(c *build.Context) {
	c.Function("maskShortAVX512")
	c.Attributes(attr.NOSPLIT | attr.NOFRAME)
	c.SignatureExpr("func(dst, src *byte, n int, key uint32)")
	c.Comment(fmt.Sprintf("Masks 1 <= n <= %d bytes with byte-masked 64-byte vectors (AVX-512BW).", shortMax))
	dst := c.Load(c.Param("dst"), c.GP64())
	src := c.Load(c.Param("src"), c.GP64())
	n := c.Load(c.Param("n"), c.GP64())
	b, err := c.Param("key").Resolve()
	if err != nil {
		log.Fatal(err)
	}
	key := c.ZMM()
	c.VBROADCASTSS(b.Addr, key)
	ones := c.GP64()
	c.MOVQ(operand.I32(-1), ones)
	c.CMPQ(n, operand.U8(64))
	c.JA(operand.LabelRef("maskShortAVX512_two"))

	c.Comment("n <= 64: bits 0..n-1 of K1 select the bytes (BZHI keeps all 64 when n = 64).")
	bits := c.GP64()
	c.BZHIQ(n, ones, bits)
	k := c.K()
	c.KMOVQ(bits, k)
	v := c.ZMM()
	c.VMOVDQU8_Z(operand.Mem{Base: src}, k, v)
	c.VPXORD(key, v, v)
	c.VMOVDQU8(v, k, operand.Mem{Base: dst})
	c.VZEROUPPER()
	c.RET()

	c.Label("maskShortAVX512_two")
	c.Comment("64 < n <= 128: a whole vector, then n-64 bytes; both loaded before either is stored.")
	c.SUBQ(operand.U8(64), n)
	bits2 := c.GP64()
	c.BZHIQ(n, ones, bits2)
	k2 := c.K()
	c.KMOVQ(bits2, k2)
	v0, v1 := c.ZMM(), c.ZMM()
	c.VPXORD(operand.Mem{Base: src}, key, v0)
	c.VMOVDQU8_Z(operand.Mem{Base: src, Disp: 64}, k2, v1)
	c.VPXORD(key, v1, v1)
	c.VMOVDQU64(v0, operand.Mem{Base: dst})
	c.VMOVDQU8(v1, k2, operand.Mem{Base: dst, Disp: 64})
	c.VZEROUPPER()
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
