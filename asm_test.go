package wsmem

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAsmNoLegacySSEInWideKernels reads the generated assembly
// (*_amd64.s) and fails if a function that uses 256- or 512-bit registers
// also runs a legacy (non-VEX) SSE instruction on an XMM register. After a
// 256-bit instruction has dirtied the registers' upper halves, such an
// instruction costs a state transition: on an AMD EPYC with AVX2 and
// without AVX-512, one MOVQ into X1 made every call of maskAVX2 take
// 230 ns instead of 10. Such functions must use the VEX forms (VMOVQ,
// VPXOR, ...), and end with VZEROUPPER.
//
// Cost: reads a few assembly files.
func TestAsmNoLegacySSEInWideKernels(t *testing.T) {
	files, err := filepath.Glob("*_amd64.s")
	if err != nil || len(files) == 0 {
		t.Fatalf("no *_amd64.s files: %v", err)
	}
	wide := regexp.MustCompile(`\b[YZ](\d|1\d|2\d|3[01])\b`)
	xmm := regexp.MustCompile(`\bX(\d|1\d|2\d|3[01])\b`)
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, fn := range strings.Split(string(src), "\nTEXT ")[1:] {
			name, _, _ := strings.Cut(fn, "(")
			if !wide.MatchString(fn) {
				continue
			}
			for _, line := range strings.Split(fn, "\n")[1:] {
				fields := strings.Fields(line)
				if len(fields) < 2 || strings.HasPrefix(fields[0], "//") || strings.HasSuffix(fields[0], ":") {
					continue
				}
				if op := fields[0]; !strings.HasPrefix(op, "V") && xmm.MatchString(strings.Join(fields[1:], " ")) {
					t.Errorf("%s: %s uses 256/512-bit registers and the legacy SSE %q", file, name, strings.TrimSpace(line))
				}
			}
			if !strings.Contains(fn, "VZEROUPPER") {
				t.Errorf("%s: %s uses 256/512-bit registers without VZEROUPPER", file, name)
			}
		}
	}
}
