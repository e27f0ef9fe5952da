#!/usr/bin/env bash
# seerlog history against the real broker: one node's events from two topics (it changed type and
# region), several nodes sharing its partition, two batches a second apart. Checks the events and
# their order, json output, --since / --until by record timestamp, a garbage record with the
# node's key, --all-partitions, and the exit codes (3 nothing found, 2 usage, 1 broker, 130 SIGINT).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE (or SEERLOG_TEST_BOOTSTRAP),
# SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-history.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
UNIQ="$$x$(date +%s%N)"
PREFIX="seerlog.test.hist.$UNIQ"
PATTERN="^seerlog\\.test\\.hist\\.$UNIQ\\..*"
NODE=hist-n1
PARTS=3

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# pub ARGS...: publishes one event to $PREFIX.{region}.{type} (topics of $PARTS partitions) and
# appends "NODE TOPIC/PARTITION@OFFSET" to $TMP/published.
pub() {
  local node=$1 out
  shift
  out=$("$SEERLOG" publish --bootstrap "$BOOTSTRAP" -X "topic.template=$PREFIX.{region}.{type}" \
    -X topic.create=true -X topic.partitions=$PARTS --node "$node" "$@" 2>>"$TMP/publish.err")
  if [[ $? -ne 0 || -z $out ]]; then
    not_ok "publish $node $*" "$(tail -3 "$TMP/publish.err")"
    return 1
  fi
  echo "$node $out" >>"$TMP/published"
  # The node's records, in publish order, one batch file per batch.
  [[ $node == "$NODE" ]] && echo "$out" >>"$TMP/batch$BATCH"
  return 0
}

# history ARGS...: runs seerlog history against the test's topics; sets $rc; stdout in
# $TMP/out, stderr in $TMP/err.
history() {
  "$SEERLOG" history --bootstrap "$BOOTSTRAP" --topics "$PATTERN" "$@" >"$TMP/out" 2>"$TMP/err"
  rc=$?
}

# records FILE: the TOPIC/PARTITION@OFFSET column of a table (header skipped).
records() { awk 'NR > 1 { print $2 }' "$1"; }

I1=1700000000000 I2=1700000100000
SEA=(--type seer --region eu --incarnation "$I1")
GW=(--type gateway --region us --incarnation "$I2")
USAGE='"usage":{"cpu_percent":12.5,"cpu_count":8,"load1":0.5,"load5":0.25,"load15":0.125,
        "mem_total":1000,"mem_used":250,"mem_available":750,"disk_total":2048,"disk_used":1024,
        "sensors":{}}'

# --- batch 1: the node is a seer in eu, among other nodes ---
BATCH=1
: >"$TMP/batch1" && : >"$TMP/batch2" && : >"$TMP/published"
pub "$NODE" "${SEA[@]}" --seq 0 --kind join --status up --hostname h1.eu --address 10.0.0.1
for i in 2 3 4 5 6 7 8 9; do pub "hist-n$i" "${SEA[@]}" --seq 0 --kind join --status up; done
echo "{\"node_id\":\"$NODE\",\"node_type\":\"seer\",\"region\":\"eu\",\"incarnation\":$I1,\"seq\":1,
       \"kind\":\"usage\",\"status\":\"up\",$USAGE}" | pub "$NODE" --json
for i in 2 3 4; do pub "hist-n$i" "${SEA[@]}" --seq 1 --kind heartbeat --status up; done
# A record with the node's key that is not an event, partitioned like seerlog's producer does.
printf 'not an event' | kcat -P -b "$BOOTSTRAP" -t "$PREFIX.eu.seer" -k "$NODE" \
  -X partitioner=murmur2_random 2>"$TMP/kcat.err" &&
  ok "kcat wrote a garbage record with the node's key" ||
  not_ok "kcat wrote a garbage record" "$(cat "$TMP/kcat.err")"
