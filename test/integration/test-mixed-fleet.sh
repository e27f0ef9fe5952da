#!/usr/bin/env bash
# A mixed fleet on one cluster, end to end (issue 8), against the real broker and our registry:
#  - bridge-only nodes (seerlog bridge probing HTTP and TCP endpoints on 127.0.0.1);
#  - version-1 writers (confluent-kafka-python's AvroSerializer with schemas/node_state.v1.avsc);
#  - version-2 agents (seerlog simulate, the built-in schema);
#  - Python-produced version-2 events (AvroSerializer with schemas/node_state.avsc, geo set);
#  - one node, mig-1, first spoken for by the bridge, then migrated to `seerlog agent`.
# The projector's view (its HTTP API) shows every node exactly once with the right source and
# liveness, version-1 nodes without the version-2 fields, nothing dead-lettered; its watch
# stream shows mig-1's move from source bridge to source agent; the bridge stops speaking for
# mig-1 (no bridged event of it after the agent's join).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015,SC2154 # PORT_* and PID_* are set by serve() with printf -v
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-mixed.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.mixed.$UNIQ"
TOPICS="^${PREFIX//./\\.}\\.state\\..+"
REG_PID= PROJ_PID= BRIDGE_PID= SIM_PID= AGENT_PID= WATCH_PID=
PIDS=()
cleanup() {
  for pid in $AGENT_PID $BRIDGE_PID $SIM_PID $WATCH_PID $PROJ_PID "${PIDS[@]}" $REG_PID; do
    kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$here/lib.sh"

python_venv "$root"

# await SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds or SECONDS pass.
await() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
}
# serve NAME http STATUS | serve NAME tcp: a node's health endpoint (the old ping's other end).
serve() {
  local name=$1 port=
  shift
  python3 "$here/bridge_server.py" "$@" >"$TMP/$name.port" 2>"$TMP/$name.err" &
  PIDS+=($!)
  for _ in $(seq 100); do
    port=$(head -1 "$TMP/$name.port")
    [[ -n $port ]] && break
    sleep 0.05
  done
  printf -v "PORT_$name" '%s' "$port"
}
# nodes PYTHON-EXPR: true when the expression holds over the projector's view: `lst` (every
# NODE object of /v1/nodes, all pages) and `nodes` (by id); src(i), live(i), geo(i).
nodes() {
  "$SEERLOG" state --url "$API" -o json 2>/dev/null >"$TMP/nodes.jsonl" || return 1
  python3 - "$TMP/nodes.jsonl" "$1" <<'PY'
import json, sys
lst = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
nodes = {n["node_id"]: n for n in lst}
def src(i): return nodes[i]["state"]["source"] if i in nodes else None
def live(i): return nodes[i]["liveness"] if i in nodes else None
def geo(i): return nodes[i]["state"].get("geo") if i in nodes else None
sys.exit(0 if eval("(" + sys.argv[2] + "\n)") else 1)
PY
}

start_registry mixed || { not_ok "registry did not start" "$(tail -5 "$TMP/registry.log")"; finish; }
# Everyone writes through the registry: ids are the registry's (versions 1 and 2 side by side).
COMMON=(--bootstrap "$BOOTSTRAP" --registry "$REG" -X "topic.template=$PREFIX.state.{region}.{type}"
  -X topic.partitions=3 -X "control.topic=$PREFIX.control")

# ---- the projector, its API and its watch stream ----
"$SEERLOG" project "${COMMON[@]}" --store "$TMP/store" --group "mixed-$UNIQ" --listen 127.0.0.1:0 \
  -X "project.topic.pattern=$TOPICS" -X "project.changelog.topic=$PREFIX.snapshot" \
  -X "liveness.topic=$PREFIX.liveness" -X "dlq.topic=$PREFIX.dlq" \
  -X heartbeat.interval.ms=60000 >/dev/null 2>"$TMP/project.err" &
PROJ_PID=$!
port=$(api_port "$TMP/project.err" "$PROJ_PID")
API=http://127.0.0.1:$port
[[ -n $port ]] && ok "projector serving its API on $port" ||
  { not_ok "projector" "$(tail -5 "$TMP/project.err")"; finish; }
curl -sN "$API/v1/watch" >"$TMP/watch.sse" 2>/dev/null &
WATCH_PID=$!

