// Command benchratio reads benchstat's CSV output (benchstat -format csv
// -col /lib ...) on standard input and prints, for every row of every
// sec/op table, wsmem's median time divided by the fastest peer's: below 1
// wsmem is faster. Columns named in -skip (the copy() baseline) are not
// peers.
package main

import (
	"bufio"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

func main() {
	self := flag.String("lib", "wsmem", "the library compared with the others")
	skip := flag.String("skip", "copy", "comma-separated columns that are baselines, not peers")
	unit := flag.String("unit", "sec/op", "the table to read")
	flag.Parse()
	skipped := map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		skipped[s] = true
	}
	if err := run(os.Stdin, os.Stdout, *self, *unit, skipped); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// table is one benchstat table: lib names by column, and its unit.
type table struct {
	libs map[int]string
	unit string
}

func run(in io.Reader, out io.Writer, self, unit string, skipped map[string]bool) error {
	// benchstat separates tables with blank lines, which encoding/csv
	// skips, so tables are found by their two header lines.
	r := csv.NewReader(bufio.NewReader(in))
	r.FieldsPerRecord = -1
	w := bufio.NewWriter(out)
	defer w.Flush()
	fmt.Fprintf(w, "%-44s %12s  %-8s %12s  %s\n", "benchmark", self, "fastest", "its time", self+"/fastest")
	var cur *table
	var pending map[int]string // lib header seen, waiting for the unit line
	rows, slower := 0, 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(rec) == 0 || rec[0] == "" {
			// A header line: libs, or units.
			if pending == nil {
				pending = map[int]string{}
				for i, f := range rec {
					if f != "" {
						pending[i] = f
					}
				}
				continue
			}
			u := ""
			for i := range pending {
				if i < len(rec) {
					u = rec[i]
					break
				}
			}
			cur = &table{libs: pending, unit: u}
			pending = nil
			continue
		}
		pending = nil
		if cur == nil || cur.unit != unit || rec[0] == "geomean" {
			continue
		}
		name := strings.TrimSuffix(rec[0], suffix(rec[0]))
		mine, best, bestLib := math.NaN(), math.Inf(1), ""
		for i, lib := range cur.libs {
			if i >= len(rec) || rec[i] == "" {
				continue
			}
			v, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				continue
			}
			switch {
			case lib == self:
				mine = v
			case skipped[lib]:
			case v < best:
				best, bestLib = v, lib
			}
		}
		if math.IsNaN(mine) || bestLib == "" {
			continue
		}
		ratio := mine / best
		mark := ""
		if ratio > 1.05 {
			mark = "  <- slower"
			slower++
		}
		rows++
		fmt.Fprintf(w, "%-44s %12s  %-8s %12s  %6.2fx%s\n", name, dur(mine), bestLib, dur(best), ratio, mark)
	}
	fmt.Fprintf(w, "%d rows; %s is more than 5%% slower than the fastest peer in %d\n", rows, self, slower)
	return nil
}

// suffix returns the -GOMAXPROCS suffix of a benchmark name, if any.
func suffix(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return ""
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return ""
	}
	return name[i:]
}

// dur formats seconds.
func dur(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.3gs", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.3gms", s*1e3)
	case s >= 1e-6:
		return fmt.Sprintf("%.3gµs", s*1e6)
	}
	return fmt.Sprintf("%.3gns", s*1e9)
}
