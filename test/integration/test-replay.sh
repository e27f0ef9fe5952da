#!/usr/bin/env bash
# seerlog replay and seerlog verify against the real broker (issue 7):
#  - replay --until T1 (a time between two batches of a simulated fleet) ends with exactly the
#    hash of a projection made at T1, before the second batch existed; replay to now with the
#    hash of a projection of the whole log; -o json and text agree;
#  - liveness is judged at --until: an hour after the first batch, every node is dead;
#  - --serve answers /v1/summary and /v1/nodes/ID with the state as of T1, and SIGTERM exits 0;
#  - a record that cannot be decoded is counted (bad_records) and the replay goes on;
#  - verify matches a stopped projector's store, its snapshot, and a store a projector is
#    writing while verify reads it, both directly and through its API (--url: GET
#    /v1/snapshot); it finds a tampered store (a changed node, a node the log never had): exit
#    4 with the nodes named, in the snapshot of that store too, and through the API of a
#    projector serving it;
#  - bad input: unparsable and empty times, no matching topic, a used --store, a missing or
#    bad projection, an API without /v1/snapshot or not there, a password in --url, an
#    unreachable broker: distinct exit codes, clear messages.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
TAMPER=${SEERLOG_BINARY_DIR:?}/test/integration/store_tamper
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-replay.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.replay.$UNIQ"
SIM_PID= PROJ_PID= SERVE_PID=
cleanup() {
  for pid in $PROJ_PID $SIM_PID $SERVE_PID; do
    kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Every seerlog command of the test: our topics only, nothing published besides the state.
PX=(--bootstrap "$BOOTSTRAP" -X "project.topic.pattern=^${PREFIX//./\\.}\.state\..+"
  -X schema.mode=fixed -X project.changelog.topic= -X liveness.topic= -X control.topic=
  -X "dlq.topic=$PREFIX.dlq")

sim() { # SEED DURATION [options]: a fleet publishing to $PREFIX.state.{region}.{type}
  local seed=$1 duration=$2
  shift 2
  timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 80 --regions 2 --types 2 \
    --rate 1000 --duration "$duration" --seed "$seed" \
    -X "topic.template=$PREFIX.state.{region}.{type}" -X topic.partitions=3 \
    -X schema.mode=fixed "$@"
}
project() { # STORE GROUP: a projection of the whole log as it is now; prints its hash
  "$SEERLOG" project "${PX[@]}" --store "$1" --group "$2.$UNIQ" --catch-up 2>>"$TMP/project.err" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["hash"])'
}
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
now_ms() { date +%s%3N; }

# ---- batch 1, a projection at T1, batch 2 ----
sim 1 3 >"$TMP/sim1.out" 2>"$TMP/sim1.err" && ok "batch 1 published" ||
  not_ok "batch 1" "$(tail -3 "$TMP/sim1.err")"
H1=$(project "$TMP/p1" p1)
# Record timestamps are the point: T1 lies strictly between the two batches' records.
sleep 1.1
T1=$(now_ms)
sleep 1.1
sim 1 3 --restart 20 --flap 20 >"$TMP/sim2.out" 2>"$TMP/sim2.err" && ok "batch 2 published" ||
  not_ok "batch 2" "$(tail -3 "$TMP/sim2.err")"
H2=$(project "$TMP/p2" p2)
[[ -n $H1 && -n $H2 && $H1 != "$H2" ]] && ok "the two batches give different states" ||
  not_ok "projections" "H1=$H1 H2=$H2" "$(tail -5 "$TMP/project.err")"

# ---- replay ----
out=$("$SEERLOG" replay "${PX[@]}" --until "$T1" -o json 2>"$TMP/err")
rc=$?
h=$(jget 'd["hash"]' <<<"$out" 2>/dev/null)
[[ $rc -eq 0 && $h == "$H1" ]] && ok "replay --until T1 equals the projection made at T1" ||
  not_ok "replay --until T1: rc $rc hash $h, want $H1" "$out" "$(cat "$TMP/err")"
nodes=$(jget 'd["summary"]["nodes"]' <<<"$out" 2>/dev/null)
alive=$(jget 'd["summary"]["liveness"]["alive"]' <<<"$out" 2>/dev/null)
[[ $nodes == 80 && $alive == 80 ]] && ok "as of T1: 80 nodes, all alive" ||
  not_ok "as of T1: nodes $nodes alive $alive" "$out"
