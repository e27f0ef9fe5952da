#!/usr/bin/env bash
# seerlog agent against the real broker: the join carries the configured description and real
# usage; heartbeats come at about the interval; editing the status and services files yields
# status_change and services events; SIGTERM yields a leave and exit 0; seq strictly increases
# within an incarnation and goes on after a restart (new, larger incarnation); usage events;
# counters; configuration errors exit 2; --help lists the keys with their defaults.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-agent.XXXXXX")
PREFIX="seerlog.test.agent.$$.$(date +%s%N)"
TOPIC="$PREFIX.eu-west.seer"
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

# await SECONDS PYTHON-EXPR: until the expression over `ev` (the events of node agent-test-1 read
# so far, in order) and `allev` (every event) is true. Prints nothing; exit status 0 when true.
await() {
  local deadline=$(($(date +%s) + $1))
  while :; do
    python3 - "$EVENTS" "$2" <<'PY' && return 0
import json, sys
allev = []
for line in open(sys.argv[1]):
    try:
        allev.append(json.loads(line))
    except ValueError:
        pass  # a line being written
ev = [e for e in allev if e["node_id"] == "agent-test-1"]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
}

# check PYTHON-CODE: runs assertions over ev/allev; prints the failed assertion.
check() {
  python3 - "$EVENTS" "$1" <<'PY'
import json, sys
allev = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ev = [e for e in allev if e["node_id"] == "agent-test-1"]
exec(sys.argv[2])
PY
}

cat >"$TMP/agent.properties" <<EOF
bootstrap.servers=$BOOTSTRAP
topic.template=$PREFIX.{region}.{type}
topic.partitions=1
schema.mode=fixed
control.topic=$PREFIX.control
outbox.dir=$TMP/outbox
node.id=agent-test-1
node.type=seer
node.region=eu-west
node.cluster=c1
node.labels=rack=r1,zone=z1
node.services=dns;port=53
node.services.file=$TMP/services
node.status.file=$TMP/status
heartbeat.interval.ms=500
check.interval.ms=200
usage.threshold.percent=100
EOF
printf 'hoarder;cluster=c1\n' >"$TMP/services"
: >"$TMP/status"

# ---- Without a broker: help and configuration errors ----

"$SEERLOG" agent --help >"$TMP/help" 2>&1
grep -Eq '^  heartbeat\.interval\.ms .*default 1000$' "$TMP/help" &&
  grep -Eq '^  node\.status\.file .*default $' "$TMP/help" &&
  grep -Eq '^  lag\.high .*default 100000$' "$TMP/help" &&
  grep -q -- '--stats-interval' "$TMP/help" &&
  ok "agent --help lists the keys with their defaults" || not_ok "agent --help" "$(head -40 "$TMP/help")"

"$SEERLOG" agent --bootstrap 127.0.0.1:1 -X node.region=r >"$TMP/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'node.type is required' "$TMP/out" && ok "no node.type: exit 2" ||
  not_ok "no node.type" "exit $rc" "$(cat "$TMP/out")"
"$SEERLOG" agent --bootstrap 127.0.0.1:1 --type seer >"$TMP/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'node.region is required' "$TMP/out" && ok "no node.region: exit 2" ||
  not_ok "no node.region" "exit $rc" "$(cat "$TMP/out")"
"$SEERLOG" agent --bootstrap 127.0.0.1:1 --type 'se er' --region r >"$TMP/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'type' "$TMP/out" && ok "a bad node.type: exit 2" ||
  not_ok "bad node.type" "exit $rc" "$(cat "$TMP/out")"
printf 'sideways\n' >"$TMP/bad-status"
"$SEERLOG" agent --bootstrap 127.0.0.1:1 --type seer --region r -X "node.status.file=$TMP/bad-status" \
  >"$TMP/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'sideways' "$TMP/out" && ok "a bad status file at start: exit 2" ||
  not_ok "bad status file" "exit $rc" "$(cat "$TMP/out")"
"$SEERLOG" agent --bootstrap 127.0.0.1:1 --type seer --region r -X 'node.labels=a=1,a=2' \
  >"$TMP/out" 2>&1
rc=$?
[[ $rc -eq 2 ]] && grep -q 'node.labels' "$TMP/out" && ok "duplicate labels: exit 2" ||
  not_ok "duplicate labels" "exit $rc" "$(cat "$TMP/out")"

# ---- The agent against the broker ----

: >"$EVENTS"
"$SEERLOG" agent --config "$TMP/agent.properties" --stats-interval 1 \
  >"$TMP/agent.out" 2>"$TMP/agent.err" &
agent=$!
PIDS+=("$agent")

