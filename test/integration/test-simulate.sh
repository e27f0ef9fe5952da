#!/usr/bin/env bash
# seerlog simulate against the real broker: 200 nodes over 3 regions x 4 types at 2000 events/s
# for 3 s with silent, flapping and restarting nodes (fixed seed, own topics, own outbox). Checks
# with kcat and seerlog tail that every region/type topic exists, every node lands in exactly its
# own topic and always in the same partition, the record count is the summary's "sent", each
# (node, incarnation) has seq 0..n without gaps or duplicates, and every restarted node joined
# again in its new incarnation; a later run starts every node in a newer incarnation. Then
# seerlog bench produce with the outbox on and off (smoke test:
# the final line's format, no performance assertion).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015,SC2317
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-simulate.XXXXXX")
sim_pid=
cleanup() {
  [[ -n $sim_pid ]] && kill "$sim_pid" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
PREFIX="seerlog.test.sim.$$.$(date +%s%N)"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 200 --regions 3 --types 4 \
  --rate 2000 --duration 3 --seed 42 --silent 5 --flap 5 --restart 5 --progress \
  -X "topic.template=$PREFIX.{region}.{type}" -X schema.mode=fixed -X outbox.enable=true \
  -X "outbox.dir=$TMP/outbox" >"$TMP/summary.json" 2>"$TMP/simulate.err"
rc=$?
[[ $rc -eq 0 ]] && ok "simulate exits 0" ||
  not_ok "simulate exit code $rc" "$(tail -n 5 "$TMP/simulate.err")"
if python3 - "$TMP/summary.json" >"$TMP/sent" <<'PY'; then ok "summary: one JSON line, counts add up"; else not_ok "summary" "$(cat "$TMP/summary.json")"; fi
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
s = json.loads(lines[0])
assert s["nodes"] == 200 and s["regions"] == 3 and s["types"] == 4 and s["seed"] == 42, s
assert s["sent"] == s["accepted"] == s["published"] > 0, s
assert s["faults"] == {"silent": 10, "flap": 10, "restart": 10}, s
k = s["kinds"]
assert sum(k.values()) == s["published"], s
assert k["join"] == 200 + 10, s
assert k["status_change"] >= 10 and k["usage"] > 0 and k["heartbeat"] > 0 and k["leave"] == 0, s
# 2000/s for 3 s, give or take scheduling on a busy machine.
assert 3000 <= s["published"] <= 6200, s
print(s["sent"])
PY
sent=$(cat "$TMP/sent" 2>/dev/null || echo 0)

regions=(eu-west us-east ap-south) types=(auth hoarder monkey patrick)
kcat -L -J -b "$BOOTSTRAP" >"$TMP/metadata.json" 2>"$TMP/kcat.err" ||
  not_ok "kcat -L" "$(cat "$TMP/kcat.err")"
want=$(for r in "${regions[@]}"; do for t in "${types[@]}"; do echo "$PREFIX.$r.$t"; done; done |
  sort)
got=$(python3 -c '
import json, sys
md = json.load(open(sys.argv[1]))
print("\n".join(sorted(t["topic"] for t in md["topics"] if t["topic"].startswith(sys.argv[2] + "."))))
' "$TMP/metadata.json" "$PREFIX")
[[ $got == "$want" ]] && ok "the 12 region x type topics exist, and no other" ||
  not_ok "topics" "want: ${want//$'\n'/ }" "got: ${got//$'\n'/ }"

# Every record: topic, partition, key.
: >"$TMP/records"
for topic in $want; do
  kcat -C -b "$BOOTSTRAP" -t "$topic" -e -q -f "$topic %p %k\n" >>"$TMP/records" 2>"$TMP/kcat.err" ||
    not_ok "kcat -C -t $topic" "$(cat "$TMP/kcat.err")"
done
if python3 - "$TMP/records" "$PREFIX" "$sent" <<'PY'; then ok "every node in exactly its own topic, one partition per key, count = sent"; else not_ok "records in the topics"; fi
import collections, sys
path, prefix, sent = sys.argv[1], sys.argv[2], int(sys.argv[3])
where = collections.defaultdict(set)
n = 0
for line in open(path):
    topic, part, key = line.split()
    region, typ = topic[len(prefix) + 1:].split(".")
    assert key.startswith(typ + "-" + region + "-"), (topic, key)
    where[key].add((topic, part))
    n += 1
assert n == sent, ("records", n, "sent", sent)
bad = {k: v for k, v in where.items() if len(v) != 1}
assert not bad, bad
assert len(where) == 200, len(where)
PY

# Decoded, per topic: (incarnation, seq) and the joins of restarted nodes.
: >"$TMP/events"
for topic in $want; do
  cnt=$(grep -c "^$topic " "$TMP/records")
  "$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$topic" --from-beginning --count "$cnt" \
    --timeout-ms 20000 >>"$TMP/events" 2>"$TMP/tail.err" ||
    not_ok "seerlog tail $topic" "$(cat "$TMP/tail.err")"
done
if python3 - "$TMP/events" "$TMP/summary.json" <<'PY'; then ok "seq 0..n per incarnation, restarted nodes joined again"; else not_ok "decoded events"; fi
import collections, json, sys
summary = json.load(open(sys.argv[2]))
lives = collections.defaultdict(list)
for line in open(sys.argv[1]):
    e = json.loads(line)
    lives[(e["node_id"], e["incarnation"])].append(e)
assert sum(len(v) for v in lives.values()) == summary["sent"], "decoded count"
incs = collections.defaultdict(list)
for (node, inc), evs in lives.items():
    evs.sort(key=lambda e: e["seq"])
    assert [e["seq"] for e in evs] == list(range(len(evs))), (node, inc, [e["seq"] for e in evs])
    assert evs[0]["kind"] == "join", (node, inc, evs[0])
    incs[node].append(inc)
restarted = [n for n, v in incs.items() if len(v) > 1]
assert len(restarted) == summary["faults"]["restart"], restarted
for n in restarted:
    assert len(incs[n]) == 2, (n, incs[n])
kinds = collections.Counter(e["kind"] for v in lives.values() for e in v)
assert dict(kinds) == {k: v for k, v in summary["kinds"].items() if v}, (kinds, summary["kinds"])
PY

# Without --duration: runs until SIGTERM, then flushes and prints the summary. A template
# without placeholders puts every node in one topic.
"$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 20 --rate 200 --seed 7 --progress \
  -X "topic.template=$PREFIX.all" -X schema.mode=fixed >"$TMP/term.json" 2>"$TMP/term.err" &
sim_pid=$!
for ((i = 0; i < 300; i++)); do
  grep -q 'sent [1-9]' "$TMP/term.err" && break
  sleep 0.1
done
kill -TERM "$sim_pid"
wait "$sim_pid"
rc=$? sim_pid=
sent=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["sent"] == s["accepted"] == s["published"] > 0 and s["kinds"]["join"] == 20, s
print(s["sent"])' "$TMP/term.json" 2>"$TMP/py.err")
n=$(kcat -C -b "$BOOTSTRAP" -t "$PREFIX.all" -e -q -f '.\n' 2>/dev/null | wc -l)
[[ $rc -eq 0 && -n $sent && $n -eq $sent ]] &&
  ok "SIGTERM stops simulate: exit 0, summary, all $sent events in the one topic" ||
  not_ok "simulate until SIGTERM (exit $rc, $n records, sent '$sent')" "$(cat "$TMP/term.json")" \
    "$(tail -n 3 "$TMP/term.err")" "$(cat "$TMP/py.err")"

# sim_events NAME ERRFILE SIMULATE-ARGS...: 30 nodes at 300 events/s into topic $PREFIX.NAME, then
# every event it sent, decoded, in $TMP/NAME.events (its summary in $TMP/NAME.json).
sim_events() {
  local name=$1 errf=$2
  shift 2
  "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 30 --rate 300 "$@" \
    -X "topic.template=$PREFIX.$name" -X schema.mode=fixed >"$TMP/$name.json" 2>"$errf" &&
    "$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$PREFIX.$name" --from-beginning \
      --count "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' \
        "$TMP/$name.json")" --timeout-ms 20000 >"$TMP/$name.events" 2>>"$errf"
}

# The same seed picks the same faulty nodes.
for run in a b; do
  sim_events "seed.$run" "$TMP/seed.err" --duration 2 --seed 99 --restart 20 --flap 20
done
if python3 - "$TMP/seed.a.events" "$TMP/seed.b.events" >"$TMP/seed.out" 2>&1 <<'PY'; then ok "same --seed, same restarted and flapping nodes"; else not_ok "--seed" "$(cat "$TMP/seed.out" "$TMP/seed.err")"; fi
import collections, json, sys
def faulty(path):
    incs, flaps = collections.defaultdict(set), set()
    for line in open(path):
        e = json.loads(line)
        incs[e["node_id"]].add(e["incarnation"])
        if e["kind"] == "status_change":
            flaps.add(e["node_id"])
    return sorted(n for n, v in incs.items() if len(v) > 1), sorted(flaps)
a, b = faulty(sys.argv[1]), faulty(sys.argv[2])
assert a == b and len(a[0]) == 6 and len(a[1]) == 6, (a, b)
PY

# A second run (another seed) starts every node in a newer incarnation than the first: a node's
# new process must never look older than its last one, or readers drop its events as stale.
sim_events inc.x "$TMP/inc.err" --duration 1 --seed 1
sim_events inc.y "$TMP/inc.err" --duration 1 --seed 2
if python3 - "$TMP/inc.x.events" "$TMP/inc.y.events" >"$TMP/inc.out" 2>&1 <<'PY'; then ok "a later run: every node in a newer incarnation"; else not_ok "incarnations across runs" "$(cat "$TMP/inc.out" "$TMP/inc.err")"; fi
import collections, json, sys
def incs(path):
    d = collections.defaultdict(set)
    for line in open(path):
        e = json.loads(line)
        d[e["node_id"]].add(e["incarnation"])
    return d
x, y = incs(sys.argv[1]), incs(sys.argv[2])
assert len(x) == len(y) == 30, (len(x), len(y))
older = [n for n in x if min(y[n]) <= max(x[n])]
assert not older, ("older in the second run", older)
PY

"$SEERLOG" simulate --nodes 10 --silent 60 --flap 50 >/dev/null 2>"$TMP/err"
rc=$?
[[ $rc -eq 2 ]] && grep -q 'more than 100' "$TMP/err" && ok "fault percentages over 100: usage error" ||
  not_ok "fault percentages over 100: exit $rc" "$(cat "$TMP/err")"

for mode in on off; do
  out=$(timeout 120 "$SEERLOG" bench produce --bootstrap "$BOOTSTRAP" --events 20000 \
    --outbox "$mode" --topic "$PREFIX.bench.$mode" 2>"$TMP/bench.err" | tail -n 1)
  rc=$?
  [[ $rc -eq 0 && $out =~ ^bench\ produce:\ 20000\ events,\ [0-9]+\ bytes,\ outbox\ $mode:\ [0-9]+\ events/s,\ [0-9]+\.[0-9]\ MB/s$ ]] &&
    ok "bench produce --outbox $mode: $out" ||
    not_ok "bench produce --outbox $mode (exit $rc)" "stdout: $out" "$(tail -n 5 "$TMP/bench.err")"
done
n=$(kcat -C -b "$BOOTSTRAP" -t "$PREFIX.bench.on" -e -q -f '.\n' 2>/dev/null | wc -l)
[[ $n -eq 20001 ]] && ok "bench produce --outbox on wrote 20000 events and the warm-up one" ||
  not_ok "bench topic holds $n records, want 20001"

finish