# ---- bridge-only nodes, and mig-1, through the bridge ----
serve a http 200
serve b http 503
serve c tcp
serve m http 200
cat >"$TMP/inv" <<EOF
# node      type    region  probe
br-1        legacy  dc1     http://127.0.0.1:$PORT_a/health
br-2        legacy  dc1     http://127.0.0.1:$PORT_b/health
br-3        legacy  dc2     tcp://127.0.0.1:$PORT_c
mig-1       legacy  dc1     http://127.0.0.1:$PORT_m/health  rack=r7
EOF
# Probes get 2 s (not the interval): a loaded machine must not turn a slow answer into a flap.
"$SEERLOG" bridge --inventory "$TMP/inv" "${COMMON[@]}" --interval-ms 300 --timeout-ms 2000 \
  --stats-interval 1 \
  -X "project.changelog.topic=$PREFIX.snapshot" -X "outbox.dir=$TMP/bridge-outbox" \
  >/dev/null 2>"$TMP/bridge.err" &
BRIDGE_PID=$!

# ---- version-2 agents ----
timeout 120 "$SEERLOG" simulate "${COMMON[@]}" --nodes 12 --regions 2 --types 2 --rate 200 \
  --duration 20 --seed 4 -X outbox.enable=false >"$TMP/sim.out" 2>"$TMP/sim.err" &
SIM_PID=$!

# ---- version-1 writers and Python version-2 events ----
pyev() { # NODE TYPE REGION [MORE-FIELDS]: a join as JSON (MORE-FIELDS: ',"geo":...')
  printf '{"event_id":"%s","node_id":"%s","node_type":"%s","region":"%s","cluster":"",
    "incarnation":1790000000000,"seq":0,"event_time":%s,"kind":"join","status":"up",
    "hostname":"%s","addresses":[],"services":[],"usage":null,"labels":{},
    "agent_version":"python","source":"agent"%s}' "$(cat /proc/sys/kernel/random/uuid)" \
    "$1" "$2" "$3" "$(date +%s%3N)" "$1" "${4:-}"
}
v1_events="[$(pyev v1-1 seer old),$(pyev v1-2 seer old),$(pyev v1-3 seer old)]"
V2NULL=',"geo":null,"capacity":null'
py_events="[$(pyev py-1 gw py ',"geo":{"latitude":48.85,"longitude":2.35,"site":"par"},"capacity":null'),$(pyev py-2 gw py ',"geo":{"latitude":-33.87,"longitude":151.21,"site":""},"capacity":{"cpu_cores":8,"memory_bytes":1,"disk_bytes":2,"max_tasks":0}')]"
# The subjects are new: the serializer registers its schema (version 1, or version 2).
if "$PY" "$here/evolution.py" try "$BOOTSTRAP" "$REG" "$PREFIX.state.old.seer" \
  "$root/schemas/node_state.v1.avsc" "$(pyev v1-0 seer old)" >"$TMP/py1.out" 2>"$TMP/py.err" &&
  [[ $(cat "$TMP/py1.out") == produced* ]] &&
  "$PY" "$here/evolution.py" produce "$BOOTSTRAP" "$REG" "$PREFIX.state.old.seer" \
    "$root/schemas/node_state.v1.avsc" "$v1_events" >/dev/null 2>>"$TMP/py.err" &&
  "$PY" "$here/evolution.py" try "$BOOTSTRAP" "$REG" "$PREFIX.state.py.gw" \
    "$root/schemas/node_state.avsc" "$(pyev py-0 gw py "$V2NULL")" >"$TMP/py2.out" 2>>"$TMP/py.err" &&
  "$PY" "$here/evolution.py" produce "$BOOTSTRAP" "$REG" "$PREFIX.state.py.gw" \
    "$root/schemas/node_state.avsc" "$py_events" >/dev/null 2>>"$TMP/py.err"; then
  ok "Python: 4 version-1 events (AvroSerializer, node_state.v1.avsc), 3 version-2 events"
else
  not_ok "Python producers" "$(tail -5 "$TMP/py.err")"
fi

# ---- everyone there: 4 bridged (mig-1 among them), 12 + 4 + 3 agents ----
BRIDGED="['br-1', 'br-2', 'br-3']"
if await 30 nodes "len(lst) == 23 and all(src(i) == 'bridge' for i in $BRIDGED + ['mig-1'])"; then
  ok "23 nodes, br-1..3 and mig-1 spoken for by the bridge"
else
  not_ok "the fleet did not show up" "$(cut -c1-200 "$TMP/nodes.jsonl" | head -30)" \
    "$(tail -3 "$TMP/bridge.err")"
fi

# ---- mig-1 migrates: its own agent ----
"$SEERLOG" agent --node mig-1 --type legacy --region dc1 "${COMMON[@]}" \
  -X "outbox.dir=$TMP/agent-outbox" -X heartbeat.interval.ms=1000 >/dev/null \
  2>"$TMP/agent.err" &
