#!/usr/bin/env bash
# seerlog bridge against the real broker and a projector (docs/bridge.md):
#  - tiny health endpoints on 127.0.0.1 (bridge_server.py): HTTP 200, HTTP 503, an HTTP server
#    stopped and started again, TCP listeners (one closed mid-test), a port nobody listens on;
#  - every inventory node appears in the projector exactly once, source bridge, the right
#    status (503: degraded, nobody: down), labels, and alive (the bridge heartbeats it);
#  - stopping a server turns its node down (status_change), starting it again brings it up;
#  - a node that publishes natively (seerlog publish, source agent) is left alone: the bridge
#    says so and publishes no more for it;
#  - SIGTERM: exit 0, no leave; a restart joins every node again with a newer incarnation, still
#    one entry per node, the native node still left alone;
#  - the native node's agent leaves: after --native-grace-ms the bridge speaks for it again;
#  - SIGHUP: a removed node leaves, an added node joins, a node moved to another region leaves
#    its old topic and joins the new one; a bad file is logged and the old one kept;
#  - --native-from URL (the projector's API) instead of the changelog;
#  - an agent whose region differs from its inventory line is warned about (once, FILE:LINE),
#    agents that match are not;
#  - partitions added to the changelog while the bridge reads it are read too (native states
#    written into the new partitions make their nodes native);
#  - a bad inventory exits 2 naming file:line; an unreachable broker exits 1 with the reason.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015,SC2154 # PORT_* and PID_* are set by serve() with printf -v
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
SERVER="$(dirname "${BASH_SOURCE[0]}")/bridge_server.py"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-bridge.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.bridge.$UNIQ"
TOPICS="^${PREFIX//./\\.}\\.state\\..+"
PIDS=()
BRIDGE_PID=

cleanup() {
  [[ -n $BRIDGE_PID ]] && kill "$BRIDGE_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  [[ -n $BRIDGE_PID ]] && wait "$BRIDGE_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# serve NAME http STATUS [PORT] | serve NAME tcp [PORT]: a health endpoint in the background;
# sets PORT_<NAME> and PID_<NAME>.
serve() {
  local name=$1 port
  shift
  python3 "$SERVER" "$@" >"$TMP/$name.port" 2>"$TMP/$name.err" &
  PIDS+=($!)
  printf -v "PID_$name" '%s' $!
  for _ in $(seq 100); do
    port=$(head -1 "$TMP/$name.port")
    [[ -n $port ]] && break
    sleep 0.05
  done
  printf -v "PORT_$name" '%s' "$port"
}
# stop NAME: stops the endpoint NAME and waits until its port refuses connections.
stop() {
  local pid="PID_$1" port="PORT_$1"
  kill "${!pid}" 2>/dev/null
  wait "${!pid}" 2>/dev/null
  for _ in $(seq 100); do port_free "${!port}" && return 0; sleep 0.05; done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# await SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds or SECONDS pass.
await() {
  local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000))
  shift
  while :; do
    "$@" && return 0
    (($(date +%s%N) / 1000000 >= deadline)) && return 1
    sleep 0.1
  done
}

# nodes PYTHON-EXPR: evaluates the expression over `nodes` (id -> the API's NODE object, every
# page) and `lst` (the list, to count duplicates); exit status 0 when true.
nodes() {
  "$SEERLOG" state --url "$API" -o json 2>/dev/null >"$TMP/nodes.jsonl" || return 1
  python3 - "$TMP/nodes.jsonl" "$1" <<'PY'
import json, sys
lst = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
nodes = {n["node_id"]: n for n in lst}
def st(i): return nodes[i]["status"] if i in nodes else None
def src(i): return nodes[i]["state"]["source"] if i in nodes else None
def inc(i): return nodes[i]["state"]["incarnation"] if i in nodes else None
def kind(i): return nodes[i]["state"]["kind"] if i in nodes else None
sys.exit(0 if eval("(" + sys.argv[2] + "\n)") else 1)
PY
}
# history NODE: the node's events in the test's topics, as JSON lines, into $TMP/h.NODE.jsonl.
history() { "$SEERLOG" history "$1" --bootstrap "$BOOTSTRAP" --topics "$TOPICS" -o json \
  -X schema.mode=fixed >"$TMP/h.$1.jsonl" 2>"$TMP/h.$1.err"; }
