#!/usr/bin/env bash
# The limits of one record, against the real broker. seerlog publish refuses an event with too
# many labels or services, or a too long label value, with exit 2 and the limit named. Records
# from a foreign producer (Python, confluent-kafka + fastavro) beyond those limits, or larger
# than project.max.record.bytes, go to the dead-letter topic with the reason (the oversized one
# without its value, its size in a header), and the projector applies the records around them.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-limits.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.limits.$UNIQ"
TOPIC="$PREFIX.state.eu.seer"
trap 'rm -rf "$TMP"' EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python_venv "${SEERLOG_SOURCE_DIR:?}"
t0=$(date +%s%3N)

pub() { # NODE [options]: seerlog publish of one event of NODE to the test's topic
  local node=$1
  shift
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --node "$node" --type seer \
    --region eu -X schema.mode=fixed -X outbox.enable=false "$@"
}

# ---- the producer refuses events beyond the limits, before any client is made
labels=()
for i in $(seq 65); do labels+=(--label "k$i=v"); done
pub lim-x "${labels[@]}" >"$TMP/p1.out" 2>"$TMP/p1.err"
rc=$?
[[ $rc == 2 ]] && grep -q 'invalid event: labels: 65 entries, more than the 64 allowed' "$TMP/p1.err" &&
  ok "publish: 65 labels refused, exit 2, 'labels: 65 entries, more than the 64 allowed'" ||
  not_ok "publish with 65 labels: exit $rc" "$(cat "$TMP/p1.err")"
pub lim-x "${labels[@]:2}" >"$TMP/p2.out" 2>"$TMP/p2.err" &&
  ok "publish: 64 labels accepted" || not_ok "publish with 64 labels" "$(cat "$TMP/p2.err")"
pub lim-x --label "big=$(head -c 4097 /dev/zero | tr '\0' x)" >"$TMP/p3.out" 2>"$TMP/p3.err"
rc=$?
[[ $rc == 2 ]] && grep -q 'labels: the value of key "big" has 4097 bytes, more than the 4096 allowed' "$TMP/p3.err" &&
  ok "publish: a 4097-byte label value refused, exit 2" ||
  not_ok "publish with a 4097-byte label: exit $rc" "$(cat "$TMP/p3.err")"
services=$(seq -f 'svc%g' -s , 65)
pub lim-x --json <<<"{\"services\":[$(seq -f '{"name":"svc%g"}' -s , 65)]}" \
  >"$TMP/p4.out" 2>"$TMP/p4.err"
rc=$?
[[ $rc == 2 ]] && grep -q 'services: 65 entries, more than the 64 allowed' "$TMP/p4.err" &&
  ok "publish: 65 services refused, exit 2" ||
  not_ok "publish with 65 services ($services): exit $rc" "$(cat "$TMP/p4.err")"

# ---- a foreign producer writes what seerlog would refuse, between two good records
pub lim-a >/dev/null 2>"$TMP/a.err" || not_ok "publish lim-a" "$(cat "$TMP/a.err")"
"$PY" - "$BOOTSTRAP" "$TOPIC" "$SEERLOG_SOURCE_DIR/schemas/node_state.avsc" \
  >"$TMP/foreign.out" 2>&1 <<'PY'
import io, json, sys
import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap, topic, avsc = sys.argv[1:4]
schema = fastavro.parse_schema(json.load(open(avsc)))
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "limits-foreign",
              "enable.auto.commit": False})
c.assign([TopicPartition(topic, 0, 0)])
m = None
for _ in range(100):
    m = c.poll(0.2)
    if m is not None and not m.error():
        break
assert m is not None and not m.error(), m and m.error()
c.close()
header, rec = m.value()[:5], fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), schema)
p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
def send(node, **changes):
    r = dict(rec, node_id=node, event_id=node + "-1", seq=rec["seq"] + 1, **changes)
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, r)
    p.produce(topic, key=node.encode(), value=header + out.getvalue())
    print(node, len(header) + len(out.getvalue()))