AGENT_PID=$!
await 30 nodes "src('mig-1') == 'agent'" && ok "mig-1 now comes from its agent (source agent)" ||
  not_ok "mig-1 did not migrate" "$(grep mig-1 "$TMP/nodes.jsonl" | cut -c1-300)" "$(tail -3 "$TMP/agent.err")"
await 30 grep -q "mig-1 is native now" "$TMP/bridge.err" &&
  ok "the bridge noticed: 'mig-1 is native now'" ||
  not_ok "the bridge did not step aside" "$(grep -i mig-1 "$TMP/bridge.err" | tail -3)"

# No bridged event of mig-1 after the agent's join, a few bridge rounds later.
sleep 1.5 # (the bridge's interval is 0.3 s: five rounds in which it must not publish mig-1)
"$SEERLOG" history mig-1 --bootstrap "$BOOTSTRAP" --registry "$REG" --topics "$TOPICS" -o json \
  >"$TMP/mig.jsonl" 2>"$TMP/mig.err"
verdict=$(python3 - "$TMP/mig.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
srcs = [e["source"] for e in ev]
first_agent = srcs.index("agent") if "agent" in srcs else -1
after = srcs[first_agent:] if first_agent >= 0 else []
print(srcs.count("bridge"), srcs.count("agent"), after.count("bridge"))
PY
)
read -r nb na nafter <<<"$verdict"
[[ ${nb:-0} -ge 1 && ${na:-0} -ge 1 && $nafter -le 1 ]] &&
  ok "history of mig-1: $nb bridged events, then $na of its agent, $nafter bridged after (in flight)" ||
  not_ok "mig-1's history: $verdict" "$(cut -c1-200 "$TMP/mig.jsonl" | tail -5)"
"$SEERLOG" state --url "$API" -o json 2>/dev/null | python3 -c '
import json, sys
n = [json.loads(l) for l in sys.stdin if l.strip()]
m = [x for x in n if x["node_id"] == "mig-1"][0]
print(m["state"]["source"], m["state"]["agent_version"].split("/")[0])' >"$TMP/mig.now"
[[ $(cat "$TMP/mig.now") == "agent "* ]] &&
  ok "mig-1 stays native after bridge rounds ($(cat "$TMP/mig.now"))" ||
  not_ok "mig-1 now: $(cat "$TMP/mig.now")"

# ---- the view: every node once, the right source and liveness ----
AGENTS="[i for i in nodes if i not in $BRIDGED]"
nodes "len(lst) == len(nodes) == 23" && ok "every node exactly once (23)" ||
  not_ok "nodes: $(wc -l <"$TMP/nodes.jsonl") objects"
nodes "all(src(i) == 'bridge' for i in $BRIDGED) and all(src(i) == 'agent' for i in $AGENTS)" &&
  ok "sources: br-1..3 bridge; mig-1, the simulated, v1 and Python nodes agent" ||
  not_ok "sources" "$(python3 -c 'import json,sys; [print(d["node_id"], d["state"]["source"]) for d in map(json.loads, open(sys.argv[1]))]' "$TMP/nodes.jsonl" | head -30)"
nodes "all(live(i) == 'alive' for i in nodes)" && ok "every node alive" ||
  not_ok "liveness" "$(python3 -c 'import json,sys; [print(d["node_id"], d["liveness"]) for d in map(json.loads, open(sys.argv[1]))]' "$TMP/nodes.jsonl" | grep -v alive | head)"
nodes "all(geo(i) is None for i in ['v1-0', 'v1-1', 'v1-2', 'v1-3']) and geo('py-1')['site'] == 'par' and nodes['br-2']['status'] == 'degraded'" &&
  ok "version-1 nodes without geo, Python version-2 nodes with it; br-2 (HTTP 503) degraded" ||
  not_ok "fields" "$(grep -E '"v1-1"|"py-1"|"br-2"' "$TMP/nodes.jsonl" | cut -c1-400)"
bridged=$("$SEERLOG" state --url "$API" --source bridge -o json 2>&1 |
  python3 -c 'import json,sys; print(" ".join(sorted(json.loads(l)["node_id"] for l in sys.stdin)))')
[[ $bridged == "br-1 br-2 br-3" ]] && ok "state --source bridge: the nodes still bridged ($bridged)" ||
  not_ok "state --source bridge: '$bridged'"
code=$(curl -s -o /dev/null -w '%{http_code}' "$API/v1/nodes?source=carrier-pigeon")
[[ $code == 400 ]] && ok "/v1/nodes?source=carrier-pigeon: 400" || not_ok "bad source filter: HTTP $code"
dead=$(curl -sf "$API/metrics" | awk '/^seerlog_projector_dead_letters_total/ {print $2}')
[[ ${dead:-x} == 0 ]] && ok "nothing dead-lettered" || not_ok "dead letters: '$dead'"

