#!/usr/bin/env bash
# seerlog project against the real broker (and a real registry), issue 5's proof:
#  - a simulated fleet (restarts and flapping included) published to region/type topics;
#  - two projectors in different groups, one with 1-record batches, converge to the same store
#    hash, which `seerlog state hash` prints too, with every node present;
#  - crash trials: while a second simulation publishes, a projector is killed with SIGKILL at a
#    random moment SEERLOG_CRASH_TRIALS times (default 6; the full proof is 20 or more) and
#    restarted on the same store; afterwards its hash equals a fresh projector's that replayed
#    the whole log once;
#  - the changelog topic's latest record per node equals the store; `seerlog state` reads it;
#  - a projector started from a snapshot of store A reads only the newer records and ends with
#    the full replay's hash;
#  - liveness: with 100 ms heartbeats every node is published dead, an inventory ghost missing;
#  - dead letters: garbage, a truncated record, an unknown schema id and a null value go to the
#    dead-letter topic with headers naming the reason and their source, processing goes on and
#    the state does not change; a duplicate record is ignored;
#  - lag: a flooded topic gets its partitions paused, and the control topic carries the
#    projector's lag reports (total = the sum of its 15 partitions').
#  - a full store stops the projector with a clear error; restarted with room it ends equal to
#    a fresh replay;
#  - a record of a schema id the projector must fetch while the registry is down: the batch is
#    tried again (not dead-lettered), and applied once the registry is back.
# Python checks that read Avro use the project's venv (scripts/python-env: fastavro,
# confluent-kafka).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TRIALS=${SEERLOG_CRASH_TRIALS:-6}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-project.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.proj.$UNIQ"
REG_PID= SIM_PID= PROJ_PID=
cleanup() {
  for pid in $PROJ_PID $SIM_PID $REG_PID; do
    kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A registry of our own (the unknown schema id must be a registry's 404, not a network error).
start_registry proj || { not_ok "registry did not start" "$(tail -5 "$TMP/registry.log")"; finish; }

sim() { # SEED DURATION [options]: a fleet publishing to $PREFIX.state.{region}.{type}, its
  # schema registered in the test's registry (which the projectors decode with: there, ids are
  # the registry's)
  local seed=$1 duration=$2
  shift 2
  timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 60 --regions 2 --types 2 \
    --rate 1500 --duration "$duration" --seed "$seed" --restart 4 --flap 4 \
    -X "topic.template=$PREFIX.state.{region}.{type}" -X topic.partitions=3 \
    --registry "$REG" -X schema.mode=register -X outbox.enable=false "$@"
}
proj() { # STORE GROUP [options]: seerlog project over the test's topics, exec'ed (so that a
  # background `proj ... &` is the projector's own pid, for kill -9), under a 120 s timeout
  # unless it runs in the background
  local store=$1 group=$2
  shift 2
  exec ${PROJ_TIMEOUT:+timeout 120} "$SEERLOG" project --bootstrap "$BOOTSTRAP" --registry "$REG" \
    --store "$store" --group "$group-$UNIQ" \
    -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" -X "dlq.topic=$PREFIX.dlq" \
    -X "project.changelog.topic=$PREFIX.snapshot.$group" -X project.changelog.partitions=2 "$@"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2" 2>/dev/null; }

# ---- convergence of two groups ----
sim 11 3 >"$TMP/sim1.json" 2>"$TMP/sim1.err" && ok "simulate (first fleet)" ||
  not_ok "simulate" "$(tail -3 "$TMP/sim1.err")"
outA=$(PROJ_TIMEOUT=1 proj "$TMP/a" a --catch-up 2>"$TMP/a.err")
# B applies one record per batch, so nothing is coalesced: each event goes through the store's
# guard on its own, as a plain sequential replay would (no changelog: a transaction per record).
outB=$(PROJ_TIMEOUT=1 proj "$TMP/b" b --catch-up -X project.batch.max=1 \
  -X project.changelog.topic= 2>"$TMP/b.err")
hA=$(field "$outA" hash) hB=$(field "$outB" hash)
sent=$(field "$(cat "$TMP/sim1.json")" sent)
[[ -n $hA && $hA == "$hB" ]] &&
  ok "two groups (default batches, which coalesce, and one record per batch) converge: $hA" ||
  not_ok "hashes differ" "A: $outA" "B: $outB" "$(tail -3 "$TMP/a.err")"
[[ $(field "$outA" consumed) == "$sent" && $(field "$outA" nodes) == 60 ]] &&
  ok "A consumed all $sent records, 60 nodes" || not_ok "A: $outA (sent $sent)"
[[ $(field "$outB" batches) == "$sent" && $(field "$outB" superseded) == 0 &&
  $(field "$outA" superseded) -gt 0 ]] &&
  ok "B committed one batch per record; A coalesced $(field "$outA" superseded) events" ||
  not_ok "batches: A $outA" "B $outB"
# The changelog: its latest record per node (read_committed) is the store's state.
"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --registry "$REG" --topic "$PREFIX.snapshot.a" \
  --from-beginning --timeout-ms 3000 >"$TMP/changelog.jsonl" 2>"$TMP/tail.err"
"$SEERLOG" state list --store "$TMP/a" >"$TMP/a.jsonl" 2>&1
if python3 - "$TMP/changelog.jsonl" "$TMP/a.jsonl" "$PREFIX.snapshot.a" >"$TMP/cl.out" 2>&1 <<'PY'; then ok "changelog: the latest record of each of the 60 nodes equals the store's state"; else not_ok "changelog vs store" "$(cat "$TMP/cl.out")" "$(tail -3 "$TMP/tail.err")"; fi
import json, sys
latest = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["_topic"] == sys.argv[3], e["_topic"]
    latest[e["node_id"]] = e
store = {e["node_id"]: e for e in map(json.loads, open(sys.argv[2]))}
assert len(store) == 60, len(store)
assert set(latest) == set(store), set(latest) ^ set(store)
for n, e in store.items():
    c = latest[n]
    for k in e:
        assert c[k] == e[k], (n, k, c[k], e[k])
PY
h=$("$SEERLOG" state hash --store "$TMP/a" 2>&1)
[[ $h == "$hA" ]] && ok "seerlog state hash prints the same hash" || not_ok "state hash: $h"
n=$("$SEERLOG" state list --store "$TMP/a" | wc -l)
[[ $n == 60 ]] && ok "state list: 60 nodes" || not_ok "state list: $n lines"
"$SEERLOG" state get auth-eu-west-0 --store "$TMP/a" >"$TMP/node.json" 2>&1 &&
  python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); assert e["node_id"]=="auth-eu-west-0" and e["seq"]>=0' "$TMP/node.json" &&
  ok "state get NODE: its latest state" || not_ok "state get" "$(cat "$TMP/node.json")"
"$SEERLOG" state get no-such-node --store "$TMP/a" >/dev/null 2>&1
[[ $? -eq 1 ]] && ok "state get of an unknown node exits 1" || not_ok "state get unknown node"
# The store is locked while a projector has it open.
proj "$TMP/a" a >/dev/null 2>"$TMP/lockproj.err" &
PROJ_PID=$!
# (Only once it has the store: a second projector starting at the moment it opens the store
# would make the first one the one refused.)
for _ in $(seq 300); do
  grep -q "seerlog: project: store" "$TMP/lockproj.err" 2>/dev/null && break
  kill -0 "$PROJ_PID" 2>/dev/null || break
  sleep 0.1
done
# A second projector on it is refused (readers such as `state hash` open it read-only).
(PROJ_TIMEOUT=1 proj "$TMP/a" a2 --catch-up) >/dev/null 2>"$TMP/lock.err"
grep -q "in use by another process" "$TMP/lock.err" && ok "a store in use is refused, saying so" ||
  not_ok "store lock" "$(cat "$TMP/lock.err")" "projector: $(tail -5 "$TMP/lockproj.err")"
kill "$PROJ_PID"
wait "$PROJ_PID"
PROJ_PID=

# ---- crash trials ----
sim 12 $((2 * TRIALS + 4)) >"$TMP/sim2.json" 2>"$TMP/sim2.err" &
SIM_PID=$!
changed=0 prev=
for ((i = 1; i <= TRIALS; i++)); do
  proj "$TMP/c" c >/dev/null 2>"$TMP/c$i.err" &
  PROJ_PID=$!
  # Killed at a random moment of its work: after it got its partitions (the store's offsets
  # read, fetching started), within the next 0-1.2 s.
  for _ in $(seq 300); do
    grep -q "assigned [0-9]* partitions" "$TMP/c$i.err" 2>/dev/null && break
    kill -0 "$PROJ_PID" 2>/dev/null || break
    sleep 0.1
  done
  sleep "$(python3 -c 'import random; print(round(random.uniform(0, 1.2), 2))')"
  kill -9 "$PROJ_PID" 2>/dev/null
  wait "$PROJ_PID" 2>/dev/null
  PROJ_PID=
  cur=$("$SEERLOG" state hash --store "$TMP/c" 2>&1) || not_ok "trial $i: store unreadable: $cur"
  [[ $cur != "$prev" ]] && changed=$((changed + 1))
  prev=$cur
done
wait "$SIM_PID" && ok "simulate (second fleet, during $TRIALS crash trials)" ||
  not_ok "second simulate" "$(tail -3 "$TMP/sim2.err")"
SIM_PID=
((changed >= 2)) && ok "the store changed between kills in $changed of $TRIALS trials" ||
  not_ok "the kills did not interrupt work ($changed of $TRIALS trials changed the store)"
outC=$(PROJ_TIMEOUT=1 proj "$TMP/c" c --catch-up 2>>"$TMP/c.err")
outD=$(PROJ_TIMEOUT=1 proj "$TMP/d" d --catch-up 2>"$TMP/d.err")
hC=$(field "$outC" hash) hD=$(field "$outD" hash)
[[ -n $hC && $hC == "$hD" && $hC != "$hA" ]] &&
  ok "after $TRIALS kill -9 trials the store equals a fresh replay's: $hC" ||
  not_ok "crash trials: hashes differ" "C: $outC" "D: $outD" "$(tail -5 "$TMP/c.err")"
[[ $(field "$outD" nodes) == 60 ]] && ok "fresh replay: 60 nodes" || not_ok "D: $outD"

# ---- a projector started from a snapshot catches up from the offsets inside it ----
snap=$("$SEERLOG" snapshot export "$TMP/a.avro" --store "$TMP/a" 2>&1) &&
  ok "snapshot export of store A" || not_ok "snapshot export" "$snap"
outE=$(PROJ_TIMEOUT=1 proj "$TMP/e" e --from-snapshot "$TMP/a.avro" --catch-up 2>"$TMP/e.err")
sent2=$(field "$(cat "$TMP/sim2.json")" sent)
[[ $(field "$outE" hash) == "$hD" && $(field "$outE" consumed) == "$sent2" ]] &&
  ok "from the snapshot: read only the $sent2 newer records, same hash as a full replay" ||
  not_ok "from snapshot: $outE (want hash $hD, consumed $sent2)" "$(tail -3 "$TMP/e.err")"
(PROJ_TIMEOUT=1 proj "$TMP/e" e --from-snapshot "$TMP/a.avro" --catch-up >/dev/null 2>"$TMP/e2.err")
[[ $? -eq 1 ]] && grep -q "needs an empty store" "$TMP/e2.err" &&
  ok "--from-snapshot into a store with nodes is refused" || not_ok "--from-snapshot refusal" "$(cat "$TMP/e2.err")"

# ---- liveness: every node dead (10 x 100 ms silent), an inventory node missing ----
{ echo "# expected nodes"; echo "ghost-node"; echo "auth-eu-west-0"; } >"$TMP/inventory"
proj "$TMP/d" d -X heartbeat.interval.ms=100 -X inventory.file="$TMP/inventory" \
  -X "liveness.topic=$PREFIX.liveness" >/dev/null 2>"$TMP/live.err" &
PROJ_PID=$!
venv=$("${SEERLOG_SOURCE_DIR:?}/scripts/python-env" --path)
for _ in $(seq 60); do
  "$venv/bin/python" - "$BOOTSTRAP" "$PREFIX.liveness" "$SEERLOG_SOURCE_DIR/schemas/liveness.avsc" \
    >"$TMP/live.out" 2>&1 <<'PY' && break
import io, json, sys
import fastavro
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, avsc = sys.argv[1:4]
schema = fastavro.parse_schema(json.load(open(avsc)))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "liveness-check",
              "enable.auto.commit": False})
