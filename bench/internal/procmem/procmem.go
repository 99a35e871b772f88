// Package procmem reads what the kernel counts of this process's memory,
// for the memory measurements in bench/cmd.
package procmem

import (
	"os"
	"strconv"
	"strings"
)

// Resident returns the process's resident memory (VmRSS), 0 if
// /proc/self/status cannot be read.
func Resident() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
