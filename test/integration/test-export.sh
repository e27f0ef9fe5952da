#!/usr/bin/env bash
# seerlog export against the real broker, its files read by standard tools (export_check.py with
# the venv of scripts/python-env: fastavro, DuckDB, Python's csv and json):
#  - events: two topics of this run (one with 3 partitions), events with usage, sensors,
#    labels, services, unicode, commas, quotes and CR/LF in strings, and a garbage record
#    (kcat); avro (deflate and null), jsonl and csv hold exactly the published events, field for
#    field; the garbage record is reported and counted, not exported;
#  - --since / --until: two batches with a time MID between them (their Kafka timestamps are
#    the point) export separately;
#  - state: a store built by `seerlog project --catch-up`, exported while a projector runs on
#    it, equals `seerlog state list`, its hash, and imports back as a snapshot with that hash;
#  - output: FILE appears only when complete; an existing FILE needs --force; a missing or
#    unwritable directory fails at once (exit 1) without contacting Kafka; SIGINT while
#    reading (and while waiting for brokers) leaves neither FILE nor the partial file (130);
#  - bad input: times, empty or inverted ranges, formats, codecs, --state without a store (2);
#    a pattern matching nothing (3); unreachable brokers (1, bounded); a broker of the test's
#    own frozen (SIGSTOP) in the middle of the read (1, --timeout-ms later, no file); an empty
#    range (0, valid empty files).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR;
# SEERLOG_VENV as for scripts/python-env.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-export.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.export.$UNIQ"
PATTERN="^${PREFIX//./\\.}\\.state\\."
T1=$PREFIX.state.eu.seer T2=$PREFIX.state.us.gateway BIG=$PREFIX.big
PROJ_PID='' EXP_PID='' KPID=''
kl=$root/scripts/kafka-local
cleanup() {
  for pid in $EXP_PID $PROJ_PID; do
    kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  [[ -n $KPID ]] && kill -CONT "$KPID" 2>/dev/null
  [[ -d $TMP/kafka ]] && "$kl" stop --data-dir "$TMP/kafka" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$here/lib.sh"
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit $?
}

venv=$("$root/scripts/python-env" --path)
PY=$venv/bin/python
if ! "$PY" -c 'import duckdb, fastavro' 2>/dev/null; then
  not_ok "the Python virtualenv with fastavro and duckdb is missing at $venv" \
    "run scripts/python-env first (it installs test/python-requirements.txt into $venv)"
  finish
fi
# pycheck ARGS...: export_check.py; each of its `ok`/`FAIL` lines counts as one check.
pycheck() {
  local line
  "$PY" "$here/export_check.py" "$@" >"$TMP/py.out" 2>&1
  local rc=$?
  while IFS= read -r line; do
    case $line in
      "ok   "*) ok "${line#ok   }" ;;
      "FAIL "*) not_ok "${line#FAIL }" ;;
      *) echo "     $line" ;;
    esac
  done <"$TMP/py.out"
  ((rc == 0)) || grep -q '^FAIL ' "$TMP/py.out" || not_ok "export_check.py $1 exited $rc"
}
# run ARGS...: seerlog export with stdin from /dev/null; sets $rc, $err (stderr).
run() {
  "$SEERLOG" export --bootstrap "$BOOTSTRAP" "$@" </dev/null >"$TMP/stdout" 2>"$TMP/stderr"
  rc=$?
  err=$(cat "$TMP/stderr")
}
# partials DIR: the partial files left in DIR.
partials() { find "$1" -maxdepth 1 -name '*.partial' | wc -l; }
now_ms() { date +%s%3N; }

mkdir -p "$TMP/out"
D=$TMP/out