md = c.list_topics(topic, timeout=10).topics[topic]
assert md.error is None, md.error
c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
latest, idle = {}, 0
while idle < 5:
    m = c.poll(0.2)
    if m is None:
        idle += 1
        continue
    idle = 0
    v = m.value()
    assert v[0] == 0, v[:5]
    rec = fastavro.schemaless_reader(io.BytesIO(v[5:]), schema)
    assert rec["node_id"] == m.key().decode(), (rec, m.key())
    latest[rec["node_id"]] = rec["state"]
c.close()
assert latest.get("ghost-node") == "missing", latest.get("ghost-node")
dead = [n for n, st in latest.items() if st == "dead"]
assert len(dead) == 60, (len(dead), sorted(set(latest.values())))
print("ok")
PY
  sleep 0.5
done
kill "$PROJ_PID"
wait "$PROJ_PID"
PROJ_PID=
[[ $(cat "$TMP/live.out") == ok ]] &&
  ok "liveness topic: all 60 nodes dead after 10 silent intervals, the inventory's ghost missing" ||
  not_ok "liveness" "$(tail -5 "$TMP/live.out")" "$(tail -3 "$TMP/live.err")"

# ---- dead letters and duplicates ----
T=$PREFIX.state.eu-west.auth
printf 'garbage' | kcat -P -b "$BOOTSTRAP" -t "$T" -k bad-1 2>/dev/null
printf '\x00\x00\x00\x00\x01\x48' | kcat -P -b "$BOOTSTRAP" -t "$T" -k bad-2 2>/dev/null
printf '\x00\x00\x0f\x42\x3f\x02' | kcat -P -b "$BOOTSTRAP" -t "$T" -k bad-3 2>/dev/null
printf 'bad-4:|' | kcat -P -Z -D '|' -K ':' -b "$BOOTSTRAP" -t "$T" 2>/dev/null # a null value
# A duplicate: the first record of the topic, again.
kcat -C -b "$BOOTSTRAP" -t "$T" -p 0 -o 0 -c 1 -e -q -f '%s' >"$TMP/dup" 2>/dev/null
kcat -C -b "$BOOTSTRAP" -t "$T" -p 0 -o 0 -c 1 -e -q -f '%k' >"$TMP/dupkey" 2>/dev/null
kcat -P -b "$BOOTSTRAP" -t "$T" -p 0 -k "$(cat "$TMP/dupkey")" "$TMP/dup" 2>/dev/null
outD2=$(PROJ_TIMEOUT=1 proj "$TMP/d" d --catch-up 2>"$TMP/d2.err")
[[ $(field "$outD2" dead_lettered) == 4 && $(field "$outD2" consumed) == 5 ]] &&
  ok "4 bad records dead-lettered, processing went on" || not_ok "dead letters: $outD2" "$(tail -3 "$TMP/d2.err")"
