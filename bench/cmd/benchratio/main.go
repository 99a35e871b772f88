// Command benchratio reads benchstat's CSV output (benchstat -format csv
// -col /lib ...) on standard input and prints, for every row of every
// table of one unit (-unit, sec/op by default), wsmem's median divided by
// the best peer's (the smallest value: the fastest, or the one that keeps
// the fewest bytes for -unit B/conn): below 1 wsmem is better. Columns
// named in -skip (the copy() and plain-TCP baselines) are not peers.
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
	skip := flag.String("skip", "copy,tcp", "comma-separated columns that are baselines, not peers")
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
	best, worse := "fastest", "slower"
	if !strings.HasSuffix(unit, "sec/op") {
		best, worse = "best", "more"
	}
	fmt.Fprintf(w, "%-48s %12s  %-8s %12s  %s\n", "benchmark", self, best, "its "+unit, self+"/"+best)
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
			mark = "  <- " + worse
			slower++
		}
		rows++
		fmt.Fprintf(w, "%-48s %12s  %-8s %12s  %6.2fx%s\n", name, format(mine, unit), bestLib, format(best, unit), ratio, mark)
	}
	fmt.Fprintf(w, "%d rows; %s is more than 5%% %s than the %s peer in %d\n", rows, self, worse, best, slower)
	return nil
}

// format formats a value of unit: seconds (sec/op, cpu-sec/op) as
// durations, bytes with binary prefixes, anything else as a number.
func format(v float64, unit string) string {
	switch {
	case strings.HasSuffix(unit, "sec/op"):
		return dur(v)
	case strings.HasPrefix(unit, "B/"):
		switch {
		case v >= 1<<20:
			return fmt.Sprintf("%.3gMiB", v/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.3gKiB", v/(1<<10))
		}
		return fmt.Sprintf("%.3gB", v)
	}
	return fmt.Sprintf("%.4g", v)
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