# ---- publish two batches, a garbage record in the first ----
"$PY" "$here/export_check.py" gen "$T1" "$T2" "$D" || { not_ok "export_check.py gen"; finish; }
publish_batch() { # N: publish $D/batchN.tsv, appending to $D/published.tsv
  local topic json coords parts
  while IFS=$'\t' read -r topic json; do
    parts=1
    [[ $topic == "$T1" ]] && parts=3
    coords=$(printf '%s' "$json" | "$SEERLOG" publish --json --bootstrap "$BOOTSTRAP" \
      --topic "$topic" -X topic.create=true -X topic.partitions=$parts 2>>"$TMP/publish.err") ||
      return 1
    printf '%s\t%s\t%s\n' "$coords" "$json" "$1" >>"$D/published.tsv"
  done <"$D/batch$1.tsv"
}
publish_batch 1 && printf 'not an event' | kcat -P -b "$BOOTSTRAP" -t "$T2" -k exp-junk &&
  ok "published batch 1 ($(wc -l <"$D/batch1.tsv") events) and a garbage record" ||
  { not_ok "publishing batch 1" "$(tail -3 "$TMP/publish.err")"; finish; }
# MID lies between the two batches' Kafka timestamps (the producer's clock, this machine's).
sleep 0.6
MID=$(date +%s%3N)
sleep 0.6
publish_batch 2 && ok "published batch 2 ($(wc -l <"$D/batch2.tsv") events) after MID" ||
  { not_ok "publishing batch 2" "$(tail -3 "$TMP/publish.err")"; finish; }
nev=$(wc -l <"$D/published.tsv")
garbage_at=$T2/0@1 # after the first batch's one event of T2

# ---- events in every format ----
run --topics "$PATTERN" --format avro --out "$D/all.avro"
[[ $rc -eq 0 && -f $D/all.avro && $(partials "$D") -eq 0 ]] && ok "export --format avro: exit 0" ||
  not_ok "export avro" "rc=$rc" "$err"
[[ $err == *"$garbage_at: bad magic byte"* ]] && ok "the garbage record is reported as TOPIC/P@O" ||
  not_ok "garbage report" "$err"
[[ $err == *"exported $nev events from 4 partitions of 2 topics to $D/all.avro: "*" bytes, "*" s, "*" events/s; 1 record not exported (undecodable or invalid)" ]] &&
  ok "summary: $nev events, 4 partitions, 2 topics, 1 record not exported" || not_ok "summary" "$err"
[[ ! -s $TMP/stdout ]] && ok "stdout stays empty" || not_ok "stdout" "$(head -c 300 "$TMP/stdout")"
run --topics "$PATTERN" --format avro --compression null --out "$D/all-null.avro"
[[ $rc -eq 0 ]] && ok "export --compression null: exit 0" || not_ok "export avro null" "$err"
run --topics "$PATTERN" --format jsonl --out "$D/all.jsonl"
[[ $rc -eq 0 ]] && ok "export --format jsonl: exit 0" || not_ok "export jsonl" "$err"
run --topics "$PATTERN" --format csv --out "$D/all.csv"
[[ $rc -eq 0 ]] && ok "export --format csv: exit 0" || not_ok "export csv" "$err"
run --topics "$PATTERN" --format jsonl --since "$MID" --out "$D/since.jsonl"
[[ $rc -eq 0 ]] && ok "export --since MID: exit 0" || not_ok "export --since" "$err"
run --topics "$PATTERN" --format csv --until "$MID" --out "$D/until.csv"
[[ $rc -eq 0 ]] && ok "export --until MID: exit 0" || not_ok "export --until" "$err"
run --topics "$PATTERN" --format avro --since "$MID" --until $((MID + 3600000)) --out "$D/window.avro"
[[ $rc -eq 0 ]] && ok "export --since MID --until MID+1h: exit 0" || not_ok "export window" "$err"
# (Partitions are read together: compared sorted, their rows may interleave differently.)
"$SEERLOG" export --bootstrap "$BOOTSTRAP" --topics "$PATTERN" --format jsonl --out - \
  2>"$TMP/stderr" | sort | cmp -s - <(sort "$D/all.jsonl") &&
  ok "--out - writes the same JSON lines to stdout" || not_ok "--out -" "$(cat "$TMP/stderr")"
