#!/usr/bin/env bash
# seerlog control lag against the real broker and registry: the ProjectorLag schema is
# registered under <control.topic>-value, the record carries that id and decodes field by field,
# --tombstone writes a null value, and bad input is a usage error. Also the producer's schema
# modes against that registry: lookup fails for an unregistered subject, register registers,
# lookup then finds that id.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-control.XXXXXX")
UNIQ="$$.$(date +%s%N)"
TOPIC="seerlog.test.control.$UNIQ"
REG_PID=
cleanup() {
  [[ -n $REG_PID ]] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A registry of our own on a free port, over its own topic.
start_registry control && ok "registry answers" ||
  not_ok "registry did not start" "$(tail -5 "$TMP/registry.log")"

ctl() { "$SEERLOG" control --bootstrap "$BOOTSTRAP" --registry "$REG" -X "control.topic=$TOPIC" "$@"; }

out=$(ctl lag --projector proj-1 --group g1 --lag 123456 2>"$TMP/err")
[[ $? -eq 0 && $out == "$TOPIC/0@0" ]] && ok "control lag prints topic/partition@offset" ||
  not_ok "control lag" "stdout: $out" "stderr: $(cat "$TMP/err")"

latest=$(curl -sf "$REG/subjects/$TOPIC-value/versions/latest")
id=$(printf '%s' "$latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
[[ -n $id ]] && printf '%s' "$latest" | grep -q ProjectorLag && ok "control.avsc registered under $TOPIC-value (id $id)" ||
  not_ok "schema registered" "$latest"

# The record: wire format with that id, fields in schema order.
kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o 0 -c 1 -e -f '%k\n%s' >"$TMP/rec" 2>/dev/null
python3 - "$TMP/rec" "$id" <<'PY' && ok "record carries the registered id and decodes" || not_ok "record decode"
import struct, sys
data = open(sys.argv[1], "rb").read()
key, value = data.split(b"\n", 1)
assert key == b"proj-1", key
assert value[0] == 0 and struct.unpack(">i", value[1:5])[0] == int(sys.argv[2]), value[:5]
pos = 5
def varint():
    global pos
    shift = result = 0
    while True:
        b = value[pos]; pos += 1
        result |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80: break
    return (result >> 1) ^ -(result & 1)
def string():
    global pos
    n = varint(); s = value[pos:pos + n]; pos += n; return s.decode()
assert string() == "proj-1"
assert string() == "g1"
assert varint() == 123456
assert varint() > 1700000000000
assert varint() == 0  # partitions: an empty array (seerlog control lag reports no partitions)
assert pos == len(value), (pos, len(value))
PY

out=$(ctl lag --projector proj-1 --tombstone 2>"$TMP/err")
[[ $? -eq 0 && $out == "$TOPIC/0@1" ]] && ok "--tombstone" || not_ok "--tombstone" "$out" "$(cat "$TMP/err")"
len=$(kcat -C -b "$BOOTSTRAP" -t "$TOPIC" -o 1 -c 1 -e -Z -f '%S' 2>/dev/null)
[[ $len == "-1" ]] && ok "tombstone has a null value" || not_ok "tombstone value length '$len'"

ctl lag --projector p --lag -5 >/dev/null 2>"$TMP/err"
[[ $? -eq 2 ]] && ok "negative lag is a usage error" || not_ok "negative lag" "$(cat "$TMP/err")"
ctl lag --lag 5 >/dev/null 2>"$TMP/err"
[[ $? -eq 2 ]] && ok "missing --projector is a usage error" || not_ok "missing --projector"
ctl lag --projector p >/dev/null 2>"$TMP/err"
[[ $? -eq 2 ]] && ok "missing --lag is a usage error" || not_ok "missing --lag"

# The producer's schema modes against the same registry (issue 4: auto-register on or off).
# lookup: the subject must hold the schema already; register: registers it; then lookup finds
# the id register was given, and the record carries it.
STATE="seerlog.test.lookup.$UNIQ"
pub() {
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --registry "$REG" --topic "$STATE" --node n1 \
    --type t --region r -X topic.create=true -X topic.partitions=1 "$@"
}
record_id() { # OFFSET: the schema id in the wire-format header of that record
  kcat -C -b "$BOOTSTRAP" -t "$STATE" -o "$1" -c 1 -e -f '%s' 2>/dev/null |
    python3 -c 'import struct,sys; d=sys.stdin.buffer.read(); print(struct.unpack(">i", d[1:5])[0] if d[:1] == b"\0" else "bad")'
}
pub -X schema.mode=lookup >/dev/null 2>"$TMP/err"
rc=$?
[[ $rc -eq 1 ]] && grep -q "$STATE-value" "$TMP/err" && ok "lookup of an unregistered subject fails, naming it" ||
  not_ok "lookup before registration: exit $rc" "$(cat "$TMP/err")"
out=$(pub -X schema.mode=register 2>"$TMP/err")
[[ $? -eq 0 && $out == "$STATE/0@0" ]] && ok "register mode publishes" || not_ok "register mode" "$out" "$(cat "$TMP/err")"
reg_id=$(curl -sf "$REG/subjects/$STATE-value/versions/latest" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' 2>/dev/null)
out=$(pub -X schema.mode=lookup 2>"$TMP/err")
[[ $? -eq 0 && $out == "$STATE/0@1" ]] && ok "lookup mode publishes once the subject has the schema" ||
  not_ok "lookup mode" "$out" "$(cat "$TMP/err")"
id0=$(record_id 0) id1=$(record_id 1)
[[ -n $reg_id && $id0 == "$reg_id" && $id1 == "$reg_id" ]] &&
  ok "both records carry the registered id ($reg_id)" || not_ok "ids: registered '$reg_id', records '$id0' '$id1'"

echo "$passed passed, $failed failed"
((failed == 0))