[[ $(field "$outD2" ignored) == 1 && $(field "$outD2" hash) == "$hD" ]] &&
  ok "the duplicate is ignored and the state unchanged" || not_ok "duplicate: $outD2"
kcat -C -b "$BOOTSTRAP" -t "$PREFIX.dlq" -c 4 -e -q -J >"$TMP/dlq.json" 2>/dev/null
if python3 - "$TMP/dlq.json" "$T" "$BOOTSTRAP" >"$TMP/dlq.out" 2>&1 <<'PY'; then ok "dead letters: key, value and headers (reason, error, source topic/partition/offset)"; else not_ok "dead-letter records" "$(cat "$TMP/dlq.out")"; fi
import base64, json, subprocess, sys
path, topic, bootstrap = sys.argv[1:4]
recs = [json.loads(l) for l in open(path) if l.strip()]
assert len(recs) == 4, len(recs)
want = {"bad-1": "magic", "bad-2": "", "bad-3": "schema", "bad-4": "null value"}
for r in recs:
    h = dict(zip(r["headers"][0::2], r["headers"][1::2]))
    key = r["key"]
    assert key in want, key
    assert want[key].lower() in h["seerlog.dlq.reason"].lower(), (key, h)
    assert h["seerlog.dlq.topic"] == topic, h
    assert h["seerlog.dlq.error"], h
    # The source record at that partition/offset has this key.
    src = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-p", h["seerlog.dlq.partition"],
                          "-o", h["seerlog.dlq.offset"], "-c", "1", "-e", "-q", "-f", "%k"],
                         capture_output=True, text=True).stdout
    assert src == key, (src, key, h)