# tail needs the topic: it exists once the join was produced.
deadline=$(($(date +%s) + 30))
until "$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning --count 1 \
  --timeout-ms 2000 >/dev/null 2>&1; do
  if (($(date +%s) >= deadline)) || ! kill -0 "$agent" 2>/dev/null; then break; fi
  sleep 0.3
done
"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning >"$EVENTS" \
  2>"$TMP/tail.err" &
PIDS+=("$!")

if await 20 'len(ev) >= 1'; then
  if check '
j = ev[0]
assert j["kind"] == "join" and j["status"] == "up", j
assert (j["node_type"], j["region"], j["cluster"]) == ("seer", "eu-west", "c1"), j
assert j["labels"] == {"rack": "r1", "zone": "z1"}, j["labels"]
assert j["services"] == [{"name": "dns", "meta": {"port": "53"}},
                         {"name": "hoarder", "meta": {"cluster": "c1"}}], j["services"]
u = j["usage"]
assert u is not None and u["cpu_count"] >= 1 and 0 <= u["cpu_percent"] <= 100, u
assert u["mem_total"] > 0 and 0 < u["mem_used"] <= u["mem_total"], u
assert u["disk_total"] > 0 and 0 < u["disk_used"] <= u["disk_total"], u
assert u["load1"] >= 0, u
assert j["hostname"] and j["source"] == "agent" and j["agent_version"].startswith("seerlog-agent/"), j
assert j["incarnation"] > 1600000000000 and j["seq"] >= 0, j
'; then ok "join carries type, region, labels, services and real usage"; else
    not_ok "join event fields"; fi
else
  not_ok "join event in Kafka" "$(tail -5 "$TMP/agent.err")" "$(cat "$TMP/tail.err")"
fi

# Heartbeats: 500 ms apart (nothing else happens: usage.threshold.percent=100).
if await 20 'sum(e["kind"] == "heartbeat" for e in ev) >= 6'; then
  check '