# ---- the watch stream shows the migration ----
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=
moves=$(python3 - "$TMP/watch.sse" <<'PY'
import json, sys
seq, event = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("event: "):
        event = line[7:]
    elif line.startswith("data: ") and event == "state":
        d = json.loads(line[6:])
        if d.get("node_id") == "mig-1":
            s = d.get("state", d).get("source")
            if not seq or seq[-1] != s:
                seq.append(s)
print(" ".join(str(s) for s in seq))
PY
)
[[ $moves == "bridge agent" ]] && ok "the watch stream shows mig-1 move: $moves" ||
  not_ok "watch stream: mig-1's sources in order: '$moves'" "$(grep -c . "$TMP/watch.sse") lines"

# ---- the bridged/native rule gives one result whatever the batch boundaries ----
# On one partition: det-1's agent joins and leaves, then the bridge takes det-1 back (its join
# says so: the seerlog.takeover label), then a stale heartbeat of the agent arrives: det-1 stays
# bridged. det-2: a bridge that never saw it native joins with a newer incarnation than its
# agent's join, which arrives later (the race of a bridge restart): the agent wins. Stores fed in
# one batch, in one-record batches and in two batches split after the leave must agree, and
# verify must find the projection right.
DT="$PREFIX.state.det.x"
detpub() { # SOURCE INC SEQ STATUS KIND [NODE [LABELS-JSON]]
  printf '{"node_id":"%s","node_type":"x","region":"det","incarnation":%s,"seq":%s,
    "status":"%s","kind":"%s","source":"%s","labels":%s}' "${6:-det-1}" "$2" "$3" "$4" "$5" "$1" \
    "${7:-{\}}" |
    "$SEERLOG" publish --json "${COMMON[@]}" --topic "$DT" --auto-register -X topic.partitions=1 \
      >/dev/null 2>>"$TMP/det.err"
}
detproj() { # STORE [options]
  "$SEERLOG" project "${COMMON[@]}" --store "$1" --group "det-$(basename "$1")-$UNIQ" --catch-up \
    -X "project.topic.pattern=^${DT//./\\.}\$" -X project.changelog.topic= -X liveness.topic= \
    -X "dlq.topic=$PREFIX.dlq" "${@:2}" 2>>"$TMP/det.err" | jget 'd["hash"]'
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
detpub agent 100 0 up join && detpub agent 100 1 left leave || not_ok "det publish" "$(tail -3 "$TMP/det.err")"
detproj "$TMP/det-split" >/dev/null
detpub bridge 300 0 up join det-1 '{"seerlog.takeover":"1"}' && detpub agent 50 0 up heartbeat &&
  detpub bridge 300 0 up join det-2 && detpub agent 100 0 up join det-2 ||
  not_ok "det publish" "$(tail -3 "$TMP/det.err")"
h_split=$(detproj "$TMP/det-split")
h_one=$(detproj "$TMP/det-one")
h_each=$(detproj "$TMP/det-each" -X project.batch.max=1)
[[ -n $h_one && $h_split == "$h_one" && $h_each == "$h_one" ]] &&
  ok "agent join, leave | bridge join, stale agent heartbeat: one store hash in one batch, two, and one record each" ||
  not_ok "batch boundaries change the result: split $h_split, one $h_one, each $h_each" "$(tail -3 "$TMP/det.err")"
s1=$("$SEERLOG" state get det-1 --store "$TMP/det-one" 2>/dev/null | jget 'd["source"], d["incarnation"]')
s2=$("$SEERLOG" state get det-2 --store "$TMP/det-one" 2>/dev/null | jget 'd["source"], d["incarnation"]')
[[ $s1 == "bridge 300" && $s2 == "agent 100" ]] &&
  ok "a takeover ignores the stale agent heartbeat (det-1: $s1); a blind bridge join yields to the agent (det-2: $s2)" ||
  not_ok "det states: det-1 '$s1' det-2 '$s2'"
"$SEERLOG" verify "${COMMON[@]}" --store "$TMP/det-split" >"$TMP/det-verify.out" 2>>"$TMP/det.err" &&
  ok "verify: the two-batch store matches a replay" ||
  not_ok "verify of the two-batch store" "$(cat "$TMP/det-verify.out")"

kill -TERM "$AGENT_PID" "$BRIDGE_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
wait "$BRIDGE_PID" 2>/dev/null
AGENT_PID= BRIDGE_PID=
finish