# events NODE PYTHON-EXPR: the expression over `ev` (the node's events, in log order).
events() {
  history "$1" || [[ -s $TMP/h.$1.jsonl ]] || return 1
  python3 - "$TMP/h.$1.jsonl" "$2" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bridged = [e for e in ev if e["source"] == "bridge"]
sys.exit(0 if eval("(" + sys.argv[2] + "\n)") else 1)
PY
}
count_bridged() { history "$1"; python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["source"] == "bridge"))' "$TMP/h.$1.jsonl"; }
log_has() { grep -qF -- "$2" "$1"; }

COMMON=(--bootstrap "$BOOTSTRAP" -X "topic.template=$PREFIX.state.{region}.{type}"
  -X schema.mode=fixed -X topic.partitions=2 -X "control.topic=$PREFIX.control")
# bridge LOG [options]: a bridge in the background over $TMP/inv; sets BRIDGE_PID. Probes every
# 200 ms, each given 2 s: the default timeout (the interval) would count a test server slow to
# answer on a loaded machine as down, and the node would flap (what the test checks comes from
# stopping and starting servers: refused connections, never timeouts).
bridge() {
  local log=$1
  shift
  "$SEERLOG" bridge --inventory "$TMP/inv" "${COMMON[@]}" --interval-ms 200 --timeout-ms 2000 \
    --stats-interval 1 \
    -X "project.changelog.topic=$PREFIX.snapshot" -X "outbox.dir=$TMP/outbox" "$@" \
    >"$TMP/bridge.out" 2>"$log" &
  BRIDGE_PID=$!
}
# stop_bridge: SIGTERM, and its exit code in $rc.
stop_bridge() {
  kill -TERM "$BRIDGE_PID"
  wait "$BRIDGE_PID"
  rc=$?
  BRIDGE_PID=
}

# ---- the old pings' other ends ----
serve up http 200
serve sick http 503
serve flap http 200
serve tcp tcp
serve gone tcp
NOBODY=$(free_port)
for n in up sick flap tcp gone; do
  p="PORT_$n"
  [[ -n ${!p} ]] || { not_ok "endpoint $n did not start" "$(cat "$TMP/$n.err")"; finish; }
done
ok "health endpoints: HTTP 200 ($PORT_up), 503 ($PORT_sick), 200 to stop ($PORT_flap), TCP ($PORT_tcp, $PORT_gone), nobody on $NOBODY"

cat >"$TMP/inv" <<EOF
# seerlog bridge test inventory
web-up    seer     eu-west  http://127.0.0.1:$PORT_up/healthz   rack=r1 team=core
web-sick  tns      eu-west  http://127.0.0.1:$PORT_sick/healthz
web-flap  seer     eu-west  http://127.0.0.1:$PORT_flap/healthz # stopped and started again
tcp-up    gateway  us-east  tcp://127.0.0.1:$PORT_tcp
tcp-gone  gateway  us-east  tcp://127.0.0.1:$PORT_gone
nobody    gateway  us-east  tcp://127.0.0.1:$NOBODY
migrant   seer     us-east  http://127.0.0.1:$PORT_up/healthz   # will get an agent
EOF
ALL="['web-up','web-sick','web-flap','tcp-up','tcp-gone','nobody','migrant']"

# ---- usage errors before anything else ----
printf 'ok1 seer eu-west tcp://127.0.0.1:1\nbad seer eu-west udp://127.0.0.1:1\n' >"$TMP/bad.inv"
"$SEERLOG" bridge --inventory "$TMP/bad.inv" "${COMMON[@]}" >/dev/null 2>"$TMP/bad.err"
rc=$?
[[ $rc == 2 ]] && log_has "$TMP/bad.err" "$TMP/bad.inv:2: probe \"udp://127.0.0.1:1\": unknown scheme" &&
  ok "a bad inventory line: exit 2, file:line named" ||
  not_ok "bad inventory: exit $rc" "$(cat "$TMP/bad.err")"