# Byte for byte what `seerlog tail` prints (jansson), but for _timestamp.
"$SEERLOG" tail --bootstrap "$BOOTSTRAP" --topic "$T2" --from-beginning --timeout-ms 3000 \
  >"$TMP/tail.jsonl" 2>/dev/null
grep -F "\"_topic\":\"$T2\"" "$D/all.jsonl" | sed 's/,"_timestamp":-\{0,1\}[0-9]*//' |
  cmp -s - "$TMP/tail.jsonl" && ok "jsonl lines are tail's, byte for byte (plus _timestamp)" ||
  not_ok "jsonl vs tail" "$(head -c 600 "$TMP/tail.jsonl")"
pycheck events "$D" "$MID"

# ---- state: a store built by the projector, exported while a projector runs on it ----
proj() { # extra options...: seerlog project over this run's topics into $TMP/store (no
  # changelog, liveness or lag topics: they would need a registry), exec'ed
  # (a background `proj &` is the projector's own pid), under a 120 s timeout with PROJ_TIMEOUT
  exec ${PROJ_TIMEOUT:+timeout 120} "$SEERLOG" project --bootstrap "$BOOTSTRAP" \
    --store "$TMP/store" --group "export-$UNIQ" -X "project.topic.pattern=$PATTERN" \
    -X "dlq.topic=$PREFIX.dlq" -X project.changelog.topic= -X liveness.topic= -X control.topic= \
    -X project.lag.interval.ms=0 "$@"
}
(PROJ_TIMEOUT=1 proj --catch-up) >"$TMP/proj.out" 2>"$TMP/proj.err" &&
  ok "seerlog project --catch-up built the store" ||
  not_ok "project --catch-up" "$(tail -5 "$TMP/proj.err")"
"$SEERLOG" state list --store "$TMP/store" >"$D/state-list.jsonl" 2>"$TMP/state.err" &&
  hash=$("$SEERLOG" state hash --store "$TMP/store" 2>>"$TMP/state.err") &&
  ok "state list and state hash ($(wc -l <"$D/state-list.jsonl") nodes)" ||
  not_ok "state list/hash" "$(cat "$TMP/state.err")"
proj >/dev/null 2>"$TMP/proj2.err" &
PROJ_PID=$!
for _ in $(seq 300); do # it holds the store once it says so
  grep -q "seerlog: project: store" "$TMP/proj2.err" 2>/dev/null && break
  kill -0 "$PROJ_PID" 2>/dev/null || break
  sleep 0.1
done
# The projector holds the store's lock (flock) while it runs.
! flock -n "$TMP/store/lock" true 2>/dev/null && ok "a projector is running on the store" ||
  not_ok "projector on the store" "$(tail -3 "$TMP/proj2.err")"
for f in avro jsonl csv; do
  run --state --store "$TMP/store" --format $f --out "$D/state.$f"
  [[ $rc -eq 0 && $err == "exported $(wc -l <"$D/state-list.jsonl") nodes from store $TMP/store to $D/state.$f: "* ]] &&
    ok "export --state --format $f beside the running projector" || not_ok "export --state $f" "$err"
done
kill "$PROJ_PID" && wait "$PROJ_PID"
PROJ_PID=
pycheck state "$D" "$hash"
"$SEERLOG" snapshot import "$D/state.avro" --store "$TMP/imported" >"$TMP/imp.out" 2>&1 &&
  [[ $("$SEERLOG" state hash --store "$TMP/imported" 2>&1) == "$hash" ]] &&
  ok "the state's avro file imports as a snapshot (deflate), same hash" ||
  not_ok "snapshot import of state.avro" "$(cat "$TMP/imp.out")"

