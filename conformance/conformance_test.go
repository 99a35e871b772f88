package conformance

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// groups names the case groups, in the order they are printed.
var groups = []struct{ prefix, title string }{
	{"1", "Framing"},
	{"2", "Pings and pongs"},
	{"3", "Reserved bits"},
	{"4", "Reserved opcodes"},
	{"5", "Fragmentation"},
	{"6", "UTF-8 handling"},
	{"7", "Close handling"},
	{"9", "Limits and performance: large and many messages"},
	{"12", "permessage-deflate: messages"},
	{"13", "permessage-deflate: parameters"},
}

func allCases() []*tcase {
	var all []*tcase
	for _, f := range []func() []*tcase{
		framingCases, pingCases, rsvCases, opcodeCases, fragmentationCases,
		utf8Cases, closeCases, largeCases, deflateCases, deflateParamCases,
	} {
		all = append(all, f()...)
	}
	return all
}

// variant is one way of running a case.
type variant struct {
	r role
	m writeMode
	t transport
}

func variants(c *tcase) []variant {
	var vs []variant
	for _, r := range []role{wsServer, wsClient} {
		if c.only != 0 && c.only != r {
			continue
		}
		for _, m := range []writeMode{whole, bytewise} {
			for _, t := range []transport{overTCP, overPipe} {
				vs = append(vs, variant{r, m, t})
			}
		}
	}
	return vs
}

type runResult struct {
	c *tcase
	v variant
	o outcome
}

// runCases runs every variant of every case: heavy cases on two workers of
// their own, the others on several more.
func runCases(cases []*tcase) map[*tcase]map[variant]outcome {
	type job struct {
		c *tcase
		v variant
	}
	results := make(chan runResult)
	var wg sync.WaitGroup
	start := func(jobs []job, workers int) {
		ch := make(chan job)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range ch {
					t0 := time.Now()
					o := runOnce(j.c, j.v.r, j.v.m, j.v.t)
					o.took = time.Since(t0)
					results <- runResult{j.c, j.v, o}
				}
			}()
		}
		go func() {
			for _, j := range jobs {
				ch <- j
			}
			close(ch)
		}()
	}
	var heavy, light []job
	for _, c := range cases {
		for _, v := range variants(c) {
			if c.heavy {
				heavy = append(heavy, job{c, v})
			} else {
				light = append(light, job{c, v})
			}
		}
	}
	start(heavy, 2)
	start(light, 3*runtime.GOMAXPROCS(0))
	go func() {
		wg.Wait()
		close(results)
	}()
	out := map[*tcase]map[variant]outcome{}
	for r := range results {
		if out[r.c] == nil {
			out[r.c] = map[variant]outcome{}
		}
		out[r.c][r.v] = r.o
	}
	return out
}

// report prints a table per group and returns the counts of runs.
func report(w io.Writer, cases []*tcase, res map[*tcase]map[variant]outcome) (passed, failed int) {
	fmt.Fprintln(w, "wsmem runs an echo endpoint; the harness plays the other side with its own frames.")
	fmt.Fprintln(w, "The echo's receive API depends on the run (tcp | pipe):")
	for _, r := range []role{wsServer, wsClient} {
		for _, m := range []writeMode{whole, bytewise} {
			fmt.Fprintf(w, "  %-6s %-8s  %v | %v\n", r, m, apiFor(&tcase{}, r, m, overTCP), apiFor(&tcase{}, r, m, overPipe))
		}
	}
	fmt.Fprintln(w, "(Recv and RecvL become Next for cases of messages over 1 MiB.)")
	for _, g := range groups {
		var gc []*tcase
		for _, c := range cases {
			if c.group == g.prefix {
				gc = append(gc, c)
			}
		}
		if len(gc) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n== %s. %s ==\n", g.prefix, g.title)
		fmt.Fprintf(w, "%-12s %-64s %-7s %-9s %-5s %-5s\n", "case", "description", "wsmem", "writes", "tcp", "pipe")
		for _, c := range gc {
			for _, r := range []role{wsServer, wsClient} {
				for _, m := range []writeMode{whole, bytewise} {
					tcp, okT := res[c][variant{r, m, overTCP}]
					pipe, okP := res[c][variant{r, m, overPipe}]
					if !okT && !okP {
						continue
					}
					fmt.Fprintf(w, "%-12s %-64s %-7s %-9s %-5s %-5s\n", c.id, clip(c.desc, 64), r, m, verdict(tcp), verdict(pipe))
					for _, x := range []struct {
						name string
						o    outcome
					}{{"tcp", tcp}, {"pipe", pipe}} {
						if x.o.ok {
							passed++
							continue
						}
						failed++
						tr := overTCP
						if x.name == "pipe" {
							tr = overPipe
						}
						fmt.Fprintf(w, "%12s   FAILED over %s (echo via %v): %s\n", "", x.name, apiFor(c, r, m, tr), x.o.detail)
					}
				}
			}
		}
	}
	return passed, failed
}

func verdict(o outcome) string {
	if o.ok {
		return "pass"
	}
	return "FAIL"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

var caseFilter = flag.String("cases", "", "run only these comma-separated cases and the cases under them (e.g. -cases=6.4,7 runs 6.4.* and 7.*)")

// TestConformance runs the whole suite against wsmem's echo endpoint.
func TestConformance(t *testing.T) {
	var cases []*tcase
	seen := map[string]bool{}
	for _, c := range allCases() {
		if seen[c.id] {
			t.Fatalf("case id %s used twice", c.id)
		}
		seen[c.id] = true
		if selected(c.id) {
			cases = append(cases, c)
		}
	}
	start := time.Now()
	res := runCases(cases)
	var sb strings.Builder
	passed, failed := report(&sb, cases, res)
	fmt.Fprintf(&sb, "\n%d cases, %d runs (each case as wsmem server and client, frames written whole and byte by byte, over TCP and net.Pipe) in %v\n",
		len(cases), passed+failed, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(&sb, "%d passed, %d failed\n", passed, failed)
	os.Stdout.WriteString(sb.String())
	if os.Getenv("CONFORMANCE_TIMES") != "" {
		for c, m := range res {
			var tot time.Duration
			for _, o := range m {
				tot += o.took
			}
			fmt.Printf("TIME %8.3f %s\n", tot.Seconds(), c.id)
		}
	}
	if failed > 0 {
		t.Fail()
	}
}

func selected(id string) bool {
	if *caseFilter == "" {
		return true
	}
	for _, p := range strings.Split(*caseFilter, ",") {
		if id == p || strings.HasPrefix(id, strings.TrimSuffix(p, ".")+".") {
			return true
		}
	}
	return false
}
