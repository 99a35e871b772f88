#!/usr/bin/env bash
# wsmem's interoperability tests (see interop/README.md).
#
#   bash interop/run.sh
#
# Installs what is missing (Debian's python3-websockets and chromium, only
# when absent; nodejs/npm only when node is absent; the npm packages pinned
# by interop/node/package-lock.json), then runs `go test ./...` in interop/,
# which drives gorilla/websocket, coder/websocket, gobwas/ws and lxzan/gws
# in-process and Node's ws, Python's websockets and headless Chromium as
# child processes, each bounded by a timeout. WSMEM_INTEROP_STRICT=1 makes
# a missing tool a failure instead of a skip. The last line is
# "N passed, M failed" (leaf tests); the exit status is non-zero on any
# failure. The full log goes to artifacts/interop/go-test.log.
# INTEROP_RUN=REGEXP passes -run REGEXP to go test (e.g. INTEROP_RUN=TestChromium).
set -uo pipefail
cd "$(dirname "$0")"
here=$PWD
out=$here/../artifacts/interop
mkdir -p "$out"
start=$(date +%s)

passed=0
failed=0
skipped=0
finish() {
	echo "interop: $(($(date +%s) - start))s; the full log is artifacts/interop/go-test.log"
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}
setup_failed() {
	echo "interop: $1" >&2
	failed=$((failed + 1))
	finish
}

# Debian packages, each only where it is missing; apt-get update once.
apt_ready=
apt_install() {
	if [ -z "$apt_ready" ]; then
		apt-get update -qq >>"$out/apt.log" 2>&1 || return 1
		apt_ready=1
	fi
	echo "interop: installing $* (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$out/apt.log" 2>&1
}
python=/usr/bin/python3
if ! "$python" -c 'import websockets' 2>/dev/null; then
	apt_install python3-websockets || { tail -n 20 "$out/apt.log" >&2; setup_failed "apt-get install python3-websockets failed"; }
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
	[ "$chromium" = /usr/bin/chromium ] || setup_failed "CHROMIUM=$chromium is not an executable"
	apt_install chromium || { tail -n 20 "$out/apt.log" >&2; setup_failed "apt-get install chromium failed"; }
fi
if ! command -v node >/dev/null; then
	apt_install nodejs npm || { tail -n 20 "$out/apt.log" >&2; setup_failed "apt-get install nodejs npm failed"; }
fi
echo "interop: node $(node --version), $("$python" -c 'import websockets; print("websockets", websockets.__version__)'), $("$chromium" --version 2>/dev/null | head -n 1)"

# ws and playwright-core, pinned by the lock file.
(cd node && npm ci --no-audit --no-fund --loglevel=error) >"$out/npm.log" 2>&1 ||
	{ tail -n 20 "$out/npm.log" >&2; setup_failed "npm ci in interop/node failed"; }

# The tests. go test's own timeout bounds the whole run; each driver has
# its own limit inside.
WSMEM_INTEROP_STRICT=1 CHROMIUM="$chromium" go test -count=1 -timeout 240s -v ${INTEROP_RUN:+-run "$INTEROP_RUN"} ./... >"$out/go-test.log" 2>&1
status=$?
# What failed, with its messages: go test -v prints a test's log lines under
# its "=== RUN"/"=== NAME" line and its verdict later, so gather both.
awk '
	/^=== (RUN|NAME|CONT) / { cur = $3; next }
	/^=== / { next }
	match($0, /--- (PASS|FAIL|SKIP): [^ ]+/) {
		split(substr($0, RSTART, RLENGTH), f, " ")
		st[f[3]] = f[2]; next
	}
	/^(ok|FAIL)[ \t]/ { pkg[++np] = $0; cur = ""; next }
	/^(FAIL|PASS)$/ { next }
	cur != "" { logs[cur] = logs[cur] $0 "\n"; next }
	{ other = other $0 "\n" }
	END {
		for (n in st) if (st[n] == "FAIL:" && logs[n] != "") printf "--- FAIL: %s\n%s", n, logs[n]
		if (other != "" && np == 0) printf "%s", other
		for (i = 1; i <= np; i++) print pkg[i]
	}' "$out/go-test.log"
# Leaf tests only: a name that is the prefix of another one is a parent.
read -r passed failed skipped < <(awk '
	match($0, /--- (PASS|FAIL|SKIP): [^ ]+/) {
		split(substr($0, RSTART, RLENGTH), f, " ")
		st[f[3]] = f[2]
	}
	END {
		p = 0; x = 0; s = 0
		for (n in st) {
			leaf = 1
			for (m in st) if (index(m, n "/") == 1) { leaf = 0; break }
			if (!leaf) continue
			if (st[n] == "PASS:") p++; else if (st[n] == "FAIL:") x++; else s++
		}
		print p, x, s
	}' "$out/go-test.log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	# A build failure, a panic or the global timeout: no test said FAIL.
	tail -n 30 "$out/go-test.log"
	failed=$((failed + 1))
fi
finish