# ---- an empty range ----
later=$(($(date +%s%3N) + 3600000))
for f in avro csv; do
  run --topics "$PATTERN" --format $f --since "$later" --out "$D/empty.$f"
  [[ $rc -eq 0 && $err == "exported 0 events from 4 partitions of 2 topics"* ]] &&
    ok "an empty range ($f): exit 0" || not_ok "empty range $f" "rc=$rc" "$err"
done
pycheck empty "$D"

# ---- output handling ----
before=$(sha256sum <"$D/all.csv")
run --topics "$PATTERN" --format csv --out "$D/all.csv"
[[ $rc -eq 2 && $err == *"all.csv exists (--force replaces it)"* &&
  $(sha256sum <"$D/all.csv") == "$before" && $(partials "$D") -eq 0 ]] &&
  ok "an existing FILE without --force: exit 2, FILE untouched" || not_ok "no --force" "rc=$rc" "$err"
run --topics "$PATTERN" --format jsonl --out "$D/all.csv" --force
[[ $rc -eq 0 ]] && cmp -s <(sort "$D/all.csv") <(sort "$D/all.jsonl") && ok "--force replaces FILE" ||
  not_ok "--force" "rc=$rc" "$err"
start=$(date +%s%N)
run --bootstrap 127.0.0.1:1 --topics "$PATTERN" --format csv --out "$TMP/no/such/dir/x.csv"
took=$((($(date +%s%N) - start) / 1000000))
[[ $rc -eq 1 && $err == *"directory $TMP/no/such/dir: No such file or directory"* && $took -lt 2000 ]] &&
  ok "a missing directory: exit 1 at once (${took} ms, no broker contacted)" ||
  not_ok "missing directory" "rc=$rc after $took ms" "$err"
touch "$TMP/plainfile"
run --bootstrap 127.0.0.1:1 --topics "$PATTERN" --format csv --out "$TMP/plainfile/x.csv"
[[ $rc -eq 1 && $err == *"is not a directory"* ]] && ok "a path through a file: exit 1" ||
  not_ok "path through a file" "rc=$rc" "$err"
# Unwritable: root writes anywhere on a normal file system, but not into /proc.
if [[ $(id -u) -eq 0 ]]; then
  unwritable=/proc/seerlog-export-$$
else
  unwritable=$TMP/ro && mkdir "$unwritable" && chmod 555 "$unwritable"
fi
run --bootstrap 127.0.0.1:1 --topics "$PATTERN" --format csv --out "$unwritable/x.csv"
[[ $rc -eq 1 && $err == *"cannot write $unwritable/x.csv"* && ! -e $unwritable/x.csv ]] &&
  ok "an unwritable directory: exit 1, no file" || not_ok "unwritable directory" "rc=$rc" "$err"

# ---- interrupted ----
# While waiting for brokers that do not answer (after the partial file was made).
"$SEERLOG" export --bootstrap 127.0.0.1:1 --timeout-ms 3000 --topics "$PATTERN" --format csv \
  --out "$D/int1.csv" </dev/null >/dev/null 2>"$TMP/int1.err" &
EXP_PID=$!
for _ in $(seq 100); do [[ $(partials "$D") -gt 0 ]] && break; sleep 0.02; done
kill -INT "$EXP_PID"
wait "$EXP_PID"
rc=$?
EXP_PID=
[[ $rc -eq 130 && ! -e $D/int1.csv && $(partials "$D") -eq 0 ]] &&
  ok "SIGINT while waiting for brokers: exit 130, no FILE, no partial file" ||
  not_ok "SIGINT while resolving" "rc=$rc" "$(ls "$D")" "$(cat "$TMP/int1.err")"
# While reading: a topic of 200000 events, and the signal once the partial file holds the first
# MiB of JSON lines (the read takes a second or more at the rates measured).
"$SEERLOG" bench produce --bootstrap "$BOOTSTRAP" --events 200000 --outbox off --topic "$BIG" \
  -X topic.partitions=2 -X queue.buffering.max.messages=1000000 >"$TMP/bench.out" 2>&1 &&
  ok "bench produce: 200000 events in $BIG" || not_ok "bench produce" "$(tail -3 "$TMP/bench.out")"
