#!/usr/bin/env bash
# Schema versions 1 and 2 of NodeStateEvent on one topic, against the real broker and our
# registry (issue 8):
#  - v1 (schemas/node_state.v1.avsc) registered, the subject set to BACKWARD, v2 (the built-in
#    schema) registers as version 2;
#  - v1 records (written by confluent-kafka-python's AvroSerializer) and v2 records (written by
#    seerlog publish) interleaved on the same partitions, per node;
#  - a projector with the v2 reader applies all of them: geo, capacity and status maintenance
#    where the latest event is v2, none where it is v1;
#  - a projector that only knows v1 (project.reader.schema) applies all of them too: the v2
#    fields ignored, maintenance read as the default, unknown; nothing dead-lettered;
#  - with FULL set, a v3 that removes a field without a default is refused by the registry
#    (409) when the Python serializer tries to register it, and nothing reaches the topic.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-evolution.XXXXXX")
UNIQ="$$.$(date +%s%N)"
TOPIC="seerlog.test.evo.$UNIQ.state.all"
SUBJECT="$TOPIC-value"
REG_PID=
cleanup() {
  [[ -n $REG_PID ]] && kill -9 "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$here/lib.sh"

python_venv "$root"
V1=$root/schemas/node_state.v1.avsc V2=$root/schemas/node_state.avsc
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

start_registry evo || { not_ok "registry did not start" "$(tail -5 "$TMP/registry.log")"; finish; }

post_schema() { # FILE: POST it to $SUBJECT; prints the HTTP status and the body
  python3 -c 'import json,sys; print(json.dumps({"schema": open(sys.argv[1]).read()}))' "$1" |
    curl -s -o "$TMP/post.out" -w '%{http_code}' -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
      --data @- "$REG/subjects/$SUBJECT/versions"
  echo " $(cat "$TMP/post.out")"
}
set_compat() {
  curl -sf -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data "{\"compatibility\":\"$1\"}" "$REG/config/$SUBJECT" >/dev/null
}

# ---- registration: v1, BACKWARD, v2 ----
out=$(post_schema "$V1")
[[ $out == 200* ]] && id1=$(jget 'd["id"]' <<<"${out#* }") && ok "v1 registered (id $id1)" ||
  not_ok "registering v1" "$out"
set_compat BACKWARD && ok "subject set to BACKWARD" || not_ok "PUT /config"
out=$(post_schema "$V2")
[[ $out == 200* ]] && id2=$(jget 'd["id"]' <<<"${out#* }") && [[ $id2 != "$id1" ]] &&
  ok "v2 (maintenance, geo, capacity; all with defaults) registers under BACKWARD (id $id2)" ||
  not_ok "registering v2" "$out"
versions=$(curl -sf "$REG/subjects/$SUBJECT/versions")
[[ $versions == "[1,2]" ]] && ok "the subject has versions [1,2]" || not_ok "versions $versions"

# ---- v1 and v2 records interleaved, per node, on the same partitions ----
inc=1790000000000
v1_event() { # NODE SEQ STATUS
  printf '{"event_id":"%s","node_id":"%s","node_type":"seer","region":"eu","cluster":"",
    "incarnation":%s,"seq":%s,"event_time":%s,"kind":"status_change","status":"%s",
    "hostname":"%s","addresses":[],"services":[],"usage":null,"labels":{"v":"1"},
    "agent_version":"python-v1","source":"agent"}' "$(cat /proc/sys/kernel/random/uuid)" \
    "$1" "$inc" "$2" $((inc + $2)) "$3" "$1"
}
pub_v1() { # NODE SEQ STATUS
  "$PY" "$here/evolution.py" produce "$BOOTSTRAP" "$REG" "$TOPIC" "$V1" "[$(v1_event "$@")]" \
    2>>"$TMP/py.err"
}
pub_v2() { # NODE SEQ JSON-FIELDS
  printf '{"node_id":"%s","node_type":"seer","region":"eu","incarnation":%s,"seq":%s,
    "kind":"status_change","labels":{"v":"2"},%s}' "$1" "$inc" "$2" "$3" |
    "$SEERLOG" publish --json --bootstrap "$BOOTSTRAP" --registry "$REG" --topic "$TOPIC" \
      -X schema.mode=lookup -X topic.partitions=3 >/dev/null 2>>"$TMP/pub.err"
}
GEO='"geo":{"latitude":52.52,"longitude":13.405,"site":"ber-1"}'
CAP='"capacity":{"cpu_cores":64,"memory_bytes":549755813888,"disk_bytes":0,"max_tasks":8}'
# The topic first (3 partitions), by seerlog; then the two writers take turns.
pub_v2 n-a 1 "\"status\":\"maintenance\",$GEO" &&
  w1=$(pub_v1 n-b 0 up) && pub_v2 n-b 1 "\"status\":\"degraded\",$GEO,$CAP" &&
  w2=$(pub_v1 n-b 2 up) && pub_v1 n-a 0 up >/dev/null && pub_v2 n-c 0 "\"status\":\"maintenance\"" &&
  w3=$(pub_v1 n-c 1 down) && pub_v2 n-c 2 "\"status\":\"maintenance\",$CAP" &&
  ok "8 records published, v1 by AvroSerializer (schema id $w1) and v2 by seerlog publish" ||
  not_ok "publishing" "$(tail -3 "$TMP/py.err")" "$(tail -3 "$TMP/pub.err")"