iso=$(python3 -c "import datetime; print(datetime.datetime.fromtimestamp($T1/1000, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]+'Z')")
out=$("$SEERLOG" replay "${PX[@]}" --until "$iso" 2>"$TMP/err")
rc=$?
[[ $rc -eq 0 && $out == *"Fleet as of $iso"* && $out == *"hash      $H1"* &&
  $out == *"nodes     80"* ]] && ok "replay --until RFC3339 prints the summary as text" ||
  not_ok "replay text: rc $rc" "$out" "$(cat "$TMP/err")"

out=$("$SEERLOG" replay "${PX[@]}" -o json --store "$TMP/r2" 2>"$TMP/err")
rc=$?
h=$(jget 'd["hash"]' <<<"$out" 2>/dev/null)
[[ $rc -eq 0 && $h == "$H2" ]] && ok "replay to now equals the projection of the whole log" ||
  not_ok "replay to now: rc $rc hash $h, want $H2" "$out" "$(cat "$TMP/err")"
h=$("$SEERLOG" state hash --store "$TMP/r2" 2>&1)
[[ $h == "$H2" ]] && ok "--store keeps the replayed store (state hash reads it)" ||
  not_ok "state hash of the kept store: $h"


# An hour after T1, nobody has been heard from for an hour: all dead (judged at --until).
out=$("$SEERLOG" replay "${PX[@]}" --until "$((T1 + 3600000))" -o json 2>"$TMP/err")
dead=$(jget 'd["summary"]["liveness"]["dead"]+d["summary"]["liveness"]["left"]' <<<"$out" 2>/dev/null)
[[ $dead == 80 ]] && ok "liveness is judged at --until (an hour later: all dead)" ||
  not_ok "liveness an hour later: dead+left $dead" "$out"

# --serve: the API serves the state as of T1.
"$SEERLOG" replay "${PX[@]}" --until "$T1" --serve --listen 127.0.0.1:0 >"$TMP/serve.out" \
  2>"$TMP/serve.err" &
SERVE_PID=$!
port=
for _ in $(seq 300); do
  port=$(sed -n 's/.*HTTP API on port \([0-9]*\).*/\1/p' "$TMP/serve.err")
  [[ -n $port ]] && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.1
done
n=$(curl -sf "http://127.0.0.1:$port/v1/summary" | jget 'd["nodes"]' 2>/dev/null)
[[ -n $port && $n == 80 ]] && ok "--serve: /v1/summary has the 80 nodes as of T1" ||
  not_ok "--serve summary: port '$port' nodes '$n'" "$(cat "$TMP/serve.err")"
# A node as of T1 is the first batch's, not its latest state.
node=$(curl -sf "http://127.0.0.1:$port/v1/nodes?limit=1" | jget 'd["nodes"][0]["node_id"]' 2>/dev/null)
inc_then=$(curl -sf "http://127.0.0.1:$port/v1/nodes/$node" |
  jget 'd["state"]["incarnation"], d["state"]["seq"]' 2>/dev/null)
inc_now=$("$SEERLOG" state get "$node" --store "$TMP/r2" 2>/dev/null | jget 'd["incarnation"], d["seq"]')
[[ -n $inc_then && -n $inc_now && $inc_then != "$inc_now" ]] &&
  ok "--serve: node $node as of T1 (incarnation, seq $inc_then), not as now ($inc_now)" ||
  not_ok "--serve node: then '$inc_then' now '$inc_now'"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
SERVE_PID=
[[ $rc -eq 0 ]] && ok "--serve exits 0 on SIGTERM" || not_ok "--serve exit code $rc"

# A record that is not an event, in one of our topics: counted, and the replay goes on.
topic="$PREFIX.state.eu-west.auth"
printf 'not an event' | kcat -P -b "$BOOTSTRAP" -t "$topic" -k garbage-1 2>"$TMP/err" ||
  not_ok "kcat" "$(cat "$TMP/err")"
out=$("$SEERLOG" replay "${PX[@]}" -o json 2>"$TMP/err")
rc=$?
[[ $rc -eq 0 && $(jget 'd["bad_records"]' <<<"$out") == 1 && $(jget 'd["hash"]' <<<"$out") == "$H2" ]] &&
  ok "a bad record is counted (bad_records 1), the state is the same" ||
  not_ok "bad record: rc $rc" "$out" "$(cat "$TMP/err")"