"$SEERLOG" bridge --inventory "$TMP/inv" --bootstrap 127.0.0.1:1 --native-wait-ms 1500 \
  -X "outbox.dir=$TMP/outbox-nobroker" >/dev/null 2>"$TMP/nobroker.err"
rc=$?
[[ $rc == 1 ]] && log_has "$TMP/nobroker.err" "seerlog: bridge: the Kafka brokers (bootstrap.servers=127.0.0.1:1) did not answer within 1500 ms" &&
  ok "an unreachable broker: exit 1, the brokers named" ||
  not_ok "unreachable broker: exit $rc" "$(grep seerlog: "$TMP/nobroker.err")"

# ---- a projector with its changelog, and the bridge ----
"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" --group "bridge-$UNIQ" \
  --listen 127.0.0.1:0 -X "project.topic.pattern=$TOPICS" -X schema.mode=fixed \
  -X "project.changelog.topic=$PREFIX.snapshot" -X project.changelog.partitions=2 \
  -X "dlq.topic=$PREFIX.dlq" -X liveness.topic= -X "control.topic=$PREFIX.control" \
  -X project.lag.interval.ms=1000 -X topic.metadata.refresh.interval.ms=1000 \
  >"$TMP/proj.out" 2>"$TMP/proj.err" &
PROJ=$!
PIDS+=($!)
port=$(api_port "$TMP/proj.err" "${PIDS[-1]}")
[[ -n $port ]] && ok "projector serves its API on port $port" ||
  { not_ok "no projector API" "$(tail -5 "$TMP/proj.err")"; finish; }
API=http://127.0.0.1:$port

bridge "$TMP/bridge.err"
await 30 nodes "len(lst) == 7 and sorted(nodes) == sorted($ALL)" &&
  ok "all 7 inventory nodes appear in the projector" ||
  not_ok "the projector's nodes" "$(cut -c1-200 "$TMP/nodes.jsonl")" "$(tail -5 "$TMP/bridge.err")"
await 20 nodes "[st(i) for i in $ALL] == ['up','degraded','up','up','up','down','up']" &&
  ok "statuses: HTTP 200 up, HTTP 503 degraded, TCP accepted up, nobody listening down" ||
  not_ok "statuses" "$(python3 -c 'import json,sys; [print(json.loads(l)["node_id"], json.loads(l)["status"]) for l in open(sys.argv[1])]' "$TMP/nodes.jsonl")"
nodes "len(lst) == len(set(n['node_id'] for n in lst)) and all(src(i) == 'bridge' for i in nodes)
  and all(n['state']['agent_version'].startswith('bridge/') for n in lst)" &&
  ok "each node exactly once, source bridge, agent_version bridge/<version>" ||
  not_ok "once each, source bridge" "$(cut -c1-300 "$TMP/nodes.jsonl")"
nodes "nodes['web-up']['state']['labels'] == {'rack': 'r1', 'team': 'core'} and
  nodes['tcp-up']['state']['addresses'] == ['tcp://127.0.0.1:$PORT_tcp'] and
  nodes['tcp-up']['state']['hostname'] == '127.0.0.1'" &&
  ok "labels from the inventory, the probe as the address, its host as the hostname" ||
  not_ok "labels, address" "$(grep web-up "$TMP/nodes.jsonl" | cut -c1-600)"
await 20 nodes "all(nodes[i]['liveness'] == 'alive' for i in $ALL)" &&
  ok "every bridged node is alive, the down one too (the bridge heartbeats it)" ||
  not_ok "liveness" "$(python3 -c 'import json,sys; [print(json.loads(l)["node_id"], json.loads(l)["liveness"]) for l in open(sys.argv[1])]' "$TMP/nodes.jsonl")"