hb = [e["event_time"] for e in ev if e["kind"] == "heartbeat"][:6]
times = [ev[0]["event_time"]] + hb
gaps = sorted(b - a for a, b in zip(times, times[1:]))
med = gaps[len(gaps) // 2]
assert 400 <= med <= 700 and gaps[0] >= 300 and gaps[-1] <= 1200, gaps
print("     heartbeat gaps (ms):", gaps)
' && ok "heartbeats every ~500 ms" || not_ok "heartbeat interval"
else
  not_ok "6 heartbeats within 20 s" "$(tail -3 "$TMP/agent.err")"
fi

# Status file -> status_change within ~2 check intervals (200 ms each).
t0=$(now_ms)
echo degraded >"$TMP/status"
if await 10 'any(e["kind"] == "status_change" for e in ev)'; then
  check "
e = [e for e in ev if e['kind'] == 'status_change'][0]
assert e['status'] == 'degraded', e
took = e['event_time'] - $t0
assert took <= 2 * 200 + 150, took
print('     status_change %d ms after the edit' % took)
later = [x for x in ev if x['seq'] > e['seq']]
assert all(x['status'] == 'degraded' for x in later), later
" && ok "status file edit -> status_change (degraded) within 2 checks" || not_ok "status_change event"
else
  not_ok "status_change event within 10 s" "$(tail -3 "$TMP/agent.err")"
fi

# Services file -> services event.
t0=$(now_ms)
printf 'hoarder;cluster=c1\n# a comment\ngateway;port=443;proto=https\n' >"$TMP/services"
if await 10 'any(e["kind"] == "services" for e in ev)'; then
  check "
e = [e for e in ev if e['kind'] == 'services'][0]
assert [s['name'] for s in e['services']] == ['dns', 'hoarder', 'gateway'], e['services']
assert e['services'][2]['meta'] == {'port': '443', 'proto': 'https'}, e['services']
assert e['status'] == 'degraded', e
assert e['event_time'] - $t0 <= 2 * 200 + 150, e['event_time'] - $t0
" && ok "services file edit -> services event" || not_ok "services event"
else
  not_ok "services event within 10 s" "$(tail -3 "$TMP/agent.err")"
fi

# An unreadable edit is a warning, not a crash, not an event.
printf 'sideways\n' >"$TMP/status"
sleep 0.6 # three checks: nothing must happen, so there is no condition to await
kill -0 "$agent" 2>/dev/null && grep -q 'sideways' "$TMP/agent.err" &&
  check 'assert sum(e["kind"] == "status_change" for e in ev) == 1' &&
  ok "a bad status word is a warning; the status stays" ||
  not_ok "bad status word at run time" "$(tail -3 "$TMP/agent.err")"

echo degraded >"$TMP/status"

# SIGTERM -> leave, exit 0.
kill -TERM "$agent"
wait "$agent"
rc=$?
[[ $rc -eq 0 ]] && ok "SIGTERM: exit 0" || not_ok "SIGTERM: exit $rc" "$(tail -5 "$TMP/agent.err")"
if await 10 'ev and ev[-1]["kind"] == "leave"'; then
  check 'assert ev[-1]["status"] == "left", ev[-1]' && ok "leave event (status left)" ||
    not_ok "leave status"
else
  not_ok "leave event in Kafka"
fi
check '
inc = {e["incarnation"] for e in ev}
assert len(inc) == 1, inc
seqs = [e["seq"] for e in ev]
assert all(b > a for a, b in zip(seqs, seqs[1:])), seqs
assert len({e["event_id"] for e in ev}) == len(ev)
' && ok "one incarnation, seq strictly increasing, event ids unique ($(check 'print(len(ev))') events)" ||
  not_ok "incarnation/seq"

# Counters: one JSON line per second and one at exit.
if python3 - "$TMP/agent.err" <<'PY'; then ok "--stats-interval prints the counters as JSON lines"; else not_ok "stats lines" "$(grep '^{' "$TMP/agent.err" | tail -2)"; fi
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
assert len(lines) >= 3, len(lines)
last = lines[-1]
for k in ("sent", "coalesced", "outbox_depth", "throttled", "accepted", "heartbeat_interval_ms"):
    assert k in last, k
assert last["outbox_depth"] == 0 and last["sent"] == last["accepted"], last
assert last["published"]["join"] == 1 and last["published"]["leave"] == 1, last
assert last["published"]["status_change"] == 1 and last["published"]["services"] == 1, last
assert last["throttled"] == 0 and last["heartbeat_interval_ms"] == 500, last
PY

# Restart with the same outbox: a new, larger incarnation; seq goes on.
"$SEERLOG" agent --config "$TMP/agent.properties" --once >"$TMP/once.out" 2>"$TMP/once.err"
rc=$?
[[ $rc -eq 0 ]] && ok "--once: exit 0" || not_ok "--once: exit $rc" "$(cat "$TMP/once.err")"
if await 10 'len({e["incarnation"] for e in ev}) == 2 and ev[-1]["kind"] == "leave"'; then
  check '
inc = sorted({e["incarnation"] for e in ev})
first = [e for e in ev if e["incarnation"] == inc[0]]
second = [e for e in ev if e["incarnation"] == inc[1]]
assert inc[1] > inc[0], inc
assert [e["kind"] for e in second] == ["join", "leave"], second
assert second[0]["seq"] > first[-1]["seq"], (first[-1]["seq"], second[0]["seq"])
assert second[1]["seq"] > second[0]["seq"]
assert second[0]["status"] == "up" or second[0]["status"] == "degraded"
' && ok "restart: larger incarnation, seq continues ($(check 'print(ev[-2]["seq"])'))" ||
    not_ok "restart incarnation/seq"
else
  not_ok "restart events in Kafka" "$(cat "$TMP/once.err")"
fi

# Usage events: with a threshold of 0 every check sends one (and no heartbeat is needed).
cat >"$TMP/usage.properties" <<EOF
bootstrap.servers=$BOOTSTRAP
topic.template=$PREFIX.{region}.{type}
schema.mode=fixed
control.topic=$PREFIX.control
outbox.dir=$TMP/outbox-usage
node.id=agent-test-2
node.type=seer
node.region=eu-west
heartbeat.interval.ms=5000
check.interval.ms=100
usage.threshold.percent=0
EOF
"$SEERLOG" agent --config "$TMP/usage.properties" >/dev/null 2>"$TMP/usage.err" &
agent2=$!
PIDS+=("$agent2")
if await 15 'sum(e["node_id"] == "agent-test-2" and e["kind"] == "usage" for e in allev) >= 5'; then
  ok "usage events when usage moved by the threshold"
else
  not_ok "usage events" "$(tail -3 "$TMP/usage.err")"
fi
kill -INT "$agent2"
wait "$agent2"
rc=$?
[[ $rc -eq 0 ]] && await 10 'allev[-1]["node_id"] == "agent-test-2" and allev[-1]["kind"] == "leave"' &&
  check 'assert not any(e["node_id"] == "agent-test-2" and e["kind"] == "heartbeat" for e in allev)' &&
  ok "SIGINT: leave, exit 0; no heartbeat while usage events flow" ||
  not_ok "SIGINT (exit $rc)" "$(tail -3 "$TMP/usage.err")"

echo "$passed passed, $failed failed"
((failed == 0))