# Interrupted: a record whose writer schema must come from a registry that does not answer is
# tried again (never skipped) until SIGINT; exit 130, the temporary store removed.
utopic="$PREFIX.other.unknown" # outside the state pattern: the others never see it
printf '\x00\x00\x00\x03\xe7\x02\x02' | kcat -P -b "$BOOTSTRAP" -t "$utopic" -k u-1 2>"$TMP/err" ||
  not_ok "kcat" "$(cat "$TMP/err")"
mkdir -p "$TMP/tmpdir"
TMPDIR=$TMP/tmpdir "$SEERLOG" replay "${PX[@]}" --topics "^${utopic//./\\.}\$" \
  -X registry.url=http://127.0.0.1:1 >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 100); do
  grep -q retrying "$TMP/int.err" && break
  sleep 0.1
done
left=$(ls "$TMP/tmpdir")
kill -INT "$pid"
wait "$pid"
rc=$?
[[ -n $left && $rc -eq 130 && -z $(ls "$TMP/tmpdir") ]] && grep -q "interrupted (the temporary store is removed)" "$TMP/int.err" &&
  ok "a batch waiting for the registry is retried, not skipped; SIGINT: exit 130, store removed" ||
  not_ok "interrupted replay: rc $rc, store dir '$left', left after: $(ls "$TMP/tmpdir")" "$(cat "$TMP/int.err")"

grep -q $'\r' "$TMP/int.err" && not_ok "progress written to a file" "$(cat -v "$TMP/int.err")" ||
  ok "no progress line when stderr is a file (that replay ran for seconds)"
