#!/usr/bin/env bash
# seerlog snapshot export/info/import end to end, and the exported file read by fastavro (the
# Python of scripts/python-env): record count, field values, seerlog.* metadata. No broker.
# Fails clearly, counting one failure, when that virtualenv is missing.
# Environment (set by CTest): SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR; SEERLOG_VENV as for
# scripts/python-env.
# `cond && ok ... || not_ok ...` is safe here: ok always succeeds.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
build=${SEERLOG_BINARY_DIR:?SEERLOG_BINARY_DIR is not set (run through ctest)}
# shellcheck source=lib.sh
source "$here/lib.sh"

seerlog=$build/cmd/seerlog
fill=$build/test/integration/snapshot_fill
venv=$("$root/scripts/python-env" --path)
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import fastavro' 2>/dev/null; then
  echo "FAIL the Python virtualenv with fastavro is missing at $venv"
  echo "     run scripts/python-env first (it installs test/python-requirements.txt into $venv)"
  echo "0 passed, 1 failed"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-snapshot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
nodes=2345

# run ARGS...: seerlog with stdin from /dev/null; sets $rc, $out, $err.
run() {
  "$seerlog" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

hash=$("$fill" "$tmp/store" "$nodes") && [[ $hash =~ ^[0-9a-f]{64}$ ]] &&
  ok "snapshot_fill: $nodes nodes" || not_ok "snapshot_fill" "$hash"

# --- export ---
run snapshot export "$tmp/nodes.avro" --store "$tmp/store"
[[ $rc -eq 0 && $out == "$tmp/nodes.avro: $nodes nodes, 4 offsets, "*" bytes, hash $hash, "*" s" &&
  $(wc -l <"$tmp/out") -eq 1 ]] &&
  ok "export prints one summary line" || not_ok "export" "rc=$rc" "stdout: $out" "stderr: $err"
[[ -f $tmp/nodes.avro && ! -e $tmp/nodes.avro.tmp ]] &&
  ok "export leaves FILE and no FILE.tmp" || not_ok "export leaves FILE and no FILE.tmp" "$(ls "$tmp")"

# --- fastavro reads it ---
if py_out=$("$venv/bin/python" - "$tmp/nodes.avro" "$nodes" "$hash" <<'PY' 2>&1
import json, sys, fastavro
path, nodes, want_hash = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "rb") as f:
    r = fastavro.reader(f)
    meta = r.metadata
    records = list(r)
    schema = r.writer_schema
def check(cond, what):
    if not cond:
        sys.exit("check failed: " + what)
check(schema["name"] in ("NodeStateEvent", "seerlog.NodeStateEvent"), "schema name %r" % schema["name"])
check(meta.get("avro.codec", "null") == "null", "codec %r" % meta.get("avro.codec"))
check(len(records) == nodes, "%d records, want %d" % (len(records), nodes))
check(meta["seerlog.nodes"] == str(nodes), "seerlog.nodes %r" % meta["seerlog.nodes"])
check(meta["seerlog.hash"] == want_hash, "seerlog.hash %r" % meta["seerlog.hash"])
check(int(meta["seerlog.created_ms"]) > 1700000000000, "seerlog.created_ms")
offsets = json.loads(meta["seerlog.offsets"])
check(offsets == [{"topic": "nodes", "partition": p, "offset": 1000 + p} for p in range(3)]
      + [{"topic": "nodes.bridge", "partition": 0, "offset": 42}], "offsets %r" % offsets)
ids = [rec["node_id"] for rec in records]
check(ids == ["node-%06d" % i for i in range(nodes)], "node ids in order")
for i in (0, 1, 2, 1234, nodes - 1):
    rec = records[i]
    check(rec["node_type"] == ("seer", "gateway", "auth")[i % 3], "node %d node_type" % i)
    check(rec["region"] == "r%d" % (i % 4), "node %d region" % i)
    check(rec["status"] == ("up", "degraded", "down")[i % 3], "node %d status %r" % (i, rec["status"]))
    check(rec["kind"] == "heartbeat" and rec["source"] == "agent", "node %d kind/source" % i)
    check(rec["incarnation"] == 1732870000000 + i and rec["seq"] == 2 * i, "node %d inc/seq" % i)
    t = rec["event_time"]
    ms = t if isinstance(t, int) else round(t.timestamp() * 1000)
    check(ms == 1732870000000 + 1000 * i, "node %d event_time %r" % (i, t))
    check(rec["labels"] == {"rack": "r%d" % (i % 10)}, "node %d labels" % i)
    check(rec["addresses"] == ["10.0.%d.%d" % (i // 256, i % 256)], "node %d addresses" % i)
    if i % 2:
        check(rec["usage"] is None, "node %d usage null" % i)
    else:
        check(rec["usage"]["cpu_count"] == 1 + i % 8 and rec["usage"]["cpu_percent"] == 12.5,
              "node %d usage" % i)
print("fastavro %s read %d records" % (fastavro.__version__, len(records)))
PY
); then
  ok "fastavro.reader: records, fields and seerlog.* metadata ($py_out)"
else
  not_ok "fastavro.reader" "$py_out"
fi

# --- info ---
run snapshot info "$tmp/nodes.avro"
if [[ $rc -eq 0 ]] && "$venv/bin/python" - "$out" "$nodes" "$hash" <<'PY'; then
import json, sys
info, nodes, want_hash = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
assert info["nodes"] == nodes and info["hash"] == want_hash, info
assert info["codec"] == "null" and info["schema"] == "seerlog.NodeStateEvent", info
assert len(info["offsets"]) == 4 and info["offsets"][3] == {"topic": "nodes.bridge", "partition": 0, "offset": 42}, info
assert info["created_ms"] > 1700000000000, info
PY
  ok "info prints the metadata as JSON"
else
  not_ok "info" "rc=$rc" "stdout: ${out:0:300}" "stderr: $err"
fi

# --- import into a new store, then into a non-empty one ---
run snapshot import "$tmp/nodes.avro" --store "$tmp/store2"
[[ $rc -eq 0 && $out == "imported $tmp/nodes.avro: $nodes nodes, 4 offsets, "*"hash $hash, "* ]] &&
  ok "import into a new store: same hash" || not_ok "import" "rc=$rc" "stdout: $out" "stderr: $err"
run snapshot import "$tmp/nodes.avro" --store "$tmp/store2"
[[ $rc -eq 1 && $err == "seerlog: snapshot: import: "*"already holds $nodes nodes"* ]] &&
  ok "import into a non-empty store is refused" || not_ok "import refused" "rc=$rc" "stderr: $err"
run snapshot import "$tmp/nodes.avro" --store "$tmp/store2" --force
[[ $rc -eq 0 ]] && ok "import --force merges" || not_ok "import --force" "rc=$rc" "stderr: $err"

# --- a file fastavro writes (deflate, its own encoder) imports to the same hash ---
if py_out=$("$venv/bin/python" - "$tmp/nodes.avro" "$tmp/fastavro.avro" <<'PY' 2>&1
import sys, fastavro
with open(sys.argv[1], "rb") as f:
    r = fastavro.reader(f)
    schema, meta, records = r.writer_schema, r.metadata, list(r)
keep = {k: v for k, v in meta.items() if k.startswith("seerlog.")}
with open(sys.argv[2], "wb") as f:
    fastavro.writer(f, schema, records, codec="deflate", metadata=keep, sync_interval=4000)
PY
); then
  run snapshot import "$tmp/fastavro.avro" --store "$tmp/store4"
  [[ $rc -eq 0 && $out == "imported $tmp/fastavro.avro: $nodes nodes, 4 offsets, "*"hash $hash, "* ]] &&
    ok "fastavro.writer (deflate) file imports with the same hash" ||
    not_ok "import of fastavro's file" "rc=$rc" "stdout: $out" "stderr: $err"
else
  not_ok "fastavro.writer" "$py_out"
fi

# --- errors ---
run snapshot export "$tmp/x.avro" --store "$tmp/no-store"
[[ $rc -eq 1 && $err == *"no store in $tmp/no-store"* && ! -e $tmp/no-store ]] &&
  ok "export from a missing store: error, nothing created" ||
  not_ok "export from a missing store" "rc=$rc" "stderr: $err"
# This shell holds the store's lock, as a running projector would.
exec 9>>"$tmp/store/lock"
flock -n 9 || not_ok "flock $tmp/store/lock"
run snapshot export "$tmp/y.avro" --store "$tmp/store"
exec 9>&-
[[ $rc -eq 0 && $out == "$tmp/y.avro: $nodes nodes, 4 offsets, "*"hash $hash, "* ]] &&
  ok "export from a store in use (read-only, as beside a running projector): same hash" ||
  not_ok "export from a store in use" "rc=$rc" "stdout: $out" "stderr: $err"
run snapshot export "$tmp/missing/dir/z.avro" --store "$tmp/store"
[[ $rc -eq 1 && ! -e $tmp/missing ]] && ok "export into a missing directory fails" ||
  not_ok "export into a missing directory" "rc=$rc" "stderr: $err"
head -c 1000 "$tmp/nodes.avro" >"$tmp/cut.avro"
run snapshot import "$tmp/cut.avro" --store "$tmp/store3"
[[ $rc -eq 1 && $err == *"truncated"* ]] && ok "import of a truncated file fails" ||
  not_ok "import of a truncated file" "rc=$rc" "stderr: $err"
printf 'hello' >"$tmp/hello.avro"
run snapshot info "$tmp/hello.avro"
[[ $rc -eq 1 && $err == *"not an Avro object container file"* ]] && ok "info of a non-OCF fails" ||
  not_ok "info of a non-OCF" "rc=$rc" "stderr: $err"

# Usage errors: exit 2, "seerlog: ..." then the hint.
for args in "snapshot" "snapshot frob x" "snapshot export" "snapshot export $tmp/a.avro" \
  "snapshot info $tmp/a.avro --store $tmp/store" "snapshot export $tmp/a.avro --store $tmp/store --force"; do
  # shellcheck disable=SC2086
  run $args
  [[ $rc -eq 2 && $err == "seerlog: snapshot: "* && $(printf '%s\n' "$err" | wc -l) -eq 2 && -z $out ]] &&
    ok "usage error: seerlog $args" || not_ok "usage error: seerlog $args" "rc=$rc" "stderr: $err"
done
run help snapshot
[[ $rc -eq 0 && $out == *"fastavro.reader"* && $out == *"seerlog.offsets"* ]] &&
  ok "help snapshot explains the format and fastavro" || not_ok "help snapshot" "$out"

echo "$passed passed, $failed failed"
((failed == 0))