pub "$NODE" "${SEA[@]}" --seq 2 --kind status_change --status degraded
# The garbage record sits just before the node's seq 2 in the same partition.
last=$(tail -1 "$TMP/batch1")
GARBAGE="${last%@*}@$((${last##*@} - 1))"
pub hist-n5 "${SEA[@]}" --seq 1 --kind heartbeat --status up
echo "{\"node_id\":\"$NODE\",\"node_type\":\"seer\",\"region\":\"eu\",\"incarnation\":$I1,\"seq\":3,
       \"kind\":\"services\",\"status\":\"degraded\",\"services\":[{\"name\":\"a\",\"meta\":{}},
       {\"name\":\"b\",\"meta\":{}}]}" | pub "$NODE" --json
for i in 2 3; do pub "hist-n$i" "${GW[@]}" --seq 0 --kind join --status up; done

# The point between the batches: record timestamps on either side differ by a second (the sleeps
# are the test's subject, not a wait for a condition).
sleep 1.1
T=$(date +%s%3N)
T_RFC=$(python3 -c "import datetime, sys; print(datetime.datetime.fromtimestamp(int(sys.argv[1]) / 1000,
  datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z')" "$T")
sleep 1.1

# --- batch 2: the node comes back as a gateway in us; its old incarnation's leave arrives in
# between, so the two topics interleave ---
BATCH=2
pub "$NODE" "${GW[@]}" --seq 0 --kind join --status up --hostname h1.us
for i in 4 5 6; do pub "hist-n$i" "${GW[@]}" --seq 0 --kind join --status up; done
pub "$NODE" "${SEA[@]}" --seq 4 --kind leave --status left
pub hist-n2 "${SEA[@]}" --seq 2 --kind leave --status left
echo "{\"node_id\":\"$NODE\",\"node_type\":\"gateway\",\"region\":\"us\",\"incarnation\":$I2,\"seq\":1,
       \"kind\":\"usage\",\"status\":\"up\",$USAGE}" | pub "$NODE" --json
pub "$NODE" "${GW[@]}" --seq 2 --kind heartbeat --status up
for i in 7 8 9; do pub "hist-n$i" "${GW[@]}" --seq 0 --kind join --status up; done
cat "$TMP/batch1" "$TMP/batch2" >"$TMP/all"

# The setup the checks rely on: other nodes share the node's partition in both topics, and that
# partition is murmur2's (Java's), computed here independently.
if python3 - "$TMP/published" "$NODE" "$PARTS" <<'PY'; then
import sys

def murmur2(data):
    m, r = 0x5bd1e995, 24
    h = (0x9747b28c ^ len(data)) & 0xffffffff
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xffffffff
        k ^= k >> r
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    rest = data[4 * n4:]
    if len(rest) == 3:
        h ^= rest[2] << 16
    if len(rest) >= 2:
        h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h

path, node, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = [line.split() for line in open(path)]
want = (murmur2(node.encode()) & 0x7fffffff) % parts
for node_id, rec in recs:
    topic, rest = rec.rsplit("/", 1)
    p = int(rest.split("@")[0])
    if (murmur2(node_id.encode()) & 0x7fffffff) % parts != p:
        sys.exit(f"{node_id} went to {rec}, murmur2 says partition "
                 f"{(murmur2(node_id.encode()) & 0x7fffffff) % parts}")
mine = {rec.rsplit("/", 1)[0] for n, rec in recs if n == node}
for topic in mine:
    others = {n for n, rec in recs if n != node and rec.startswith(f"{topic}/{want}@")}
    if len(others) < 2:
        sys.exit(f"only {others} share partition {want} of {topic} with {node}")
    print(f"{topic}: partition {want}, shared with {sorted(others)}")
PY
  ok "every record is in its murmur2 partition; other nodes share the node's partition"
else
  not_ok "setup: partitions"
fi

# --- the full history ---
history "$NODE"
[[ $rc -eq 0 ]] && ok "history NODE exits 0" || not_ok "history NODE: exit $rc" "$(cat "$TMP/err")"
records "$TMP/out" >"$TMP/got"
diff -u "$TMP/all" "$TMP/got" >"$TMP/diff" &&
  ok "history NODE prints exactly the node's $(wc -l <"$TMP/all") events, in order" ||
  not_ok "history NODE: records" "$(cat "$TMP/diff")"
awk 'NR > 1 { print $3 "/" $4 }' "$TMP/out" | paste -sd' ' >"$TMP/seqs"
want="$I1/0 $I1/1 $I1/2 $I1/3 $I2/0 $I1/4 $I2/1 $I2/2"
[[ $(cat "$TMP/seqs") == "$want" ]] && ok "incarnation/seq in order: $want" ||
  not_ok "incarnation/seq" "got  $(cat "$TMP/seqs")" "want $want"
head -1 "$TMP/out" | grep -q '^TIME  *TOPIC/PARTITION@OFFSET  *INCARNATION  *SEQ  *KIND  *STATUS  *SOURCE  *DETAIL$' &&
  ok "table header" || not_ok "table header" "$(head -1 "$TMP/out")"
grep -q "$I1 *1 *usage *up *agent *cpu 12.5% mem 25.0%" "$TMP/out" &&
  grep -q "$I1 *3 *services *degraded *agent *2 services" "$TMP/out" &&
  grep -q "$I1 *0 *join *up *agent *host h1.eu" "$TMP/out" &&
  ok "table rows: kind, status, source and detail" || not_ok "table rows" "$(cat "$TMP/out")"
grep -q "^seerlog: history: $GARBAGE: .*magic" "$TMP/err" &&
  ok "the garbage record is reported on stderr with its offset ($GARBAGE)" ||
  not_ok "garbage record report (want $GARBAGE)" "$(cat "$TMP/err")"
grep -q "^seerlog: history: 8 events of node $NODE in .*; 1 record of the node could not be decoded$" \
  "$TMP/err" && ok "the summary counts the events and the bad record" ||
  not_ok "summary line" "$(cat "$TMP/err")"
if grep -q 'hist-n[2-9]' "$TMP/out"; then not_ok "other nodes in the output" "$(cat "$TMP/out")"; else
  ok "no other node's event in the table"
fi

# --- json ---
history "$NODE" -o json
if [[ $rc -eq 0 ]] && python3 - "$TMP/out" "$TMP/all" "$NODE" "$I1" "$I2" <<'PY'; then
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
recs = [line.strip() for line in open(sys.argv[2])]
node, i1, i2 = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
assert len(lines) == len(recs), (len(lines), len(recs))
for ev, rec in zip(lines, recs):
    assert list(ev)[:4] == ["_topic", "_partition", "_offset", "_timestamp"], list(ev)
    assert f'{ev["_topic"]}/{ev["_partition"]}@{ev["_offset"]}' == rec, (ev, rec)
    assert ev["node_id"] == node, ev
ts = [ev["_timestamp"] for ev in lines]
assert ts == sorted(ts), ts
assert [(ev["incarnation"], ev["seq"]) for ev in lines] == [
    (i1, 0), (i1, 1), (i1, 2), (i1, 3), (i2, 0), (i1, 4), (i2, 1), (i2, 2)], lines
assert [ev["node_type"] for ev in lines] == ["seer"] * 4 + ["gateway", "seer", "gateway", "gateway"]
assert lines[1]["usage"]["mem_used"] == 250 and lines[3]["services"][1]["name"] == "b", lines
assert lines[0]["hostname"] == "h1.eu" and lines[0]["addresses"] == ["10.0.0.1"], lines[0]
PY
  ok "-o json: one object per event, _topic/_partition/_offset/_timestamp first, fields decoded"
else
  not_ok "-o json (exit $rc)" "$(head -3 "$TMP/out")" "$(cat "$TMP/err")"
fi

# --- time ranges (record timestamps, [since, until)) ---
history "$NODE" --since "$T"
records "$TMP/out" >"$TMP/got"
[[ $rc -eq 0 ]] && diff -u "$TMP/batch2" "$TMP/got" >"$TMP/diff" &&
  ok "--since T (ms since the epoch) gives only batch 2" ||
  not_ok "--since T: exit $rc" "$(cat "$TMP/diff" 2>/dev/null)" "$(cat "$TMP/err")"
grep -q "$GARBAGE" "$TMP/err" && not_ok "--since T reports the batch-1 garbage record" ||
  ok "--since T does not read the batch-1 garbage record"
grep -q "events of node $NODE since " "$TMP/err" && ok "--since T: summary names the range" ||
  not_ok "--since T summary" "$(cat "$TMP/err")"

history "$NODE" --until "$T_RFC"
records "$TMP/out" >"$TMP/got"
[[ $rc -eq 0 ]] && diff -u "$TMP/batch1" "$TMP/got" >"$TMP/diff" &&
  ok "--until T (RFC 3339, $T_RFC) gives only batch 1" ||
  not_ok "--until T: exit $rc" "$(cat "$TMP/diff" 2>/dev/null)" "$(cat "$TMP/err")"
grep -q "^seerlog: history: $GARBAGE: " "$TMP/err" && ok "--until T still reports the garbage record" ||
  not_ok "--until T: garbage report" "$(cat "$TMP/err")"

history "$NODE" --since "$T" --until now -o json
[[ $rc -eq 0 && $(wc -l <"$TMP/out") -eq $(wc -l <"$TMP/batch2") ]] &&
  ok "--since T --until now gives batch 2" || not_ok "--since T --until now: exit $rc" "$(cat "$TMP/err")"

# The bounds at a record's own timestamp: since includes it, until excludes it.
history "$NODE" -o json
TS2=$(python3 -c 'import json, sys
print([json.loads(l) for l in open(sys.argv[1])][4]["_timestamp"])' "$TMP/out")
history "$NODE" --since "$TS2"
records "$TMP/out" >"$TMP/got"
[[ $rc -eq 0 ]] && diff -u "$TMP/batch2" "$TMP/got" >"$TMP/diff" &&
  ok "--since the first batch-2 record's timestamp includes it" ||
  not_ok "--since $TS2: exit $rc" "$(cat "$TMP/diff" 2>/dev/null)" "$(cat "$TMP/err")"
history "$NODE" --until "$TS2"
records "$TMP/out" >"$TMP/got"
[[ $rc -eq 0 ]] && diff -u "$TMP/batch1" "$TMP/got" >"$TMP/diff" &&
  ok "--until the first batch-2 record's timestamp excludes it" ||
  not_ok "--until $TS2: exit $rc" "$(cat "$TMP/diff" 2>/dev/null)" "$(cat "$TMP/err")"

history "$NODE" --since "$T" --until "$((T + 1))"
[[ $rc -eq 3 && -z $(cat "$TMP/out") ]] &&
  grep -q "no events of node $NODE between $T_RFC and " "$TMP/err" &&
  ok "a range without events of the node: exit 3, 'no events of node X between A and B'" ||
  not_ok "empty stretch: exit $rc" "$(cat "$TMP/err")"

# --- every partition ---
history "$NODE" --all-partitions
records "$TMP/out" >"$TMP/got"
[[ $rc -eq 0 ]] && diff -u "$TMP/all" "$TMP/got" >"$TMP/diff" &&
  grep -q "($((2 * PARTS)) partitions of 2 topics, $(($(wc -l <"$TMP/published") + 1)) records read)" \
    "$TMP/err" &&
  ok "--all-partitions: the same events, every record of both topics read" ||
  not_ok "--all-partitions: exit $rc" "$(cat "$TMP/diff" 2>/dev/null)" "$(cat "$TMP/err")"

# --- other nodes ---
history hist-n2 -o json
python3 -c 'import json, sys; evs = [json.loads(l) for l in open(sys.argv[1])]
assert len(evs) == 4 and all(e["node_id"] == "hist-n2" for e in evs), evs' "$TMP/out" &&
  [[ $rc -eq 0 ]] && ok "another node sharing the partition: only its 4 events" ||
  not_ok "history hist-n2: exit $rc" "$(cat "$TMP/out")" "$(cat "$TMP/err")"

history hist-nobody
[[ $rc -eq 3 && -z $(cat "$TMP/out") ]] &&
  grep -q "^seerlog: history: no events of node hist-nobody in $PREFIX.eu.seer, $PREFIX.us.gateway$" \
    "$TMP/err" && ok "unknown node: exit 3, 'no events of node X in TOPICS'" ||
  not_ok "unknown node: exit $rc" "$(cat "$TMP/err")"

# A node whose only record cannot be decoded: a failure (exit 1), not "no events".
printf 'junk' | kcat -P -b "$BOOTSTRAP" -t "$PREFIX.eu.seer" -k hist-junk -X partitioner=murmur2_random
history hist-junk
[[ $rc -eq 1 && -z $(cat "$TMP/out") ]] &&
  grep -q "^seerlog: history: the 1 record of node hist-junk in .* could not be decoded$" "$TMP/err" &&
  ok "a node with only undecodable records: exit 1" ||
  not_ok "only undecodable records: exit $rc" "$(cat "$TMP/err")"

# --- usage errors (exit 2, nothing contacted) ---
history "$NODE" --since "$((T + 1000))" --until "$T"
[[ $rc -eq 2 ]] && grep -q "inverted" "$TMP/err" && ok "--since after --until: exit 2" ||
  not_ok "--since after --until: exit $rc" "$(cat "$TMP/err")"
history "$NODE" --since "$T" --until "$T_RFC"
[[ $rc -eq 2 ]] && grep -q "empty" "$TMP/err" && ok "--since equal to --until: exit 2" ||
  not_ok "--since equal to --until: exit $rc" "$(cat "$TMP/err")"
history "$NODE" --since "yesterday-ish garbage"
[[ $rc -eq 2 ]] && grep -q "^seerlog: history: --since 'yesterday-ish garbage': " "$TMP/err" &&
  ok "unparsable --since: exit 2" || not_ok "unparsable --since: exit $rc" "$(cat "$TMP/err")"
history 'bad/node'
[[ $rc -eq 2 ]] && ok "invalid node id: exit 2" || not_ok "invalid node id: exit $rc" "$(cat "$TMP/err")"
history "$NODE" -o yaml
[[ $rc -eq 2 ]] && ok "-o yaml: exit 2" || not_ok "-o yaml: exit $rc" "$(cat "$TMP/err")"

# --- nothing to read, no broker ---
"$SEERLOG" history --bootstrap "$BOOTSTRAP" --topics '^nope\.' "$NODE" >"$TMP/out" 2>"$TMP/err"
rc=$?
[[ $rc -eq 3 ]] && grep -qF "no topic matches '^nope\.'" "$TMP/err" &&
  ok "--topics matching nothing: exit 3" || not_ok "--topics '^nope\\.': exit $rc" "$(cat "$TMP/err")"

start=$(date +%s)
"$SEERLOG" history --bootstrap 127.0.0.1:1 "$NODE" >"$TMP/out" 2>"$TMP/err"
rc=$? took=$(($(date +%s) - start))
[[ $rc -eq 1 && $took -le 15 ]] && grep -q "^seerlog: history: .*127.0.0.1:1" "$TMP/err" &&
  ok "unreachable broker: exit 1 in ${took}s" ||
  not_ok "unreachable broker" "exit $rc after ${took}s" "stderr: $(tail -3 "$TMP/err")"

# SIGINT while it waits for the (unreachable) broker: a clean stop, exit 130, nothing printed.
start=$(date +%s)
"$SEERLOG" history --bootstrap 127.0.0.1:1 "$NODE" >"$TMP/out" 2>"$TMP/err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
rc=$? took=$(($(date +%s) - start))
[[ $rc -eq 130 && $took -le 5 && -z $(cat "$TMP/out") ]] && grep -q "interrupted" "$TMP/err" &&
  ok "SIGINT: exit 130 in ${took}s, nothing on stdout" ||
  not_ok "SIGINT" "exit $rc after ${took}s" "stderr: $(tail -3 "$TMP/err")"

# --- a producer clock that stepped back (needs confluent-kafka from scripts/python-env) ---
# A copy of the node's seq 3 lands last in its seer partition with a timestamp 10 minutes before
# T. history keeps each partition in offset order: it comes right after the seer leave (not
# first), and the cut by time is one of offsets: --until T ends before the leave (the first
# record at or after T), so it leaves the copy out, and --since T takes it in.
ROOT=${SEERLOG_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
if "$ROOT/scripts/python-env" --check >/dev/null 2>&1; then
  venv=$("$ROOT/scripts/python-env" --path)
  seq3=$(sed -n 4p "$TMP/batch1")
  if out=$("$venv/bin/python" - "$BOOTSTRAP" "$seq3" "$NODE" "$((T - 600000))" 2>&1 <<'PY'
import sys
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, rec, node, ts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
topic, rest = rec.rsplit("/", 1)
part, off = (int(x) for x in rest.split("@"))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
c.assign([TopicPartition(topic, part, off)])
m = c.poll(10)
assert m is not None and not m.error() and m.key() == node.encode(), m
c.close()
p = Producer({"bootstrap.servers": bootstrap})
got = []
p.produce(topic, m.value(), key=node, partition=part, timestamp=ts,
          on_delivery=lambda err, msg: got.append((err, msg)))
p.flush(10)
assert got and got[0][0] is None, got
print(f"{topic}/{part}@{got[0][1].offset()}")
PY
  ); then
    ok "copied seq 3 with a timestamp 10 minutes before T: $out"
    history "$NODE" -o json
    python3 -c 'import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
got = [(e["node_type"], e["seq"]) for e in evs]
want = [("seer", 0), ("seer", 1), ("seer", 2), ("seer", 3), ("gateway", 0), ("seer", 4),
        ("seer", 3), ("gateway", 1), ("gateway", 2)]
assert got == want, got' "$TMP/out" && [[ $rc -eq 0 ]] &&
      ok "a record whose timestamp went back stays in its partition's offset order" ||
      not_ok "clock stepped back: order (exit $rc)" "$(cut -c1-200 "$TMP/out")" "$(cat "$TMP/err")"
    history "$NODE" --until "$T"
    records "$TMP/out" >"$TMP/got"
    diff -u "$TMP/batch1" "$TMP/got" >"$TMP/diff" &&
      ok "--until T ends at the first record at or after T: the copy is left out" ||
      not_ok "clock stepped back: --until T" "$(cat "$TMP/diff")"
    history "$NODE" --since "$T"
    records "$TMP/out" >"$TMP/got"
    { sed -n 1,2p "$TMP/batch2"; echo "$out"; sed -n '3,$p' "$TMP/batch2"; } >"$TMP/want"
    diff -u "$TMP/want" "$TMP/got" >"$TMP/diff" &&
      ok "--since T starts at the first record at or after T: the copy is in" ||
      not_ok "clock stepped back: --since T" "$(cat "$TMP/diff")"
  else
    not_ok "copying a record with an earlier timestamp" "$out"
  fi
else
  echo "skip a producer clock that stepped back: no scripts/python-env virtualenv"
fi

echo "$passed passed, $failed failed"
((failed == 0))