PY

# ---- lag: reported per partition to the control topic; the flooded partitions paused ----
"$SEERLOG" bench produce --bootstrap "$BOOTSTRAP" --topic "$PREFIX.state.flood" --events 30000 \
  -X topic.partitions=3 -X outbox.enable=false >/dev/null 2>"$TMP/flood.err" ||
  not_ok "flood" "$(tail -3 "$TMP/flood.err")"
outF=$(PROJ_TIMEOUT=1 proj "$TMP/f" f --catch-up -X project.lag.interval.ms=100 \
  -X "control.topic=$PREFIX.control" -X lag.high=100 -X lag.low=10 -X project.batch.max=50 \
  -X project.changelog.topic= 2>"$TMP/f.err")
[[ $(field "$outF" pauses) -ge 1 ]] && ok "behind on a flood, the busiest partitions were paused" ||
  not_ok "pauses: $outF" "$(tail -3 "$TMP/f.err")"
"$venv/bin/python" - "$BOOTSTRAP" "$PREFIX.control" "$SEERLOG_SOURCE_DIR/schemas/control.avsc" \
  "$PREFIX" >"$TMP/ctl.out" 2>&1 <<'PY'
import io, json, sys
import fastavro
from confluent_kafka import Consumer, TopicPartition
bootstrap, topic, avsc, prefix = sys.argv[1:5]
schema = fastavro.parse_schema(json.load(open(avsc)))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "control-check"})
c.assign([TopicPartition(topic, 0, 0)])
reps, idle = [], 0
while idle < 5:
    m = c.poll(0.2)
    if m is None:
        idle += 1
        continue
    idle = 0
    rec = fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), schema)
    assert m.key().decode() == rec["projector_id"], (m.key(), rec)
    reps.append(rec)