"$SEERLOG" export --bootstrap "$BOOTSTRAP" --topics "^${BIG//./\\.}\$" --format jsonl \
  --out "$D/int2.jsonl" </dev/null >/dev/null 2>"$TMP/int2.err" &
EXP_PID=$!
for _ in $(seq 500); do
  [[ -n $(find "$D" -maxdepth 1 -name '*.partial' -size +0) ]] && break
  sleep 0.01
done
kill -INT "$EXP_PID"
wait "$EXP_PID"
rc=$?
EXP_PID=
[[ $rc -eq 130 && ! -e $D/int2.jsonl && $(partials "$D") -eq 0 &&
  $(cat "$TMP/int2.err") == *"interrupted; nothing written"* ]] &&
  ok "SIGINT while reading: exit 130, no FILE, no partial file" ||
  not_ok "SIGINT while reading" "rc=$rc" "$(ls "$D")" "$(cat "$TMP/int2.err")"

# The whole topic, deflate: many blocks, every record (the range's total) read back by fastavro.
run --topics "^${BIG//./\\.}\$" --format avro --out "$D/big.avro"
[[ $rc -eq 0 ]] && "$PY" - "$D/big.avro" <<'PY' >"$TMP/big.out" 2>&1 &&
import json, sys, fastavro
with open(sys.argv[1], "rb") as f:
    r = fastavro.block_reader(f)
    total = sum(p["end"] - p["start"] for p in json.loads(r.metadata["seerlog.range"])["partitions"])
    blocks = records = 0
    seen = set()
    for b in r:
        blocks += 1
        for e in b:
            records += 1
            seen.add((e["partition"], e["offset"]))
assert r.codec == "deflate" and blocks > 10 and records == total == len(seen) >= 200000, \
    (r.codec, blocks, records, total, len(seen))
print(records, "records in", blocks, "blocks")
PY
  ok "the $BIG export (deflate): $(cat "$TMP/big.out")" ||
  not_ok "big avro export" "rc=$rc" "$err" "$(cat "$TMP/big.out")"

# ---- bad input ----
usage() { # WHAT ARGS...: exit 2 and a message
  local what=$1
  shift
  run "$@"
  [[ $rc -eq 2 && $err == "seerlog: export: "* ]] && ok "$what: exit 2" || not_ok "$what" "rc=$rc" "$err"
}
usage "unparsable --since" --format csv --out "$D/u.csv" --since yesterday-ish
usage "unparsable --until" --format csv --out "$D/u.csv" --until 2026-13-45
usage "an empty range" --format csv --out "$D/u.csv" --since "$MID" --until "$MID"
usage "an inverted range" --format csv --out "$D/u.csv" --since "$MID" --until $((MID - 1))
usage "an unknown --format" --format parquet --out "$D/u.csv"
usage "no --format" --out "$D/u.csv"
usage "an unknown --compression" --format avro --compression snappy --out "$D/u.avro"
usage "--compression with csv" --format csv --compression null --out "$D/u.csv"
usage "--state without --store" --state --format csv --out "$D/u.csv"
usage "no --out" --format csv
usage "a bad regex" --format csv --topics '(' --out "$D/u.csv"
[[ $(partials "$D") -eq 0 && ! -e $D/u.csv && ! -e $D/u.avro ]] &&
  ok "usage errors leave no file" || not_ok "usage errors left files" "$(ls "$D")"
run --topics "^${PREFIX//./\\.}\\.nothing" --format csv --out "$D/none.csv"
[[ $rc -eq 3 && $err == *"no topic matches '^${PREFIX//./\\.}\\.nothing'"* && ! -e $D/none.csv &&
  $(partials "$D") -eq 0 ]] &&
  ok "a pattern matching nothing: exit 3, named, no file" || not_ok "no topic" "rc=$rc" "$err"
