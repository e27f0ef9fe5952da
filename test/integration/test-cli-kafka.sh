#!/usr/bin/env bash
# seerlog publish and tail against the real broker: events published from flags and from JSON
# come back decoded; a record that is not in the wire format is reported on stderr and tail goes
# on; an unreachable broker is a clear failure (exit 1), not a hang.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-cli-kafka.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
TOPIC="seerlog.test.cli.$$.$(date +%s%N)"

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pub() { "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$TOPIC" "$@"; }

out=$(pub --node cli-1 --type seer --region eu-west --kind join --status up --seq 0 \
  --incarnation 1700000000000 --label rack=r1 --address 10.9.0.1 2>"$TMP/err")
[[ $? -eq 0 && $out == "$TOPIC/0@0" ]] && ok "publish from flags prints topic/partition@offset" ||
  not_ok "publish from flags" "stdout: $out" "stderr: $(cat "$TMP/err")"

out=$(echo '{"node_id":"cli-2","node_type":"gateway","region":"us-east","status":"degraded",
             "incarnation":1700000000001,"seq":3,"kind":"status_change",
             "usage":{"cpu_percent":12.5,"cpu_count":8,"load1":0.5,"load5":0.25,"load15":0.125,
                      "mem_total":1024,"mem_used":512,"mem_available":512,"disk_total":2048,
                      "disk_used":1024,"sensors":{"temp_c":55.5}}}' |
  pub --json 2>"$TMP/err")
[[ $? -eq 0 && $out == "$TOPIC/0@1" ]] && ok "publish --json" ||
  not_ok "publish --json" "stdout: $out" "stderr: $(cat "$TMP/err")"

# A record that is not NodeStateEvent wire format, written by another client.
printf 'not an event' | kcat -P -b "$BOOTSTRAP" -t "$TOPIC" -k cli-3 2>"$TMP/err" &&
  ok "kcat wrote a garbage record" || not_ok "kcat wrote a garbage record" "$(cat "$TMP/err")"

out=$(pub --node cli-1 --type seer --region eu-west --kind leave --status left --seq 1 \
  --incarnation 1700000000000 2>"$TMP/err")
[[ $? -eq 0 && $out == "$TOPIC/0@3" ]] && ok "publish after the garbage record" ||
  not_ok "publish after the garbage record" "stdout: $out" "stderr: $(cat "$TMP/err")"

"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning --timeout-ms 5000 \
  >"$TMP/tail.out" 2>"$TMP/tail.err"
rc=$?
[[ $rc -eq 0 ]] && ok "tail exits 0 after --timeout-ms" || not_ok "tail exit code $rc"
lines=$(wc -l <"$TMP/tail.out")
[[ $lines -eq 3 ]] && ok "tail printed the 3 events" ||
  not_ok "tail printed $lines lines, want 3" "$(cat "$TMP/tail.out")"
grep -q "$TOPIC/0@2: .*magic" "$TMP/tail.err" && ok "the garbage record is reported with its offset" ||
  not_ok "garbage record report" "stderr: $(cat "$TMP/tail.err")"

if python3 - "$TMP/tail.out" <<'PY'; then ok "tail output decodes field by field"; else not_ok "tail output fields"; fi
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
a, b, c = events
assert (a["_offset"], a["node_id"], a["node_type"], a["region"]) == (0, "cli-1", "seer", "eu-west"), a
assert (a["kind"], a["status"], a["seq"], a["incarnation"]) == ("join", "up", 0, 1700000000000), a
assert a["labels"] == {"rack": "r1"} and a["addresses"] == ["10.9.0.1"] and a["usage"] is None, a
assert a["source"] == "agent" and len(a["event_id"]) == 36, a
assert (b["_offset"], b["node_id"], b["status"], b["seq"]) == (1, "cli-2", "degraded", 3), b
assert b["usage"]["cpu_count"] == 8 and b["usage"]["sensors"] == {"temp_c": 55.5}, b
# What publish fills in, with flags and with --json alike.
assert a["agent_version"] == b["agent_version"] != "" and b["source"] == "agent", (a, b)
assert (c["_offset"], c["kind"], c["status"]) == (3, "leave", "left"), c
PY

"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$TOPIC" --from-beginning --count 2 \
  >"$TMP/tail2.out" 2>/dev/null
[[ $? -eq 0 && $(wc -l <"$TMP/tail2.out") -eq 2 ]] && ok "tail --count 2 stops after 2 events" ||
  not_ok "tail --count 2" "$(cat "$TMP/tail2.out")"

# No broker at all: publish must give up within its timeout and say so.
start=$(date +%s)
"$SEERLOG" publish --bootstrap 127.0.0.1:1 --topic "$TOPIC" --node x --type seer --region r \
  --timeout-ms 2000 >"$TMP/out" 2>"$TMP/err"
rc=$? took=$(($(date +%s) - start))
[[ $rc -eq 1 && $took -le 10 && -n $(cat "$TMP/err") ]] && ok "unreachable broker: exit 1 in ${took}s" ||
  not_ok "unreachable broker" "exit $rc after ${took}s" "stderr: $(tail -3 "$TMP/err")"

echo "$passed passed, $failed failed"
((failed == 0))