c.close()
behind = [r for r in reps if r["lag"] > 0]
assert behind, reps[:3]
for r in reps:
    assert r["lag"] == sum(p["lag"] for p in r["partitions"]), r
    assert all(p["topic"].startswith(prefix + ".state.") for p in r["partitions"]), r
assert max(len(r["partitions"]) for r in reps) == 15, [len(r["partitions"]) for r in reps]
print("ok", len(reps), "reports, first lag", behind[0]["lag"])
PY
[[ $(head -c 2 "$TMP/ctl.out") == ok ]] &&
  ok "lag reports in the control topic: total = sum of 15 partitions ($(cat "$TMP/ctl.out"))" ||
  not_ok "lag reports" "$(tail -5 "$TMP/ctl.out")"

# ---- a full store stops the projector with a clear error; restarted with room, nothing lost ----
big="^${PREFIX//./\\.}\\.big\\..+"
timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 20000 --rate 40000 --duration 1 \
  --seed 5 -X "topic.template=$PREFIX.big.all" -X topic.partitions=3 --registry "$REG" \
  -X outbox.enable=false >"$TMP/big.json" 2>"$TMP/big.err" || not_ok "simulate (big)" "$(tail -3 "$TMP/big.err")"
outG=$(PROJ_TIMEOUT=1 proj "$TMP/g" g --catch-up -X "project.topic.pattern=$big" \
  -X store.max.bytes=1048576 -X project.changelog.topic= 2>"$TMP/g.err")
rc=$?
[[ $rc != 0 ]] && grep -q "store full (max bytes 1048576)" "$TMP/g.err" &&
  ok "a full store stops the projector: $(grep -o 'store full[^;]*' "$TMP/g.err" | head -1)" ||
  not_ok "store full: exit $rc, out $outG" "$(tail -3 "$TMP/g.err")"