# Progress: on a terminal (script(1) gives the replay one), once the work takes longer than a
# moment (this replay waits for the registry until timeout stops it), a line of records, rate
# and ETA.
script -qec "$(printf '%q ' timeout -s INT 2 "$SEERLOG" replay "${PX[@]}" --topics "^${utopic//./\\.}\$" \
  -X registry.url=http://127.0.0.1:1)" /dev/null >"$TMP/tty.out" 2>&1
grep -q 'replayed [0-9,]* of [0-9,]* records ([0-9]*%), [0-9,]*/s, ETA' "$TMP/tty.out" &&
  ok "progress on a terminal: records, rate, ETA" || not_ok "progress on a terminal" "$(cat -v "$TMP/tty.out" | head -5)"

# ---- verify ----
project "$TMP/p3" p3 >/dev/null
out=$("$SEERLOG" verify "${PX[@]}" --store "$TMP/p3" 2>"$TMP/err")
rc=$?
[[ $rc -eq 0 && $out == MATCH* ]] && ok "verify: a projector's store matches (exit 0)" ||
  not_ok "verify store: rc $rc" "$out" "$(cat "$TMP/err")"
"$SEERLOG" snapshot export "$TMP/p3.snap" --store "$TMP/p3" >/dev/null 2>&1
out=$("$SEERLOG" verify "${PX[@]}" --snapshot "$TMP/p3.snap" -o json 2>"$TMP/err")
rc=$?
[[ $rc -eq 0 && $(jget 'd["match"]' <<<"$out") == True && $(jget 'd["equal"]' <<<"$out") == 80 ]] &&
  ok "verify: its snapshot matches, 80 nodes equal" ||
  not_ok "verify snapshot: rc $rc" "$out" "$(cat "$TMP/err")"

# A projector at work: verify reads one consistent view of its store (offsets and nodes).
"$SEERLOG" project "${PX[@]}" --store "$TMP/p4" --group "p4.$UNIQ" --listen 127.0.0.1:0 \
  >/dev/null 2>"$TMP/p4.err" &
PROJ_PID=$!
sim 2 6 --restart 10 >"$TMP/sim3.out" 2>"$TMP/sim3.err" &
SIM_PID=$!
# Until the projector has stored its first batches (before, there is nothing to verify).
port=$(api_port "$TMP/p4.err" "$PROJ_PID")
for _ in $(seq 100); do
  n=$(curl -sf "http://127.0.0.1:$port/v1/summary" | jget 'd["nodes"]' 2>/dev/null)
  [[ -n $n && $n -gt 0 ]] && break
  sleep 0.1
done
matched=0 tries=0 umatched=0 utries=0
# Three verifications of its store and three of its API's snapshot while the projector applies
# the third batch.
while kill -0 "$SIM_PID" 2>/dev/null && ((tries < 3 || utries < 3)); do
  if ((tries <= utries)); then
    tries=$((tries + 1))
    "$SEERLOG" verify "${PX[@]}" --store "$TMP/p4" >"$TMP/v4.out" 2>"$TMP/v4.err" &&
      matched=$((matched + 1))
  else
    utries=$((utries + 1))
    "$SEERLOG" verify "${PX[@]}" --url "http://127.0.0.1:$port" >"$TMP/v4u.out" \
      2>"$TMP/v4u.err" && grep -q "^MATCH: projector http://127.0.0.1:$port" "$TMP/v4u.out" &&
      umatched=$((umatched + 1))
  fi
done
wait "$SIM_PID"
SIM_PID=
((tries > 0 && matched == tries)) &&
  ok "verify beside a running projector: $matched of $tries verifications matched" ||
  not_ok "verify beside a running projector: $matched of $tries" "$(cat "$TMP/v4.out")" \
    "$(tail -3 "$TMP/v4.err")"
((utries > 0 && umatched == utries)) &&
  ok "verify --url of a running projector's API: $umatched of $utries matched" ||
  not_ok "verify --url of a running projector: $umatched of $utries" "$(cat "$TMP/v4u.out")" \
    "$(tail -3 "$TMP/v4u.err")"
# The snapshot it served: a valid snapshot (its hash checked on import by verify above), whose
# metadata agrees with the response's headers.
curl -sf -D "$TMP/snap.hdr" -o "$TMP/api.snap" "http://127.0.0.1:$port/v1/snapshot"
info=$("$SEERLOG" snapshot info "$TMP/api.snap" 2>&1)
n=$(jget 'd["nodes"]' <<<"$info" 2>/dev/null)
h=$(jget 'd["hash"]' <<<"$info" 2>/dev/null)
[[ -n $n && $n -gt 0 ]] && grep -qi "^X-Seerlog-Nodes: $n" "$TMP/snap.hdr" &&
  grep -qi "^X-Seerlog-Hash: $h" "$TMP/snap.hdr" &&
  ok "GET /v1/snapshot: a snapshot of $n nodes, as its X-Seerlog-Nodes and -Hash say" ||
  not_ok "GET /v1/snapshot" "${info:0:300}" "$(cat "$TMP/snap.hdr")"
kill -TERM "$PROJ_PID"
wait "$PROJ_PID"
PROJ_PID=

# Tampering: one node changed, one the log never had.
node=$("$SEERLOG" state list --store "$TMP/p3" | head -1 | jget 'd["node_id"]')
"$TAMPER" "$TMP/p3" bump "$node" && "$TAMPER" "$TMP/p3" add ghost-node-1 &&
  ok "store_tamper changed $node and added ghost-node-1" || not_ok "store_tamper"
out=$("$SEERLOG" verify "${PX[@]}" --store "$TMP/p3" 2>"$TMP/err")
rc=$?
[[ $rc -eq 4 && $out == MISMATCH* && $out == *"$node: different"* && $out == *"status"* &&
  $out == *"ghost-node-1: only_in_projection"* && $out == *"79 equal, 1 different, 1 only in the projection"* ]] &&
  ok "verify finds the tampered store: exit 4, both nodes named, the field shown" ||
  not_ok "verify tampered: rc $rc" "$out" "$(cat "$TMP/err")"
"$SEERLOG" snapshot export "$TMP/p3t.snap" --store "$TMP/p3" >/dev/null 2>&1
out=$("$SEERLOG" verify "${PX[@]}" --snapshot "$TMP/p3t.snap" -o json --max-diffs 1 2>"$TMP/err")
rc=$?
[[ $rc -eq 4 && $(jget 'd["different"]+d["only_in_projection"]' <<<"$out") == 2 &&
  $(jget 'len(d["diffs"])' <<<"$out") == 1 ]] &&
  ok "verify --snapshot of the tampered store: exit 4, 2 counted, --max-diffs 1 shown" ||
  not_ok "verify tampered snapshot: rc $rc" "$out" "$(cat "$TMP/err")"
# A projector serving the tampered store: verify --url finds the node the log never had.
"$SEERLOG" project "${PX[@]}" --store "$TMP/p3" --group "p3.$UNIQ" --listen 127.0.0.1:0 \
  >/dev/null 2>"$TMP/p3t.err" &
PROJ_PID=$!
port=$(api_port "$TMP/p3t.err" "$PROJ_PID")
out=$("$SEERLOG" verify "${PX[@]}" --url "http://127.0.0.1:$port" -o json 2>"$TMP/err")
rc=$?
[[ $rc -eq 4 && $(jget 'd["only_in_projection"]' <<<"$out") == 1 &&
  $(jget '[x["node"] for x in d["diffs"] if x["kind"] == "only_in_projection"]' <<<"$out") == "['ghost-node-1']" ]] &&
  ok "verify --url of a projector serving the tampered store: exit 4, ghost-node-1 named" ||
  not_ok "verify --url tampered: rc $rc" "$out" "$(cat "$TMP/err")"
expect_url() { # CODE PATTERN NAME URL
  "$SEERLOG" verify "${PX[@]}" --url "$4" >"$TMP/bad.out" 2>"$TMP/bad.err"
  local rc=$?
  [[ $rc -eq $1 ]] && grep -q -- "$2" "$TMP/bad.err" && ok "$3: exit $1" ||
    not_ok "$3: rc $rc, want $1 and '$2'" "$(cat "$TMP/bad.err")"
}
expect_url 1 "not found (is it a seerlog projector" "verify --url of a server without /v1/snapshot" \
  "http://127.0.0.1:$port/elsewhere"
kill -TERM "$PROJ_PID"
wait "$PROJ_PID"
PROJ_PID=
expect_url 1 "cannot reach the API" "verify --url of a port nobody listens on" "http://127.0.0.1:$port"
expect_url 2 "not supported" "verify --url with a password in it" "http://u:pw@127.0.0.1:$port"

# ---- bad input ----
expect() { # CODE PATTERN NAME -- command...: exit code CODE and PATTERN in its stderr
  local code=$1 pat=$2 name=$3
  shift 4
  "$@" >"$TMP/bad.out" 2>"$TMP/bad.err"
  local rc=$?
  [[ $rc -eq $code ]] && grep -q -- "$pat" "$TMP/bad.err" && ok "$name: exit $code" ||
    not_ok "$name: rc $rc, want $code and '$pat'" "$(cat "$TMP/bad.err")"
}
expect 2 "not a time" "replay --until garbage" -- "$SEERLOG" replay "${PX[@]}" --until yesterday
expect 2 "no such date" "replay --until 2026-02-30" -- "$SEERLOG" replay "${PX[@]}" --until 2026-02-30
expect 3 "no topic matches" "replay of topics that do not exist" -- \
  "$SEERLOG" replay "${PX[@]}" --topics "^nope\.$UNIQ\."
expect 2 "already holds a store" "replay into a used --store" -- \
  "$SEERLOG" replay "${PX[@]}" --store "$TMP/r2"
expect 2 "one of them" "verify without a projection" -- "$SEERLOG" verify "${PX[@]}"
expect 2 "one of them" "verify with both" -- \
  "$SEERLOG" verify "${PX[@]}" --store "$TMP/p3" --snapshot "$TMP/p3.snap"
expect 2 "one of them" "verify with --store and --url" -- \
  "$SEERLOG" verify "${PX[@]}" --store "$TMP/p3" --url "http://127.0.0.1:1"
expect 1 "not a store" "verify of a directory that is not a store" -- \
  "$SEERLOG" verify "${PX[@]}" --store "$TMP"
printf 'garbage' >"$TMP/bad.snap"
expect 1 "bad.snap" "verify of a file that is not a snapshot" -- \
  "$SEERLOG" verify "${PX[@]}" --snapshot "$TMP/bad.snap"
start=$(now_ms)
expect 1 "" "replay with an unreachable broker" -- \
  "$SEERLOG" replay --bootstrap 127.0.0.1:1 --until "$T1"
((($(now_ms) - start) < 20000)) && ok "... and it gave up within 20 s" ||
  not_ok "unreachable broker took $(($(now_ms) - start)) ms"

finish
