#!/usr/bin/env bash
# The producer keeps accepting with the broker down: a driver publishes through the library
# (outbox on) to its own broker (scripts/kafka-local, own port and data dir); the broker is
# stopped for 30 s mid-stream and started again; the driver must keep accepting meanwhile and
# deliver everything in the end, in order, duplicates only with identical (incarnation, seq).
# Environment (set by CTest): SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test-producer-common.sh
source "$here/test-producer-common.sh"
kl=${SEERLOG_SOURCE_DIR:-$here/../..}/scripts/kafka-local

# Other tests run brokers of their own on 29x92 ports: start away from them.
port=$(free_port_pair "${SEERLOG_TEST_PRODUCER_PORT:-29692}")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-producer-down.XXXXXX")
DATA="$TMP/kafka"
pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  "$kl" stop --data-dir "$DATA" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BOOTSTRAP=$("$kl" start --port "$port" --data-dir "$DATA" 2>"$TMP/kl.err" | tail -n 1)
[[ $BOOTSTRAP == "127.0.0.1:$port" ]] && ok "own broker at $BOOTSTRAP" ||
  { not_ok "kafka-local start" "$(tail -5 "$TMP/kl.err")"; echo "$passed passed, $failed failed"; exit 1; }

PREFIX="seerlog.test.producer.down.$$.$(date +%s%N)"
TEMPLATE="$PREFIX.{region}.{type}"
TOPICS="$PREFIX.ra.seer,$PREFIX.rb.seer"

# About 200 events a second for about a minute: 20 per batch, 100 ms apart.
"$DRIVER" publish "$BOOTSTRAP" "$TEMPLATE" "$TMP/outbox" 10 12000 "$TMP/accepted" 20 100 \
  240000 2>"$TMP/driver.err" &
pid=$!
await_lines "$TMP/accepted" 1000 60 && ok "driver accepting" ||
  not_ok "driver did not accept 1000 events in 60 s" "$(tail -3 "$TMP/driver.err")"

"$kl" stop --data-dir "$DATA" >/dev/null 2>&1 && ok "broker stopped" || not_ok "kafka-local stop"
a0=$(lines "$TMP/accepted")
sleep 30 # the outage itself: the test is about 30 s without a broker
a1=$(lines "$TMP/accepted")
((a1 - a0 >= 1000)) && ok "driver kept accepting with the broker down ($a0 -> $a1)" ||
  not_ok "driver accepted only $((a1 - a0)) events while the broker was down"
kill -0 "$pid" 2>/dev/null && ok "driver still running" || not_ok "driver died during the outage"

out=$("$kl" start --port "$port" --data-dir "$DATA" 2>"$TMP/kl2.err" | tail -n 1)
[[ $out == "$BOOTSTRAP" ]] && ok "broker restarted" || not_ok "kafka-local restart" "$(tail -5 "$TMP/kl2.err")"

wait "$pid"
rc=$?
pid=
[[ $rc -eq 0 ]] && ok "driver delivered everything and exited 0" ||
  not_ok "driver exit $rc" "$(tail -3 "$TMP/driver.err")"
sed 's/^/# /' "$TMP/driver.err" | tail -3
n=$(lines "$TMP/accepted")
[[ $n -eq 12000 ]] && ok "all 12000 accepted" || not_ok "accepted $n of 12000"

"$DRIVER" consume "$BOOTSTRAP" "$TOPICS" 60000 >"$TMP/records" 2>"$TMP/consume.err"
rc=$?
[[ $rc -eq 0 ]] && ok "consumed the topics to their end" ||
  not_ok "consume exit $rc" "$(tail -3 "$TMP/consume.err")"
check_delivery "$TMP/accepted" "$TMP/records" && ok "every accepted event reached Kafka, in order" ||
  not_ok "delivery check"

cleanup
echo "$passed passed, $failed failed"
((failed == 0))