await 10 events web-up "[e['kind'] for e in ev[:1]] == ['join'] and any(e['kind'] == 'heartbeat' for e in ev)
  and all(e['incarnation'] == ev[0]['incarnation'] for e in ev) and [e['seq'] for e in ev] == list(range(len(ev)))" &&
  ok "web-up: a join, then heartbeats, one incarnation, seq 0, 1, 2, ..." ||
  not_ok "web-up's events" "$(cut -c1-200 "$TMP/h.web-up.jsonl")"
INC1=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["incarnation"])' "$TMP/h.web-up.jsonl")
# The projector created its changelog before it served its API: the bridge found it at start.
await 10 log_has "$TMP/bridge.err" '"native_caught_up":true' && ! log_has "$TMP/bridge.err" "does not exist" &&
  ok "the bridge read the (empty) changelog to its end" || not_ok "native_caught_up" "$(tail -3 "$TMP/bridge.err")"

# ---- a node stops answering, and comes back ----
stop flap
await 20 nodes "st('web-flap') == 'down'" && ok "web-flap's server stopped: down" ||
  not_ok "web-flap down" "$(grep web-flap "$TMP/nodes.jsonl" | cut -c1-200)"
events web-flap "any(e['kind'] == 'status_change' and e['status'] == 'down' for e in ev)" &&
  ok "web-flap: a status_change to down in the log" || not_ok "status_change down" "$(cut -c1-200 "$TMP/h.web-flap.jsonl")"
log_has "$TMP/bridge.err" "node web-flap: up -> down (" && ok "the bridge logs the change with the reason" ||
  not_ok "no log of the change" "$(tail -3 "$TMP/bridge.err")"
serve flap http 200 "$PORT_flap"
await 20 nodes "st('web-flap') == 'up'" && ok "web-flap's server started again: up" ||
  not_ok "web-flap up" "$(cat "$TMP/flap.err")"
events web-flap "[e['status'] for e in ev if e['kind'] == 'status_change'] == ['down', 'up']" &&
  ok "web-flap: status_change down, then up" || not_ok "status changes" "$(cut -c1-200 "$TMP/h.web-flap.jsonl")"
stop gone
await 20 nodes "st('tcp-gone') == 'down' and nodes['tcp-gone']['liveness'] == 'alive'" &&
  ok "tcp-gone's listener closed: down, still alive" || not_ok "tcp-gone" "$(grep tcp-gone "$TMP/nodes.jsonl" | cut -c1-200)"

# ---- the migrant gets an agent ----
"$SEERLOG" publish "${COMMON[@]}" --node migrant --type seer --region us-east --kind join \
  --status up --hostname migrant-host >/dev/null 2>"$TMP/pub.err" &&
  ok "migrant publishes natively (seerlog publish, source agent)" || not_ok "publish" "$(cat "$TMP/pub.err")"
await 20 log_has "$TMP/bridge.err" "node migrant is native now (source agent); the bridge stops speaking for it" &&
  ok "the bridge sees it in the changelog and steps aside" || not_ok "not native" "$(tail -3 "$TMP/bridge.err")"
n1=$(count_bridged migrant)
seq0=$(python3 -c 'import json,sys; print(max(json.loads(l)["seq"] for l in open(sys.argv[1])))' "$TMP/h.web-up.jsonl")
# Three more heartbeats of another node: the bridge went on for at least three rounds.
await 20 events web-up "max(e['seq'] for e in ev) >= $seq0 + 3" || not_ok "web-up stopped heartbeating"
n2=$(count_bridged migrant)
((n2 - n1 <= 1)) && ok "no bridged event of migrant after that ($n1 before, $n2 after; one may have been in flight)" ||
  not_ok "the bridge went on publishing for migrant: $n1 then $n2"
nodes "src('migrant') == 'agent' and nodes['migrant']['state']['hostname'] == 'migrant-host' and len(lst) == 7" &&
  ok "the projector shows migrant once, from its agent" || not_ok "migrant in the projector" "$(grep migrant "$TMP/nodes.jsonl" | cut -c1-300)"
