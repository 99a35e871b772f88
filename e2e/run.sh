#!/usr/bin/env bash
# Browser end-to-end test of examples/chat in headless Chromium.
#
#   bash e2e/run.sh
#
# Installs Chromium from Debian if /usr/bin/chromium is missing (CI runs as
# root on a fresh clone), installs playwright-core from e2e/package-lock.json,
# builds the chat server, runs e2e/chat.test.js under Node's test runner and
# prints "N passed, M failed" last. Exits non-zero on any failure.
# Screenshots and logs go to artifacts/e2e/ (git-ignored).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/artifacts/e2e
mkdir -p "$out"

passed=0
failed=0
finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}
# setup_failed counts a step that failed before the browser test ran.
setup_failed() {
	echo "e2e: $1" >&2
	failed=$((failed + 1))
	finish
}

# The browser: Debian's chromium, installed only where it is missing.
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
	if [ "$chromium" != /usr/bin/chromium ]; then
		setup_failed "CHROMIUM=$chromium is not an executable"
	fi
	echo "e2e: installing chromium (apt-get)"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$out/apt.log" 2>&1 ||
		{ tail -n 20 "$out/apt.log" >&2; setup_failed "apt-get install chromium failed"; }
fi
"$chromium" --version 2>/dev/null | head -n 1

# playwright-core, pinned by the lock file.
(cd e2e && npm ci --no-audit --no-fund --loglevel=error) || setup_failed "npm ci failed"

# The server under test.
go build -o "$out/chat" ./examples/chat || setup_failed "go build ./examples/chat failed"

# The test starts the server on a free loopback port and kills it by PID;
# should the test itself be killed (timeout), the PID file lets us finish
# that job here.
rm -f "$out/chat.pid" "$out/tap.txt"
(
	cd e2e &&
		CHAT_BIN="$out/chat" CHROMIUM="$chromium" CHAT_PID_FILE="$out/chat.pid" \
			timeout -k 10 150 node --test \
			--test-reporter=spec --test-reporter-destination=stdout \
			--test-reporter=tap --test-reporter-destination="$out/tap.txt" \
			chat.test.js
)
status=$?
if [ -s "$out/chat.pid" ]; then
	pid=$(cat "$out/chat.pid")
	if kill -0 "$pid" 2>/dev/null; then
		echo "e2e: the chat server ($pid) outlived the test; killing it" >&2
		kill "$pid" 2>/dev/null
		failed=$((failed + 1))
	fi
fi

# Node's TAP summary ends with "# pass N" and "# fail M".
p=$(sed -n 's/^# pass \([0-9]\+\)$/\1/p' "$out/tap.txt" 2>/dev/null | tail -n 1)
f=$(sed -n 's/^# fail \([0-9]\+\)$/\1/p' "$out/tap.txt" 2>/dev/null | tail -n 1)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ "$status" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
	# Killed by the timeout, or failed outside any test.
	echo "e2e: node exited with status $status" >&2
	failed=$((failed + 1))
fi
ls "$out"/*.png 2>/dev/null | sed "s|^$root/|e2e: screenshot |"
finish
