#!/usr/bin/env bash
# Exercises scripts/kafka-local end to end with its own broker, data dir and port:
# start, idempotent start, metadata, status, wrong-port and busy-port refusals, stop, status after.
# Prints "N passed, N failed" last; exits non-zero on any failure. Always stops its broker.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=${SEERLOG_SOURCE_DIR:-$here/../..}
kl="$source_dir/scripts/kafka-local"

passed=0
failed=0
ok() {
  passed=$((passed + 1))
  echo "ok   - $*"
}
not_ok() {
  failed=$((failed + 1))
  echo "FAIL - $*"
}
check() { # DESCRIPTION COMMAND...: passes if COMMAND succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

port_free() { ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Port: 29192 unless busy (then the next free pair), or SEERLOG_TEST_KAFKA_LOCAL_PORT.
port=${SEERLOG_TEST_KAFKA_LOCAL_PORT:-29192}
if [[ -z ${SEERLOG_TEST_KAFKA_LOCAL_PORT:-} ]]; then
  while ! { port_free "$port" && port_free $((port + 1)); }; do port=$((port + 2)); done
fi
addr="127.0.0.1:$port"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-kafka-local.XXXXXX")
data="$tmp/data"
cleaned=0
cleanup() {
  ((cleaned)) && return 0
  cleaned=1
  "$kl" stop --data-dir "$data" >/dev/null 2>&1 || true
  "$kl" stop --data-dir "$tmp/other" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "# kafka-local on $addr, data $data"

# 1. start: exit 0 and the last stdout line is exactly the address.
t0=$(date +%s%3N)
out=$("$kl" start --port "$port" --data-dir "$data" 2>"$tmp/start.err")
rc=$?
echo "# start took $(($(date +%s%3N) - t0)) ms"
check "start exits 0 (rc=$rc)" test "$rc" -eq 0
last=$(printf '%s\n' "$out" | tail -n 1)
check "start prints '$addr' last on stdout (got '$last')" test "$last" = "$addr"
if ((rc != 0)); then sed 's/^/# /' "$tmp/start.err"; fi
pid1=$(cat "$data/kafka.pid" 2>/dev/null || echo none)

# 2. metadata answers and lists broker 1 on that address.
meta=$(kcat -L -b "$addr" -m 10 2>&1)
check "kcat -L lists broker 1 at $addr" grep -q "broker 1 at $addr" <<<"$meta"

# 3. a second start is harmless: exit 0, same address, same process.
out2=$("$kl" start --port "$port" --data-dir "$data" 2>/dev/null)
rc=$?
check "second start exits 0 (rc=$rc)" test "$rc" -eq 0
last2=$(printf '%s\n' "$out2" | tail -n 1)
check "second start prints '$addr' (got '$last2')" test "$last2" = "$addr"
pid2=$(cat "$data/kafka.pid" 2>/dev/null || echo none)
check "second start keeps the same broker (pid $pid1 vs $pid2)" test "$pid1" = "$pid2"

# 4. status says running, with the address.
st=$("$kl" status --data-dir "$data")
rc=$?
check "status exits 0 while running (rc=$rc)" test "$rc" -eq 0
check "status says 'running $addr' (got '$st')" grep -q "^running $addr" <<<"$st"

# 5. refusals: same data dir on another port; another data dir on the busy port; bad usage.
"$kl" start --port $((port + 10)) --data-dir "$data" >/dev/null 2>&1
rc=$?
check "start on another port of the running data dir exits 1 (rc=$rc)" test "$rc" -eq 1
"$kl" start --port "$port" --data-dir "$tmp/other" >/dev/null 2>"$tmp/busy.err"
rc=$?
check "start on a busy port exits 1 (rc=$rc)" test "$rc" -eq 1
check "busy port message names the port" grep -q "port $port .*in use" "$tmp/busy.err"
"$kl" no-such-command >/dev/null 2>&1
rc=$?
check "unknown command exits 2 (rc=$rc)" test "$rc" -eq 2

# 6. stop: exit 0 and no java process names this data dir any more.
t0=$(date +%s%3N)
"$kl" stop --data-dir "$data" 2>/dev/null
rc=$?
echo "# stop took $(($(date +%s%3N) - t0)) ms"
check "stop exits 0 (rc=$rc)" test "$rc" -eq 0
left=$(pgrep -af "java .*$data/server.properties")
check "no java process names $data after stop${left:+ (found: $left)}" test -z "$left"

# 7. status after stop exits 3; stopping again is harmless.
"$kl" status --data-dir "$data" >/dev/null
rc=$?
check "status exits 3 after stop (rc=$rc)" test "$rc" -eq 3
"$kl" stop --data-dir "$data" 2>/dev/null
rc=$?
check "second stop exits 0 (rc=$rc)" test "$rc" -eq 0

cleanup
echo "$passed passed, $failed failed"
((failed == 0))