await 5 log_has "$TMP/bridge.err" '"native":1' && ok "the stats count 1 native node" || not_ok "stats native" "$(tail -1 "$TMP/bridge.err")"
grep '^{' "$TMP/bridge.err" | tail -1 | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
need = ["probes", "up", "degraded", "down", "native", "published", "probe_p50_ms", "probe_p99_ms", "accepted", "sent"]
sys.exit(0 if all(k in s for k in need) and s["probes"] > 0 and s["probe_p50_ms"] is not None else 1)' &&
  ok "stats line: probes, up/degraded/down, native, published, latency p50/p99" ||
  not_ok "stats line" "$(grep '^{' "$TMP/bridge.err" | tail -1)"

# ---- restart ----
stop_bridge
[[ $rc == 0 ]] && log_has "$TMP/bridge.err" "stopping (no leave: the nodes did not leave)" &&
  ok "SIGTERM: exit 0, no leave" || not_ok "SIGTERM: exit $rc" "$(tail -3 "$TMP/bridge.err")"
events web-up "not any(e['kind'] == 'leave' for e in ev)" && ok "no leave in the log" ||
  not_ok "a leave was published" "$(tail -2 "$TMP/h.web-up.jsonl")"
n3=$(count_bridged migrant)
bridge "$TMP/bridge2.err" --native-grace-ms 1500
await 30 nodes "all(inc(i) > $INC1 for i in $ALL if i != 'migrant') and len(lst) == 7" &&
  ok "restarted: every bridged node joined again with a newer incarnation" ||
  not_ok "restart" "$(tail -5 "$TMP/bridge2.err")"
nodes "len(lst) == 7 and len(set(n['node_id'] for n in lst)) == 7 and src('migrant') == 'agent'
  and all(src(i) == 'bridge' for i in $ALL if i != 'migrant')" &&
  ok "still exactly one entry per node, none lost, migrant still native" ||
  not_ok "after the restart" "$(cut -c1-200 "$TMP/nodes.jsonl")"
log_has "$TMP/bridge2.err" "of the inventory native" && log_has "$TMP/bridge2.err" "node migrant is native now" &&
  ok "the restarted bridge read the changelog before publishing: migrant native from the start" ||
  not_ok "restart: native" "$(head -5 "$TMP/bridge2.err")"
events web-up "[e['kind'] for e in ev if e['incarnation'] > $INC1][:1] == ['join'] and
  [e['seq'] for e in ev if e['incarnation'] > $INC1] == list(range(len([e for e in ev if e['incarnation'] > $INC1])))" &&
  ok "web-up's new incarnation starts with a join, seq from 0" || not_ok "new incarnation" "$(tail -3 "$TMP/h.web-up.jsonl")"
await 20 events web-up "max(e['seq'] for e in ev if e['incarnation'] > $INC1) >= 3" || true
n4=$(count_bridged migrant)
((n4 == n3)) && ok "the restarted bridge published nothing for migrant ($n4 bridged events, as before)" ||
  not_ok "restart published for migrant: $n3 then $n4"

# ---- the agent is removed: the bridge takes over again ----
"$SEERLOG" publish "${COMMON[@]}" --node migrant --type seer --region us-east --kind leave \
  --status left >/dev/null 2>"$TMP/pub2.err" || not_ok "publish leave" "$(cat "$TMP/pub2.err")"
await 20 log_has "$TMP/bridge2.err" "node migrant: its native publisher left" &&
  ok "after its agent's leave and the grace period the bridge speaks for migrant again" ||
  not_ok "no resume" "$(tail -3 "$TMP/bridge2.err")"
await 20 nodes "src('migrant') == 'bridge' and st('migrant') == 'up' and len(lst) == 7" &&
  ok "the projector shows migrant bridged again, up" || not_ok "migrant resumed" "$(grep migrant "$TMP/nodes.jsonl" | cut -c1-300)"
