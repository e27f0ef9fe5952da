#!/usr/bin/env bash
# seerlog agent's heartbeat throttling from the readers' lag: a ProjectorLag record above
# lag.high on the control topic stretches the heartbeat interval (doubling up to
# heartbeat.max.interval.ms, throttled=1 in the counters); a lag between lag.low and lag.high
# keeps it stretched (hysteresis); a lag below lag.low brings it back to normal.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
LAG_WRITER=$SEERLOG_BINARY_DIR/test/integration/agent_lag_writer
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-agent-lag.XXXXXX")
PREFIX="seerlog.test.agentlag.$$.$(date +%s%N)"
TOPIC="$PREFIX.r1.seer"
CONTROL="$PREFIX.control"
EVENTS=$TMP/events.jsonl
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
now_ms() { date +%s%3N; }

# The agent's last counters line (stderr, one JSON object per second).
stat() { # FIELD
  grep '^{' "$TMP/agent.err" | tail -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])" 2>/dev/null
}
await_stat() { # SECONDS FIELD VALUE
  local deadline=$(($(date +%s) + $1))
  until [[ $(stat "$2") == "$3" ]]; do
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
}

# gaps SINCE_MS: the gaps (ms) between consecutive heartbeats whose event_time >= SINCE_MS.
gaps() {
  python3 - "$EVENTS" "$1" <<'PY'
import json, sys
hb = []
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e["kind"] == "heartbeat" and e["event_time"] >= int(sys.argv[2]):
        hb.append(e["event_time"])
print(" ".join(str(b - a) for a, b in zip(hb, hb[1:])))
PY
}
# await_gaps SECONDS SINCE_MS COUNT PYTHON-CONDITION-ON-g: until COUNT gaps since SINCE_MS exist
# and the condition over the list g holds.
await_gaps() {
  local deadline=$(($(date +%s) + $1)) g
  while :; do
    g=$(gaps "$2")
    python3 -c "g = [int(x) for x in '$g'.split()]; import sys; sys.exit(0 if len(g) >= $3 and ($4) else 1)" &&
      return 0
    (($(date +%s) >= deadline)) && { echo "$g"; return 1; }
    sleep 0.2
  done
}

lag() { "$LAG_WRITER" "$BOOTSTRAP" "$CONTROL" projector-1 "$1" 2>&1; }

# The control topic exists before the agent reads it: a first report, no lag.
out=$(lag 0) && ok "lag report written with sl_lag_report_encode" || not_ok "lag writer" "$out"

cat >"$TMP/agent.properties" <<EOF
bootstrap.servers=$BOOTSTRAP
topic.template=$PREFIX.{region}.{type}
topic.partitions=1
schema.mode=fixed
control.topic=$CONTROL
outbox.dir=$TMP/outbox
node.id=lag-test-1
node.type=seer
node.region=r1
heartbeat.interval.ms=100
heartbeat.max.interval.ms=800
lag.high=1000
lag.low=100
check.interval.ms=1000
usage.threshold.percent=100
EOF

"$SEERLOG" agent --config "$TMP/agent.properties" --stats-interval 1 >/dev/null \
  2>"$TMP/agent.err" &
agent=$!
PIDS+=("$agent")
deadline=$(($(date +%s) + 30))
until "$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning --count 1 \
  --timeout-ms 2000 >/dev/null 2>&1; do
  if (($(date +%s) >= deadline)) || ! kill -0 "$agent" 2>/dev/null; then break; fi
  sleep 0.3
done
"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning >"$EVENTS" \
  2>"$TMP/tail.err" &
PIDS+=("$!")

t0=$(now_ms)
g=$(await_gaps 15 "$t0" 8 'sorted(g)[len(g) // 2] <= 200') &&
  await_stat 10 lag 0 && [[ $(stat throttled) == 0 ]] &&
  ok "normal: heartbeats every ~100 ms, lag 0 read, throttled=0" ||
  not_ok "normal heartbeats" "gaps: $g" "$(tail -3 "$TMP/agent.err")"

# Lag above lag.high: the interval doubles up to 800 ms.
lag 5000 >/dev/null
t1=$(now_ms)
await_stat 15 throttled 1 && await_stat 15 heartbeat_interval_ms 800 &&
  ok "lag 5000 > lag.high: throttled=1, interval stretched to 800 ms" ||
  not_ok "throttling" "$(grep '^{' "$TMP/agent.err" | tail -n 2)"
t2=$(now_ms)
g=$(await_gaps 20 "$t2" 3 'all(700 <= x <= 1000 for x in g[-3:])') &&
  ok "heartbeat gaps grew to ~800 ms ($(gaps "$t2"))" ||
  not_ok "stretched gaps" "gaps since: $g"
python3 - "$(gaps "$t1")" <<'PY' && ok "the interval grew step by step (doubling)" || not_ok "doubling" "$(gaps "$t1")"
import sys
g = [int(x) for x in sys.argv[1].split()]
# 100 -> 200 -> 400 -> 800: some gap between 150 and 500 ms on the way.
assert any(150 <= x <= 500 for x in g), g
PY

# Between lag.low and lag.high: stays throttled (hysteresis).
lag 500 >/dev/null
await_stat 10 lag 500 && sleep 1.2 && [[ $(stat throttled) == 1 && $(stat heartbeat_interval_ms) == 800 ]] &&
  ok "lag 500 (between low and high): still throttled" ||
  not_ok "hysteresis on the way down" "$(grep '^{' "$TMP/agent.err" | tail -n 2)"

# Below lag.low: back to normal.
lag 10 >/dev/null
await_stat 10 throttled 0 && await_stat 5 heartbeat_interval_ms 100 &&
  ok "lag 10 < lag.low: throttled=0, interval back to 100 ms" ||
  not_ok "unthrottling" "$(grep '^{' "$TMP/agent.err" | tail -n 2)"
t3=$(now_ms)
g=$(await_gaps 10 "$t3" 8 'sorted(g)[len(g) // 2] <= 200') &&
  ok "heartbeat gaps back to ~100 ms" || not_ok "normal gaps again" "gaps: $g"

# Between lag.low and lag.high from normal: stays normal (hysteresis).
lag 500 >/dev/null
await_stat 10 lag 500 && sleep 1.2 && [[ $(stat throttled) == 0 && $(stat heartbeat_interval_ms) == 100 ]] &&
  ok "lag 500 from normal: not throttled" ||
  not_ok "hysteresis on the way up" "$(grep '^{' "$TMP/agent.err" | tail -n 2)"

kill -TERM "$agent"
wait "$agent"
rc=$?
[[ $rc -eq 0 ]] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc" "$(tail -3 "$TMP/agent.err")"

echo "$passed passed, $failed failed"
((failed == 0))