send("lim-labels", labels={f"k{i}": "v" for i in range(65)})
send("lim-services", services=[{"name": f"s{i}", "meta": {}} for i in range(65)])
send("lim-size", labels={f"k{i}": "x" * 100 for i in range(30)})
assert p.flush(30) == 0
PY
[[ $? == 0 ]] && ok "foreign producer: 65 labels, 65 services, a 3 KB record ($(tr '\n' ' ' <"$TMP/foreign.out"))" ||
  not_ok "foreign producer" "$(cat "$TMP/foreign.out")"
pub lim-b >/dev/null 2>"$TMP/b.err" || not_ok "publish lim-b" "$(cat "$TMP/b.err")"

# ---- the projector dead-letters them with the reason and applies the rest
timeout 120 "$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" \
  --group "limits-$UNIQ" --catch-up -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" \
  -X "dlq.topic=$PREFIX.dlq" -X project.changelog.topic= -X liveness.topic= -X control.topic= \
  -X schema.mode=fixed -X project.max.record.bytes=2048 >"$TMP/proj.out" 2>"$TMP/proj.err"
rc=$?
[[ $rc == 0 ]] && ok "project --catch-up: exit 0 past the bad records" ||
  not_ok "project: exit $rc" "$(tail -5 "$TMP/proj.err")"
"$SEERLOG" state list --store "$TMP/store" >"$TMP/list.out" 2>&1
nodes=$(sed -n 's/^{"event_id":"[^"]*","node_id":"\([^"]*\)".*/\1/p' "$TMP/list.out" | sort | tr '\n' ' ')
[[ $nodes == "lim-a lim-b lim-x " ]] &&
  ok "store: lim-a, lim-x and lim-b (after the bad records) applied, none of the bad ones" ||
  not_ok "store nodes" "$nodes"

"$PY" - "$BOOTSTRAP" "$PREFIX.dlq" "$TOPIC" >"$TMP/dlq.out" 2>&1 <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
bootstrap, dlq, topic = sys.argv[1:4]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "limits-dlq", "enable.auto.commit": False})
c.assign([TopicPartition(dlq, 0, 0)])
got, idle = {}, 0
while len(got) < 3 and idle < 100:
    m = c.poll(0.2)
    if m is None or m.error():
        idle += 1
        continue
    h = {k: v.decode() for k, v in (m.headers() or [])}
    got[m.key().decode()] = (h, m.value())
c.close()
assert sorted(got) == ["lim-labels", "lim-services", "lim-size"], sorted(got)
want = {"lim-labels": "labels: 65 entries, more than the 64 allowed",
        "lim-services": "services: 65 entries, more than the 64 allowed",
        "lim-size": "more than project.max.record.bytes=2048"}
for node, (h, value) in got.items():
    assert want[node] in h["seerlog.dlq.reason"], (node, h)
    assert h["seerlog.dlq.topic"] == topic, h
    assert int(h["seerlog.dlq.size"]) > 0, h
    print(node, h["seerlog.dlq.error"], h["seerlog.dlq.reason"], h["seerlog.dlq.size"])
assert got["lim-labels"][1] and len(got["lim-labels"][1]) == int(got["lim-labels"][0]["seerlog.dlq.size"])
assert got["lim-size"][1] is None, "the oversized record's value was forwarded"
assert int(got["lim-size"][0]["seerlog.dlq.size"]) > 2048
PY
[[ $? == 0 ]] && ok "dead letters: the three bad records with their reasons (labels, services, size), the oversized one without its value" ||
  not_ok "dead letters" "$(cat "$TMP/dlq.out")"
grep -q '"consumed":6,"applied":3,.*"dead_lettered":3,' "$TMP/proj.out" &&
  ok "project: 6 records consumed, 3 applied, 3 dead-lettered" ||
  not_ok "dead-letter count" "$(cat "$TMP/proj.out")"

echo "runtime: $((($(date +%s%3N) - t0) / 1000)) s"
finish
