#!/usr/bin/env bash
# The producer's outbox survives kill -9: a driver publishing through the library (outbox on)
# is killed mid-stream, restarted (it produces what the outbox kept, then publishes more), and
# every event it had accepted must be in Kafka; duplicates only with identical
# (incarnation, seq, event id); seq strictly increasing per (node, incarnation) in Kafka order.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=test-producer-common.sh
source "$here/test-producer-common.sh"

BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-producer-crash.XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PREFIX="seerlog.test.producer.crash.$$.$(date +%s%N)"
TEMPLATE="$PREFIX.{region}.{type}"
TOPICS="$PREFIX.ra.seer,$PREFIX.rb.seer"
NODES=20

# 1. Publish a lot; kill -9 once enough was accepted.
"$DRIVER" publish "$BOOTSTRAP" "$TEMPLATE" "$TMP/outbox" $NODES 10000000 "$TMP/accepted" 50 \
  2>"$TMP/run1.err" &
pid=$!
# sent N: the last progress line of the driver.
sent() {
  local n
  n=$(sed -n 's/^producer_driver: progress sent \([0-9]*\) .*/\1/p' "$TMP/run1.err" | tail -n 1)
  echo "${n:-0}"
}
deadline=$(($(date +%s) + 120))
while (($(sent) < 20000)) && (($(date +%s) < deadline)); do sleep 0.2; done
(($(sent) >= 20000)) && ok "driver delivered 20000 events" ||
  not_ok "driver did not deliver 20000 events in 120 s" "$(tail -3 "$TMP/run1.err")"
kill -9 "$pid"
wait "$pid" 2>/dev/null
rc=$?
pid=
n1=$(lines "$TMP/accepted")
[[ $rc -eq 137 ]] && ok "killed with -9 after $n1 accepted" || not_ok "driver exit $rc, not 137"

# The producer created the topics with topic.partitions=3 (not the broker's auto-creation).
meta=$(kcat -L -b "$BOOTSTRAP" -t "$PREFIX.ra.seer" -m 10 2>&1)
grep -q "with 3 partitions" <<<"$meta" && ok "topic created through the admin API with 3 partitions" ||
  not_ok "topic partitions" "$meta"

# 2. Restart: what the outbox kept goes out first, then 2000 more.
"$DRIVER" publish "$BOOTSTRAP" "$TEMPLATE" "$TMP/outbox" $NODES 2000 "$TMP/accepted" 50 0 \
  120000 2>"$TMP/run2.err"
rc=$?
[[ $rc -eq 0 ]] && ok "restarted driver drained its outbox" ||
  not_ok "restarted driver exit $rc" "$(tail -3 "$TMP/run2.err")"
sed 's/^/# /' "$TMP/run2.err"
n2=$(lines "$TMP/accepted")
[[ $n2 -eq $((n1 + 2000)) ]] && ok "2000 more accepted ($n2 in all)" ||
  not_ok "accepted $n2, want $((n1 + 2000))"

# 3. Everything accepted is in Kafka.
"$DRIVER" consume "$BOOTSTRAP" "$TOPICS" 60000 >"$TMP/kafka" 2>"$TMP/consume.err"
rc=$?
[[ $rc -eq 0 ]] && ok "consumed the topics to their end" ||
  not_ok "consume exit $rc" "$(tail -3 "$TMP/consume.err")"
check_delivery "$TMP/accepted" "$TMP/kafka" && ok "every accepted event reached Kafka, in order" ||
  not_ok "delivery check"

echo "$passed passed, $failed failed"
((failed == 0))
