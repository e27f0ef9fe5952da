#!/usr/bin/env bash
# Local backpressure against a real broker: an agent heartbeating every 20 ms with a tiny
# librdkafka queue (5 messages) loses its broker for a few seconds. Its heartbeats must be
# coalesced (counter `coalesced`), the two status changes made during the outage must reach
# Kafka anyway, in order, and seq must still increase. Own broker (scripts/kafka-local, own port
# and data dir), since the test stops it.
# Environment (set by CTest): SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
kl=${SEERLOG_SOURCE_DIR:-$here/../..}/scripts/kafka-local

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=$(free_port_pair "${SEERLOG_TEST_COALESCE_PORT:-29792}")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-coalesce.XXXXXX")
DATA="$TMP/kafka"
pid=
cleanup() {
  [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
  "$kl" stop --data-dir "$DATA" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# last_stat FIELD: the field of the agent's last stats line.
last_stat() {
  grep '^{"time_ms"' "$TMP/agent.err" | tail -n 1 |
    python3 -c "import json,sys; print(json.loads(sys.stdin.read() or '{}').get('$1', ''))"
}
# await CMD... : until it succeeds, at most 60 s.
await() {
  local deadline=$((SECONDS + 60))
  until "$@"; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}

BOOTSTRAP=$("$kl" start --port "$port" --data-dir "$DATA" 2>"$TMP/kl.err" | tail -n 1)
[[ $BOOTSTRAP == "127.0.0.1:$port" ]] && ok "own broker at $BOOTSTRAP" ||
  { not_ok "kafka-local start" "$(tail -5 "$TMP/kl.err")"; echo "$passed passed, $failed failed"; exit 1; }

TOPIC="seerlog.test.coalesce.$$.$(date +%s%N)"
echo up >"$TMP/status"
"$SEERLOG" agent --bootstrap "$BOOTSTRAP" --node co-1 --type seer --region r1 \
  --stats-interval 1 -X schema.mode=fixed -X "topic.template=$TOPIC" -X topic.partitions=1 \
  -X "outbox.dir=$TMP/outbox" -X heartbeat.interval.ms=20 -X check.interval.ms=20 \
  -X "node.status.file=$TMP/status" -X queue.buffering.max.messages=5 \
  -X control.topic= 2>"$TMP/agent.err" &
pid=$!

sent_some() { [[ $(last_stat sent) -ge 5 ]] 2>/dev/null; }
await sent_some && ok "agent delivering" || not_ok "agent never delivered" "$(tail -3 "$TMP/agent.err")"

"$kl" stop --data-dir "$DATA" >/dev/null 2>&1 && ok "broker stopped" || not_ok "kafka-local stop"
c0=$(last_stat coalesced)
echo degraded >"$TMP/status"
coalescing() { [[ $(last_stat coalesced) -ge $((c0 + 50)) ]] 2>/dev/null; }
await coalescing && ok "heartbeats coalesced while the queue is full ($c0 -> $(last_stat coalesced))" ||
  not_ok "coalesced stayed at $(last_stat coalesced)" "$(tail -3 "$TMP/agent.err")"
echo down >"$TMP/status"
more() { [[ $(last_stat coalesced) -ge $((c0 + 100)) ]] 2>/dev/null; }
await more || true
kill -0 "$pid" 2>/dev/null && ok "agent still running without a broker" || not_ok "agent died"

out=$("$kl" start --port "$port" --data-dir "$DATA" 2>"$TMP/kl2.err" | tail -n 1)
[[ $out == "$BOOTSTRAP" ]] && ok "broker restarted" || not_ok "kafka-local restart" "$(tail -5 "$TMP/kl2.err")"
drained() {
  [[ $(last_stat outbox_depth) == 0 && $(last_stat parked) == 0 && $(last_stat in_flight) == 0 ]]
}
await drained && ok "outbox drained after the outage" || not_ok "outbox not drained" "$(tail -2 "$TMP/agent.err")"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[[ $rc -eq 0 ]] && ok "agent stopped cleanly" || not_ok "agent exit $rc"

"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning --timeout-ms 5000 \
  >"$TMP/events" 2>"$TMP/tail.err"
python3 - "$TMP/events" "$(last_stat coalesced)" <<'PY' && ok "status changes kept, in order; seq increasing; heartbeats coalesced" || not_ok "events in Kafka" "$(head -c 600 "$TMP/tail.err")"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
coalesced = int(sys.argv[2])
kinds = [(e["kind"], e["status"]) for e in events]
changes = [s for k, s in kinds if k == "status_change"]
assert changes[:2] == ["degraded", "down"], changes
assert kinds[0][0] == "join" and kinds[-1][0] == "leave", (kinds[0], kinds[-1])
seqs = [e["seq"] for e in events]
assert all(a < b for a, b in zip(seqs, seqs[1:])), "seq not increasing"
assert len({e["incarnation"] for e in events}) == 1
heartbeats = sum(1 for k, _ in kinds if k == "heartbeat")
assert coalesced >= 100, coalesced
print(f"# {len(events)} events in Kafka, {heartbeats} heartbeats, {coalesced} coalesced")
PY

echo "$passed passed, $failed failed"
((failed == 0))