events migrant "[e['kind'] for e in ev if e['source'] == 'bridge' and e['incarnation'] > [x for x in ev if x['kind'] == 'leave'][-1]['incarnation']][:1] == ['join']" &&
  ok "it resumes with a join in an incarnation newer than the agent's" || not_ok "resume join" "$(tail -3 "$TMP/h.migrant.jsonl")"

# ---- SIGHUP ----
# web-sick removed, late added, nobody moved to another region (so another topic).
grep -v '^web-sick' "$TMP/inv" | sed 's/^nobody    gateway  us-east/nobody    gateway  eu-west/' >"$TMP/inv.new"
echo "late seer eu-west http://127.0.0.1:$PORT_up/healthz" >>"$TMP/inv.new"
mv "$TMP/inv.new" "$TMP/inv"
kill -HUP "$BRIDGE_PID"
await 20 log_has "$TMP/bridge2.err" "reloaded $TMP/inv: 7 nodes (1 added, 1 removed, 1 changed)" &&
  ok "SIGHUP: the inventory read again" || not_ok "reload" "$(tail -3 "$TMP/bridge2.err")"
await 20 nodes "st('web-sick') == 'left' and kind('web-sick') == 'leave' and st('late') == 'up' and kind('late') in ('join', 'heartbeat')" &&
  ok "the removed node left, the added node joined" || not_ok "after SIGHUP" "$(grep -e web-sick -e late "$TMP/nodes.jsonl" | cut -c1-200)"
await 20 nodes "nodes['nobody']['region'] == 'eu-west' and st('nobody') == 'down' and len(lst) == 8" &&
  events nobody "[(e['kind'], e['_topic'].split('.')[-2]) for e in ev if e['kind'] in ('join', 'leave')][-2:] == [('leave', 'us-east'), ('join', 'eu-west')]" &&
  ok "the moved node left its old region's topic and joined the new one; still one entry" ||
  not_ok "region change" "$(grep nobody "$TMP/nodes.jsonl" | cut -c1-200)" "$(grep -e join -e leave "$TMP/h.nobody.jsonl" | cut -c1-160)"
echo "broken line" >>"$TMP/inv"
kill -HUP "$BRIDGE_PID"
await 20 log_has "$TMP/bridge2.err" "reloading the inventory: $TMP/inv:9: expected NODE_ID TYPE REGION PROBE [KEY=VALUE ...], found 2 fields; keeping the previous one (7 nodes)" &&
  ok "a bad file on SIGHUP: logged with file:line, the previous inventory kept" ||
  not_ok "bad reload" "$(tail -3 "$TMP/bridge2.err")"
nodes True
seq0=$(python3 -c 'import json,sys; print([n for n in map(json.loads, open(sys.argv[1])) if n["node_id"] == "late"][0]["state"]["seq"])' "$TMP/nodes.jsonl")
await 20 nodes "nodes['late']['state']['seq'] > $seq0" && kill -0 "$BRIDGE_PID" &&
  ok "and it goes on publishing" || not_ok "stopped after a bad reload"
stop_bridge
[[ $rc == 0 ]] && ok "second bridge: SIGTERM, exit 0" || not_ok "second bridge exit $rc"
sed -i '$d' "$TMP/inv" # the broken line

# ---- --native-from the projector's API ----
"$SEERLOG" publish "${COMMON[@]}" --node tcp-up --type gateway --region us-east --kind join \
  --status up >/dev/null 2>"$TMP/pub3.err" || not_ok "publish tcp-up" "$(cat "$TMP/pub3.err")"
await 20 nodes "src('tcp-up') == 'agent'" || not_ok "tcp-up native in the projector"
bridge "$TMP/bridge3.err" --native-from "$API/"
await 20 log_has "$TMP/bridge3.err" "node tcp-up is native now (source agent)" &&
  log_has "$TMP/bridge3.err" "native source $API read in" &&
  ok "--native-from URL: read from the projector's API before publishing" ||
  not_ok "--native-from URL" "$(head -5 "$TMP/bridge3.err")"
