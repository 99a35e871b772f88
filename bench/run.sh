#!/usr/bin/env bash
# Runs wsmem's benchmarks side by side with its peers and prints benchstat
# tables (medians) and wsmem's ratio to the fastest peer per row.
#
#   ./run.sh                      # every scenario, -count 6, -benchtime 1s
#   COUNT=10 ./run.sh             # more rounds
#   BENCH='Echo|UTF8' ./run.sh    # a subset (a -test.bench regexp)
#   BENCHTIME=500ms ./run.sh
#
# The test binary is built once. The tests run first (every adapter's
# correctness checks); then COUNT rounds each run every benchmark once, so
# that libraries and rounds interleave and drift on a shared machine spreads
# evenly. Raw output, tables and the ratio summary go to results/<UTC time>/
# (git-ignored); results/latest points at the newest.
set -euo pipefail
cd "$(dirname "$0")"

COUNT=${COUNT:-6}
BENCH=${BENCH:-.}
BENCHTIME=${BENCHTIME:-1s}
BENCHSTAT=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
# The scenarios in the order they are printed, and each one's columns.
SCENARIOS=(Mask ServerRead ServerWrite ClientWrite Echo UTF8Read Compress Retained Handshake)
PEERS="wsmem gorilla gobwas coder gws"

start=$(date +%s)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=results/$stamp
mkdir -p "$out"
ln -sfn "$stamp" results/latest

echo "building the test binary"
go test -c -o "$out/bench.test" .
# Fetch benchstat now, so that a failure shows before the long part.
go run "$BENCHSTAT" -h >/dev/null 2>&1 || true

echo "running the correctness tests"
"$out/bench.test" -test.run . -test.count 1 >"$out/tests.txt" 2>&1 || {
	cat "$out/tests.txt"
	echo "tests failed: not benchmarking a broken path" >&2
	exit 1
}

raw=$out/raw.txt
{
	# benchstat reads "key: value" lines as configuration.
	echo "go: $(go env GOVERSION)"
	echo "wsmem-commit: $(git -C .. rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C .. diff --quiet HEAD -- . 2>/dev/null || echo '+dirty')"
	go list -m -f '{{.Path}}: {{.Version}}' github.com/gorilla/websocket github.com/gobwas/ws github.com/coder/websocket github.com/lxzan/gws |
		sed 's#^github.com/##; s#/#-#'
	echo "benchtime: $BENCHTIME"
} >"$raw"

for i in $(seq 1 "$COUNT"); do
	echo "round $i of $COUNT ($(($(date +%s) - start))s so far)"
	"$out/bench.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem \
		-test.count 1 -test.benchtime "$BENCHTIME" >>"$raw" 2>"$out/stderr-$i.txt" || {
		tail -20 "$raw" "$out/stderr-$i.txt"
		echo "round $i failed" >&2
		exit 1
	}
done

tables=$out/benchstat.txt
csv=$out/benchstat.csv
: >"$tables"
: >"$csv"
for s in "${SCENARIOS[@]}"; do
	grep -q "^Benchmark$s/" "$raw" || continue
	cols=$PEERS
	filter=".name:$s"
	case $s in
	Mask) cols="wsmem gobwas copy" ;;
	# tcp: the same bytes over plain TCP, the floor (tcp_test.go).
	Echo) cols="$PEERS tcp" ;;
	# Retained reports B/conn only (its timed loop is empty).
	Retained) filter="$filter .unit:B/conn" ;;
	esac
	{
		echo
		echo "=== $s ==="
		go run "$BENCHSTAT" -filter "$filter" -col "/lib@($cols)" "$raw" 2>/dev/null
	} >>"$tables"
	go run "$BENCHSTAT" -filter "$filter" -col "/lib@($cols)" -format csv "$raw" 2>/dev/null >>"$csv"
	echo >>"$csv"
done
cat "$tables"

echo
echo "=== wsmem / fastest peer (median sec/op; below 1: wsmem is faster) ==="
go run ./cmd/benchratio <"$csv" | tee "$out/ratio.txt"
if grep -q "cpu-ns/op" "$raw"; then
	echo
	echo "=== wsmem / fastest peer (median CPU time per op, every thread; below 1: wsmem is faster) ==="
	go run ./cmd/benchratio -unit cpu-sec/op <"$csv" | tee -a "$out/ratio.txt"
fi
if grep -q "^BenchmarkRetained/" "$raw"; then
	echo
	echo "=== wsmem / leanest peer (median B/conn kept per idle connection; below 1: wsmem keeps less) ==="
	go run ./cmd/benchratio -unit B/conn <"$csv" | tee -a "$out/ratio.txt"
fi

echo
echo "done in $(($(date +%s) - start))s; results in bench/$out"