[[ $w1 == "$id1" && $w2 == "$id1" && $w3 == "$id1" ]] && ok "the Python records carry v1's id" ||
  not_ok "Python schema ids $w1 $w2 $w3, want $id1"
# Every node's records in one partition: both writers partition by murmur2.
parts=$("$SEERLOG" tail --bootstrap "$BOOTSTRAP" --registry "$REG" --topic "$TOPIC" \
  --from-beginning --timeout-ms 3000 2>/dev/null |
  python3 -c 'import json,sys
p = {}
for l in sys.stdin:
    d = json.loads(l); p.setdefault(d["node_id"], set()).add(d["_partition"])
print(" ".join("%s:%d" % (k, len(v)) for k, v in sorted(p.items())))')
[[ $parts == "n-a:1 n-b:1 n-c:1" ]] && ok "each node's v1 and v2 records share one partition" ||
  not_ok "partitions per node: $parts"

# ---- the projectors ----
project() { # STORE [options]: a projection of the topic; prints its summary line
  "$SEERLOG" project --bootstrap "$BOOTSTRAP" --registry "$REG" --store "$1" \
    --group "evo-$(basename "$1")-$UNIQ" --catch-up -X "project.topic.pattern=^${TOPIC//./\\.}\$" \
    -X "dlq.topic=seerlog.test.evo.$UNIQ.dlq" -X project.changelog.topic= -X liveness.topic= \
    -X control.topic= -X schema.mode=lookup "${@:2}" 2>>"$TMP/project.err"
}
state() { "$SEERLOG" state get "$1" --store "$2" 2>/dev/null; }

line=$(project "$TMP/v2")
[[ $(jget 'd["consumed"], d["dead_lettered"], d["nodes"]' <<<"$line") == "8 0 3" ]] &&
  ok "the v2 projector applies v1 and v2 records: 8 consumed, none dead-lettered, 3 nodes" ||
  not_ok "v2 projector: $line" "$(tail -3 "$TMP/project.err")"
a=$(state n-a "$TMP/v2" | jget 'd["seq"], d["status"], d["geo"]["site"], d["labels"]["v"]')
b=$(state n-b "$TMP/v2" | jget 'd["seq"], d["status"], d["geo"], d["capacity"], d["labels"]["v"]')
c=$(state n-c "$TMP/v2" | jget 'd["seq"], d["status"], d["capacity"]["max_tasks"]')
[[ $a == "1 maintenance ber-1 2" ]] && ok "v2 reader, n-a (latest v2): maintenance, geo" ||
  not_ok "v2 reader n-a: $a"
[[ $b == "2 up None None 1" ]] && ok "v2 reader, n-b (latest v1): no geo, no capacity" ||
  not_ok "v2 reader n-b: $b"
[[ $c == "2 maintenance 8" ]] && ok "v2 reader, n-c (v2, v1, v2): the last, with capacity" ||
  not_ok "v2 reader n-c: $c"

line=$(project "$TMP/v1" -X "project.reader.schema=$V1")
grep -q "decoding as a reader of $V1" "$TMP/project.err" &&
  [[ $(jget 'd["consumed"], d["dead_lettered"], d["nodes"]' <<<"$line") == "8 0 3" ]] &&
  ok "a projector that only knows v1 applies all 8 records, none dead-lettered" ||
  not_ok "v1 projector: $line" "$(tail -3 "$TMP/project.err")"
a=$(state n-a "$TMP/v1" | jget 'd["seq"], d["status"], d["geo"], d["labels"]["v"]')
c=$(state n-c "$TMP/v1" | jget 'd["seq"], d["status"], d["capacity"]')
[[ $a == "1 unknown None 2" && $c == "2 unknown None" ]] &&
  ok "v1 reader: v2 fields ignored, maintenance read as the enum default (unknown)" ||
  not_ok "v1 reader: n-a $a, n-c $c"

# ---- FULL: a v3 removing a field without a default is refused, and never produced ----
set_compat FULL && ok "subject set to FULL" || not_ok "PUT /config FULL"
python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))
s["fields"] = [f for f in s["fields"] if f["name"] != "node_type"]
json.dump(s, open(sys.argv[2], "w"))' "$V2" "$TMP/v3.avsc"
before=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l)
out=$("$PY" "$here/evolution.py" try "$BOOTSTRAP" "$REG" "$TOPIC" "$TMP/v3.avsc" \
  "$(v1_event n-d 0 up | python3 -c 'import json,sys; d=json.load(sys.stdin); del d["node_type"]; print(json.dumps(d))')" \
  2>>"$TMP/py.err")
after=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l)
[[ $out == "refused 409 409" && $before == 8 && $after == 8 ]] &&
  ok "v3 without node_type: the registry refuses it (409) under FULL, nothing produced ($after records)" ||
  not_ok "v3: '$out', records $before -> $after" "$(tail -3 "$TMP/py.err")"
versions=$(curl -sf "$REG/subjects/$SUBJECT/versions")
[[ $versions == "[1,2]" ]] && ok "the subject still has versions [1,2]" || not_ok "versions $versions"

finish
