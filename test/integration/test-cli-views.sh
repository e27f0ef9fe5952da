#!/usr/bin/env bash
# The command-line views of the projector's API (seerlog state --url, watch, top; docs/api.md,
# "Command-line views") against the real broker:
#  - a simulated fleet of 300 nodes plus 3 labelled ones, read by a projector serving its API
#    on a free port;
#  - `state`: the table lists every node once (as many rows as /v1/summary has nodes); the
#    filters (region, type, status, liveness, label) and --limit narrow it to what the API
#    returns for them; -o json lines parse and equal the API's nodes; -o wide adds columns;
#  - `state NODE`: the detail shows the node's status and liveness; -o json is the API's node;
#    an unknown node exits 1 (as `state get` does on a store);
#  - `watch -o json` receives the state events of a second simulation (and --region filters
#    them); `watch` text lines; SIGINT ends it with 0;
#  - `top` with stdout redirected prints one frame with the summary's totals and exits;
#  - bad flags exit 2, an unreachable URL exits 1 with a clear message, for each command.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-cli-views.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.views.$UNIQ"
PROJ_PID=
WATCH_PIDS=()
cleanup() {
  for p in "${WATCH_PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [[ -n $PROJ_PID ]] && kill "$PROJ_PID" 2>/dev/null && wait "$PROJ_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

sim() { # SEED: 300 nodes publishing to $PREFIX.state.{region}.{type} for 2 s
  timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 300 --regions 2 --types 3 \
    --rate 1500 --duration 2 --seed "$1" --flap 10 \
    -X "topic.template=$PREFIX.state.{region}.{type}" -X topic.partitions=2 \
    -X schema.mode=fixed -X outbox.enable=false
}
# py EXPR-SCRIPT ARGS...: runs a small Python check; prints what it prints.
py() { python3 -c "$@"; }

sim 31 >"$TMP/sim1.json" 2>"$TMP/sim1.err" && ok "simulate: 300 nodes" ||
  not_ok "simulate" "$(tail -3 "$TMP/sim1.err")"
for i in 1 2 3; do
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$PREFIX.state.labelled" --node "lab-$i" \
    --type gpu --region lab --label rack=r$((i % 2)) --label team=ml -X schema.mode=fixed \
    >/dev/null 2>>"$TMP/pub.err" || not_ok "publish lab-$i" "$(tail -2 "$TMP/pub.err")"
done
sent=$(($(py 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$TMP/sim1.json") + 3))

# A long heartbeat interval keeps every node alive for the whole test: liveness stays put
# between two reads.
"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" --group "views-$UNIQ" \
  --listen 127.0.0.1:0 -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" \
  -X project.changelog.topic= -X schema.mode=fixed -X "dlq.topic=$PREFIX.dlq" \
  -X heartbeat.interval.ms=600000 -X topic.metadata.refresh.interval.ms=1000 \
  >"$TMP/proj.out" 2>"$TMP/proj.err" &
PROJ_PID=$!
port=$(api_port "$TMP/proj.err" "$PROJ_PID")
[[ -n $port ]] && ok "the projector serves its API on a free port ($port)" ||
  { not_ok "no API port" "$(tail -5 "$TMP/proj.err")"; finish; }
URL=http://127.0.0.1:$port

caught_up=
for _ in $(seq 600); do
  if curl -sf "$URL/readyz" >/dev/null &&
    curl -s "$URL/metrics" | grep -qx "seerlog_projector_records_consumed_total $sent"; then
    caught_up=1
    break
  fi
  sleep 0.1
done
[[ -n $caught_up ]] && ok "the projector caught up ($sent records)" ||
  { not_ok "the projector did not catch up" "$(tail -5 "$TMP/proj.err")"; finish; }
# The liveness tracker ticks every 250 ms: until then fresh nodes are "unknown".
sleep 0.6
curl -s "$URL/v1/summary" >"$TMP/summary.json"
curl -s "$URL/v1/nodes?limit=1000" >"$TMP/api-nodes.json"
total=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["nodes"])' "$TMP/summary.json")
[[ $total == 303 ]] && ok "/v1/summary: 303 nodes" || not_ok "/v1/summary: $total nodes"

# --- state: the table ---
"$SEERLOG" state --url "$URL" >"$TMP/table.txt" 2>"$TMP/table.err"
rc=$?
rows=$(($(wc -l <"$TMP/table.txt") - 1))
[[ $rc == 0 && $rows == "$total" ]] && ok "state: a table of $rows rows, one per node" ||
  not_ok "state: $rows rows (rc $rc), expected $total" "$(head -3 "$TMP/table.txt")" \
    "$(cat "$TMP/table.err")"
head -1 "$TMP/table.txt" | grep -Eq '^NODE +TYPE +REGION +STATUS +LIVENESS +LAST SEEN +CPU +MEM$' &&
  ok "state: the header names the columns" || not_ok "state: header" "$(head -1 "$TMP/table.txt")"
py '
import json, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
api = {n["node_id"]: n for n in json.load(open(sys.argv[2]))["nodes"]}
ids = [r[0] for r in rows]
assert len(ids) == len(set(ids)) == len(api) and set(ids) == set(api), "not every node once"
for r in rows:
    n = api[r[0]]
    assert r[1:5] == [n["node_type"], n["region"], n["status"], n["liveness"]], (r, n)
' "$TMP/table.txt" "$TMP/api-nodes.json" 2>"$TMP/py.err" &&
  ok "state: every node once, with the API's type, region, status and liveness" ||
  not_ok "state: rows do not match the API" "$(tail -3 "$TMP/py.err")"
# The columns line up: every row's STATUS starts where the header's does.
py '
import sys
lines = open(sys.argv[1]).read().splitlines()
col = lines[0].index("STATUS")
assert all(l[col - 1] == " " and l[col] != " " for l in lines[1:]), "misaligned"
' "$TMP/table.txt" 2>"$TMP/py.err" && ok "state: the columns are aligned" ||
  not_ok "state: columns not aligned" "$(tail -2 "$TMP/py.err")"

# --- state: the filters, each against the API's answer for the same parameters ---
filter_check() { # NAME QUERY ARGS...: the table's rows are the API's nodes for QUERY
  local name=$1 query=$2 want got
  shift 2
  want=$(curl -s "$URL/v1/nodes?limit=1000&$query" |
    py 'import json,sys; print(" ".join(sorted(n["node_id"] for n in json.load(sys.stdin)["nodes"])))')
  got=$("$SEERLOG" state --url "$URL" "$@" 2>&1 | tail -n +2 | awk '{print $1}' | sort | tr '\n' ' ')
  got=${got% }
  [[ -n $want && $got == "$want" ]] && ok "state $*: $(wc -w <<<"$got") nodes, as the API ($name)" ||
    not_ok "state $*: ($name)" "got:  ${got:0:300}" "want: ${want:0:300}"
}
region=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["groups"][0]["region"])' "$TMP/summary.json")
type=$(py 'import json,sys; print(json.load(open(sys.argv[1]))["groups"][0]["type"])' "$TMP/summary.json")
filter_check region "region=$region" --region "$region"
filter_check "region and type" "region=$region&type=$type" --region "$region" --type "$type"
filter_check status "status=degraded" --status degraded
filter_check "status up, type" "status=up&type=$type" --status up --type "$type"
filter_check liveness "liveness=alive" --liveness alive
filter_check labels "label=team%3Dml&label=rack%3Dr1" --label team=ml --label rack=r1
n=$("$SEERLOG" state --url "$URL" --limit 7 | tail -n +2 | wc -l)
[[ $n == 7 ]] && ok "state --limit 7: 7 rows" || not_ok "state --limit 7: $n rows"
"$SEERLOG" state --url "$URL" --sort -last_seen -o json | py '
import json, sys
seen = [json.loads(l)["last_heard_ms"] for l in sys.stdin]
assert len(seen) == 303 and seen == sorted(seen, reverse=True), seen[:5]
' 2>"$TMP/py.err" && ok "state --sort -last_seen: newest first, over every page" ||
  not_ok "state --sort -last_seen" "$(tail -2 "$TMP/py.err")"
out=$("$SEERLOG" state --url "$URL" --region nowhere 2>&1)
[[ $? == 0 && $out == "No nodes." ]] && ok "state: no match prints 'No nodes.'" ||
  not_ok "state --region nowhere" "$out"

# --- state -o json, -o wide ---
"$SEERLOG" state --url "$URL" -o json >"$TMP/nodes.jsonl" 2>&1
py '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
api = {n["node_id"]: n for n in json.load(open(sys.argv[2]))["nodes"]}
assert len(lines) == len(api), (len(lines), len(api))
for n in lines:
    a = api[n["node_id"]]
    assert n["state"] == a["state"] and n["status"] == a["status"] and \
        n["liveness"] == a["liveness"] and n["last_heard_ms"] == a["last_heard_ms"], n["node_id"]
' "$TMP/nodes.jsonl" "$TMP/api-nodes.json" 2>"$TMP/py.err" &&
  ok "state -o json: one NODE per line, each equal to the API's" ||
  not_ok "state -o json" "$(tail -3 "$TMP/py.err")" "$(head -c 300 "$TMP/nodes.jsonl")"
wide=$("$SEERLOG" state --url "$URL" -o wide --label team=ml 2>&1)
[[ $(head -1 <<<"$wide") == *"CLUSTER"*"INCARNATION"*"SEQ"*"SOURCE"*"LABELS" &&
  $(grep -c '^lab-' <<<"$wide") == 3 && $wide == *"rack=r1,team=ml"* ]] &&
  ok "state -o wide: cluster, incarnation, seq, source and labels" || not_ok "state -o wide" "$wide"

# --- state NODE ---
node=$(py 'import json,sys; print([n for n in json.load(open(sys.argv[1]))["nodes"] if n["status"] == "degraded"][0]["node_id"])' \
  "$TMP/api-nodes.json")
curl -s "$URL/v1/nodes/$node" >"$TMP/node.json"
read -r nstatus nliveness < <(py 'import json,sys; n=json.load(open(sys.argv[1])); print(n["status"], n["liveness"])' "$TMP/node.json")
detail=$("$SEERLOG" state "$node" --url "$URL" 2>&1)
rc=$?
[[ $rc == 0 && $(grep -E '^Node: +' <<<"$detail") == *" $node" &&
  $(grep -E '^Status: +' <<<"$detail") == *" $nstatus" &&
  $(grep -E '^Liveness: +' <<<"$detail") == *" $nliveness"* && $detail == *"Last heard:"* ]] &&
  ok "state NODE: the node's status ($nstatus) and liveness ($nliveness)" ||
  not_ok "state NODE (rc $rc)" "$detail"
"$SEERLOG" state "$node" --url "$URL" -o json >"$TMP/node-cli.json" 2>&1
py 'import json,sys; a, b = (json.load(open(f)) for f in sys.argv[1:3]); assert a["state"] == b["state"] and a["node_id"] == b["node_id"]' \
  "$TMP/node-cli.json" "$TMP/node.json" 2>"$TMP/py.err" &&
  ok "state NODE -o json: the API's node" || not_ok "state NODE -o json" "$(cat "$TMP/node-cli.json")"
detail=$("$SEERLOG" state lab-1 --url "$URL" 2>&1)
[[ $detail == *"rack=r1, team=ml"* && $(grep -E '^Region: +' <<<"$detail") == *" lab" ]] &&
  ok "state NODE: labels" || not_ok "state lab-1" "$detail"
out=$("$SEERLOG" state no-such-node --url "$URL" 2>&1 >/dev/null)
rc=$?
[[ $rc == 1 && $out == *'no node "no-such-node"'* ]] &&
  ok "state NODE of an unknown node: exit 1 and says so" || not_ok "unknown node: rc $rc" "$out"

# --- bad input ---
usage_check() { # NAME WANT-IN-STDERR ARGS...: exit 2, a usage error
  local name=$1 want=$2 out rc
  shift 2
  out=$("$SEERLOG" "$@" 2>&1)
  rc=$?
  [[ $rc == 2 && $out == *"$want"* && $out == *"(see 'seerlog help $1')"* ]] &&
    ok "$name: usage error (exit 2)" || not_ok "$name: rc $rc" "$out"
}
usage_check "state --status bogus" 'unknown status "bogus"' state --url "$URL" --status bogus
usage_check "state -o yaml" "-o yaml: expected table, wide or json" state --url "$URL" -o yaml
usage_check "state --label without =" "--label rack: expected KEY=VALUE" state --url "$URL" --label rack
usage_check "state --limit 0" "--limit 0: expected an integer" state --url "$URL" --limit 0
usage_check "state --url not a URL" "expected an http:// or https:// URL" state --url ftp://x
usage_check "state NODE with a filter" "--region filters the list" state n1 --url "$URL" --region r
usage_check "state --store with --url" "--url is for the API" state hash --store "$TMP/x" --url "$URL"
usage_check "watch -o yaml" "-o yaml: expected text or json" watch --url "$URL" -o yaml
usage_check "top --interval 0" "--interval 0: expected seconds" top --url "$URL" --interval 0
# A port nothing listens on: bind one, then close it.
dead=$(py 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
for cmd in "state" "state n1" "watch" "top"; do
  # shellcheck disable=SC2086
  out=$(timeout 30 "$SEERLOG" $cmd --url "http://127.0.0.1:$dead" 2>&1)
  rc=$?
  [[ $rc == 1 && $out == *"cannot reach the API at http://127.0.0.1:$dead"* ]] &&
    ok "$cmd: an unreachable URL exits 1 and says so" || not_ok "$cmd unreachable: rc $rc" "$out"
done
out=$("$SEERLOG" state --url "$URL/nope/" 2>&1)
rc=$?
[[ $rc == 1 && $out == *"no such endpoint: /nope/v1/nodes"* ]] &&
  ok "state: an HTTP error exits 1 with the API's message" || not_ok "state on a wrong path" "$out"

# --- top, stdout not a terminal: one frame ---
timeout 30 "$SEERLOG" top --url "$URL" >"$TMP/top.txt" 2>"$TMP/top.err"
rc=$?
py '
import json, sys
text = open(sys.argv[1]).read()
s = json.load(open(sys.argv[2]))
assert "\x1b" not in text, "escape sequences"
assert text.count("seerlog top") == 1, "not one frame"
assert "Nodes: %d\n" % s["nodes"] in text, "no total"
status = next(l for l in text.splitlines() if l.startswith("Status:")).split()[1:]
assert dict(zip(status[::2], map(int, status[1::2]))) == s["status"], (status, s["status"])
for g in s["groups"]:
    assert any(l.split()[:3] == [g["region"], g["type"], str(g["nodes"])] for l in text.splitlines()), g
' "$TMP/top.txt" "$TMP/summary.json" 2>"$TMP/py.err" && [[ $rc == 0 ]] &&
  ok "top > file: one frame with the summary's totals and groups" ||
  not_ok "top > file (rc $rc)" "$(tail -3 "$TMP/py.err")" "$(head -12 "$TMP/top.txt")" "$(cat "$TMP/top.err")"

# --- watch: the events of a second simulation ---
watch_start() { # OUT ARGS...: a watch in the background
  local out=$1
  shift
  # --foreground: timeout passes a SIGINT on to the watch alone; otherwise it also signals its
  # process group, and a second SIGINT kills the watch (as it should) before it exits 0.
  timeout --foreground -s INT 120 "$SEERLOG" watch --url "$URL" "$@" >"$out" 2>"$out.err" &
  WATCH_PIDS+=($!)
}
watch_start "$TMP/watch.json" -o json
watch_start "$TMP/watch-region.json" -o json --region "$region"
watch_start "$TMP/watch.txt"
# Wait for the three streams to be open (their connections established to the API's port).
for _ in $(seq 100); do
  (($(ss -Htn state established "( dport = :$port )" 2>/dev/null | wc -l) >= 3)) && break
  sleep 0.1
done
sim 32 >"$TMP/sim2.json" 2>"$TMP/sim2.err" || not_ok "second simulate" "$(tail -3 "$TMP/sim2.err")"
sent2=$(($(py 'import json,sys; print(json.load(open(sys.argv[1]))["sent"])' "$TMP/sim2.json") + sent))
for _ in $(seq 300); do
  curl -s "$URL/metrics" | grep -qx "seerlog_projector_records_consumed_total $sent2" && break
  sleep 0.1
done
# The last batch's events reach the watchers once committed: wait for the json one to settle.
prev=-1
for _ in $(seq 50); do
  cur=$(wc -l <"$TMP/watch.json")
  ((cur == prev && cur > 0)) && break
  prev=$cur
  sleep 0.3
done
for p in "${WATCH_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
rcs=()
for p in "${WATCH_PIDS[@]}"; do
  wait "$p"
  rcs+=($?)
done
WATCH_PIDS=()
[[ ${rcs[*]} == "0 0 0" ]] && ok "watch: SIGINT ends it with exit 0" || not_ok "watch exit codes: ${rcs[*]}" \
  "$(cat "$TMP"/watch*.err)"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
states = [e for e in ev if e["event"] == "state"]
assert len(states) >= 100, len(states)
assert all(isinstance(e["id"], int) for e in ev), "ids"
ids = [e["id"] for e in ev]
assert ids == sorted(ids) and len(set(ids)) == len(ids), "ids not increasing"
assert all(e["data"]["node_id"] and e["data"]["state"]["node_id"] == e["data"]["node_id"] for e in states)
assert {e["data"]["region"] for e in states} - {"lab"}, "regions"
print(len(states))
' "$TMP/watch.json" >"$TMP/py.out" 2>"$TMP/py.err" &&
  ok "watch -o json: $(cat "$TMP/py.out") state events of the second simulation, ids increasing" ||
  not_ok "watch -o json" "$(tail -3 "$TMP/py.err")" "$(head -c 300 "$TMP/watch.json")" "$(cat "$TMP/watch.json.err")"
py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
states = [e for e in ev if e["event"] == "state"]
assert states and all(e["data"]["region"] == sys.argv[2] for e in states), sys.argv[2]
' "$TMP/watch-region.json" "$region" 2>"$TMP/py.err" &&
  ok "watch --region $region: only that region's events" ||
  not_ok "watch --region" "$(tail -3 "$TMP/py.err")" "$(head -c 300 "$TMP/watch-region.json")"
bad=$(grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z  (state     [^ ]+  status [a-z]+( -> [a-z]+)? \([a-z_]+\)|liveness  [^ ]+  liveness [a-z]+ -> [a-z]+)$' "$TMP/watch.txt")
[[ -s $TMP/watch.txt && $bad == 0 ]] &&
  ok "watch: $(wc -l <"$TMP/watch.txt") lines of time, kind, node and change" ||
  not_ok "watch text: $bad lines not in the format" "$(head -3 "$TMP/watch.txt")"

# --- help ---
for cmd in state watch top; do
  out=$("$SEERLOG" help "$cmd" 2>&1)
  [[ $? == 0 && $out == *"--url URL"* && $out == *"api.url"* ]] && ok "help $cmd" ||
    not_ok "help $cmd" "$out"
done
[[ $("$SEERLOG" help state) == *"hash|get NODE|list"* ]] && ok "help state: both sources" ||
  not_ok "help state: the store"

kill -TERM "$PROJ_PID" 2>/dev/null
wait "$PROJ_PID"
rc=$?
PROJ_PID=
[[ $rc == 0 ]] && ok "the projector exits 0" || not_ok "projector exit $rc" "$(tail -3 "$TMP/proj.err")"

# The store views are unchanged: hash, list and get read the store the projector left.
h=$("$SEERLOG" state hash --store "$TMP/store" 2>&1)
n=$("$SEERLOG" state list --store "$TMP/store" 2>&1 | wc -l)
"$SEERLOG" state get no-such-node --store "$TMP/store" >/dev/null 2>&1
rc=$?
[[ $h =~ ^[0-9a-f]{64}$ && $n == 303 && $rc == 1 ]] &&
  ok "state hash|list|get --store: unchanged (hash, 303 nodes, unknown node exits 1)" ||
  not_ok "state --store" "hash: $h" "list: $n" "get: rc $rc"
finish