run --state --store "$TMP/no-store" --format csv --out "$D/none.csv"
[[ $rc -eq 1 && $err == *"is not a store"* && ! -e $D/none.csv ]] &&
  ok "--state with a directory that holds no store: exit 1" || not_ok "no store" "rc=$rc" "$err"
start=$(date +%s)
run --bootstrap 127.0.0.1:1 --timeout-ms 2000 --topics "$PATTERN" --format csv --out "$D/none.csv"
took=$(($(date +%s) - start))
[[ $rc -eq 1 && $took -le 10 && $err == *"127.0.0.1:1"* && ! -e $D/none.csv &&
  $(partials "$D") -eq 0 ]] &&
  ok "unreachable brokers: exit 1 in ${took}s, no file" || not_ok "unreachable" "rc=$rc ${took}s" "$err"
# A broker that freezes in the middle of the read (SIGSTOP: connections stay open, nothing
# answers): export gives up --timeout-ms after the last record, exit 1, no file. A broker of
# the test's own, with small fetches so that the read cannot have everything buffered already.
port=$(free_port_pair "${SEERLOG_TEST_EXPORT_PORT:-29794}")
kb=$("$kl" start --port "$port" --data-dir "$TMP/kafka" 2>"$TMP/kl.err" | tail -n 1)
KPID=$("$kl" status --data-dir "$TMP/kafka" 2>/dev/null | sed -n 's/.*(pid \([0-9]*\).*/\1/p')
if [[ $kb == "127.0.0.1:$port" && -n $KPID ]] &&
  "$SEERLOG" bench produce --bootstrap "$kb" --events 100000 --outbox off --topic frozen \
    -X topic.partitions=2 >"$TMP/frozen.out" 2>&1; then
  "$SEERLOG" export --bootstrap "$kb" --topics '^frozen$' --format jsonl --out "$D/frozen.jsonl" \
    --timeout-ms 3000 -X queued.min.messages=100 -X queued.max.messages.kbytes=256 \
    -X max.partition.fetch.bytes=32768 </dev/null >/dev/null 2>"$TMP/frozen.err" &
  EXP_PID=$!
  for _ in $(seq 500); do
    [[ -n $(find "$D" -maxdepth 1 -name 'frozen.jsonl.*.partial' -size +100k) ]] && break
    sleep 0.01
  done
  kill -STOP "$KPID"
  start=$(now_ms)
  for _ in $(seq 200); do # 20 s at most: without the limit it would wait for ever
    kill -0 "$EXP_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$EXP_PID" 2>/dev/null
  wait "$EXP_PID"
  rc=$? took=$(($(now_ms) - start))
  EXP_PID=
  kill -CONT "$KPID"
  err=$(cat "$TMP/frozen.err")
  [[ $rc -eq 1 && $took -ge 2500 && $took -le 10000 && ! -e $D/frozen.jsonl &&
    $(partials "$D") -eq 0 && $err == *"nothing from the brokers for 3 s"*"--timeout-ms 3000"* ]] &&
    ok "a broker frozen mid-read: exit 1 ${took} ms later (--timeout-ms 3000), no file" ||
    not_ok "broker frozen mid-read: rc=$rc after ${took} ms" "$err" "$(ls "$D")"
else
  not_ok "a broker of the test's own on port $port" "$(tail -3 "$TMP/kl.err" "$TMP/frozen.out")"
fi
"$kl" stop --data-dir "$TMP/kafka" >/dev/null 2>&1
KPID=

"$SEERLOG" export --help >"$TMP/help" 2>&1 && grep -q -- "--print-schema" "$TMP/help" &&
  "$SEERLOG" export --print-schema | "$PY" -c 'import sys, json, fastavro
s = fastavro.parse_schema(json.load(sys.stdin)); assert s["name"] == "seerlog.ExportedEvent"' &&
  ok "--help; --print-schema prints a schema fastavro parses" || not_ok "--help / --print-schema"

finish