await 10 log_has "$TMP/bridge3.err" '"native_source":"api"' && ok "stats: native_source api" ||
  not_ok "stats api" "$(tail -1 "$TMP/bridge3.err")"
nodes "src('tcp-up') == 'agent' and len(lst) == 8" && ok "tcp-up stays native; 8 nodes, once each" ||
  not_ok "api mode" "$(cut -c1-200 "$TMP/nodes.jsonl")"
# An agent configured with another region than its inventory line: its events and the bridge's
# go to different topics, so their order is not kept; the bridge says so (once).
! grep -q "publishes natively as" "$TMP/bridge.err" "$TMP/bridge2.err" "$TMP/bridge3.err" &&
  ok "agents that match their inventory lines: no routing warning" ||
  not_ok "a routing warning for a matching agent" "$(grep -h "publishes natively as" "$TMP"/bridge*.err)"
"$SEERLOG" publish "${COMMON[@]}" --node late --type seer --region us-east --kind join \
  --status up >/dev/null 2>"$TMP/pub4.err" || not_ok "publish late" "$(cat "$TMP/pub4.err")"
await 20 log_has "$TMP/bridge3.err" "node late publishes natively as region us-east, type seer, but the inventory says region eu-west, type seer" &&
  log_has "$TMP/bridge3.err" "make the inventory line ($TMP/inv:8) match" &&
  ok "an agent in another region than its inventory line: warned, with the line" ||
  not_ok "no routing warning" "$(tail -3 "$TMP/bridge3.err")"
stop_bridge
[[ $rc == 0 ]] && ok "third bridge: SIGTERM, exit 0" || not_ok "third bridge exit $rc"

# ---- partitions added to the changelog while the bridge reads it ----
# The projector stops first: it would go on writing the bridged states of these nodes to the
# changelog, over the native ones written below.
kill -TERM "$PROJ" && wait "$PROJ"
bridge "$TMP/bridge4.err"
await 20 log_has "$TMP/bridge4.err" '"native_caught_up":true' || not_ok "fourth bridge caught up" "$(tail -3 "$TMP/bridge4.err")"
"${SEERLOG_SOURCE_DIR:-$(dirname "${BASH_SOURCE[0]}")/../..}/scripts/kafka-local" tool org.apache.kafka.tools.TopicCommand \
  --bootstrap-server "$BOOTSTRAP" --alter --topic "$PREFIX.snapshot" --partitions 4 >"$TMP/alter.out" 2>&1 ||
  not_ok "adding partitions to the changelog" "$(tail -3 "$TMP/alter.out")"
# Native states of five bridged nodes, straight into the changelog (as a projector writes it):
# keyed by node id, so some land in the new partitions 2 and 3.
: >"$TMP/cl.where"
for node in web-up web-flap tcp-gone nobody migrant; do
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$PREFIX.snapshot" -X schema.mode=fixed \
    --node "$node" --type x --region y --kind join --status up 2>>"$TMP/cl.err" |
    sed "s|^|$node |" >>"$TMP/cl.where"
done
new=$(awk '{split($2, a, "/"); split(a[length(a)], b, "@"); if (b[1] >= 2) print $1}' "$TMP/cl.where")
if [[ -z $new ]]; then
  not_ok "no native state landed in a new partition (the test's setup)" "$(cat "$TMP/cl.where" "$TMP/cl.err")"
else
  all=1
  for node in $new; do
    await 30 log_has "$TMP/bridge4.err" "node $node is native now" || all=
  done
  [[ -n $all ]] && log_has "$TMP/bridge4.err" "changelog $PREFIX.snapshot has 4 partitions now (was 2)" &&
    ok "the bridge reads partitions added to the changelog: $(echo $new) native" ||
    not_ok "partitions added to the changelog" "$(cat "$TMP/cl.where" "$TMP/cl.err")" "$(grep -e "native now" -e partitions -e changelog "$TMP/bridge4.err")"
fi
stop_bridge

finish