outG2=$(PROJ_TIMEOUT=1 proj "$TMP/g" g --catch-up -X "project.topic.pattern=$big" \
  -X project.changelog.topic= 2>"$TMP/g2.err")
outH=$(PROJ_TIMEOUT=1 proj "$TMP/h" h --catch-up -X "project.topic.pattern=$big" \
  -X project.changelog.topic= 2>"$TMP/h.err")
[[ $(field "$outG2" nodes) == 20000 && -n $(field "$outH" hash) &&
  $(field "$outG2" hash) == "$(field "$outH" hash)" ]] &&
  ok "restarted with room, the same store ends equal to a fresh replay (20000 nodes)" ||
  not_ok "after the full store: $outG2" "fresh: $outH" "$(tail -3 "$TMP/g2.err")"

# ---- a batch that cannot be read for now (the registry down) is retried, then applied ----
# A second version of the event schema (one more field, with a default) under a new subject:
# the projector has not seen its id, and must ask the registry, which is stopped. (No liveness
# topic, no lag reports: their schemas would be registered at start, which needs the registry.)
body=$("$venv/bin/python" - "$SEERLOG_SOURCE_DIR/schemas/node_state.avsc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["fields"].append({"name": "retry_probe", "type": "string", "default": ""})
print(json.dumps({"schema": json.dumps(s)}))
PY
)
sid=$(curl -sf -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data "$body" \
  "$REG/subjects/$PREFIX.state.retry-value/versions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$venv/bin/python" - "$BOOTSTRAP" "$PREFIX.state.retry" "$sid" "$body" >"$TMP/retry-pub.out" 2>&1 <<'PY'
import io, json, struct, sys, time, uuid
import fastavro
from confluent_kafka import Producer
bootstrap, topic, sid, body = sys.argv[1:5]
schema = fastavro.parse_schema(json.loads(json.loads(body)["schema"]))
rec = {"event_id": str(uuid.uuid4()), "node_id": "retry-1", "node_type": "t", "region": "r",
       "incarnation": 1, "seq": 1, "event_time": int(time.time() * 1000), "kind": "join",
       "status": "up", "retry_probe": "x"}
buf = io.BytesIO()
buf.write(struct.pack(">bI", 0, int(sid)))
fastavro.schemaless_writer(buf, schema, rec)
p = Producer({"bootstrap.servers": bootstrap})
p.produce(topic, key="retry-1", value=buf.getvalue())
assert p.flush(30) == 0
PY
[[ $? == 0 && -n $sid ]] || not_ok "publishing with a new schema id ($sid)" "$(tail -3 "$TMP/retry-pub.out")"
reg_port=${REG##*:}
kill "$REG_PID" && wait "$REG_PID" 2>/dev/null
REG_PID=
(PROJ_TIMEOUT=1 proj "$TMP/r" r --catch-up -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\.retry$" \
  -X project.changelog.topic= -X liveness.topic= -X control.topic= >"$TMP/r.out" \
  2>"$TMP/r.err") &
rpid=$!
for _ in $(seq 300); do
  grep -q "not applied, retrying" "$TMP/r.err" && break
  sleep 0.1
done
grep -q "not applied, retrying" "$TMP/r.err" &&
  ok "registry down: the batch is not applied and is tried again ($(grep -m1 -o 'retrying: .\{0,60\}' "$TMP/r.err"))" ||
  not_ok "no retry while the registry was down" "$(tail -3 "$TMP/r.err")"
"$SEERLOG" registry --listen "127.0.0.1:$reg_port" --bootstrap "$BOOTSTRAP" \
  -X "registry.topic=_schemas_proj_$UNIQ" -X "registry.group.id=reg-proj-$UNIQ" \
  >>"$TMP/registry.log" 2>&1 &
REG_PID=$!
wait "$rpid"
outR=$(cat "$TMP/r.out")
[[ $(field "$outR" retried) -ge 1 && $(field "$outR" nodes) == 1 && $(field "$outR" applied) == 1 &&
  $(field "$outR" dead_lettered) == 0 ]] &&
  ok "registry back: the retried batch is applied (retried $(field "$outR" retried)), nothing dead-lettered" ||
  not_ok "after the registry came back: $outR" "$(tail -3 "$TMP/r.err")"

finish
