#!/usr/bin/env bash
# The projector's HTTP API (seerlog project --listen, docs/api.md) against the real broker:
#  - a simulated fleet of 300 nodes (flapping), plus 3 nodes published with labels, read by a
#    projector serving the API on a free port; /readyz turns 200 once it has caught up;
#  - /v1/nodes: every node exactly once across cursor pages, in node id order; the filters
#    (region, type, status, liveness, label=K=V) return exactly the matching nodes, and their
#    counts agree with /v1/summary; sort=-last_seen is ordered across pages;
#  - /v1/nodes/{id}: the node, and the record its state was read from (checked with kcat); 404
#    for an unknown one; 400 for bad parameters, 404 for unknown
#    paths, 405 for other methods, each with a JSON error;
#  - /metrics parses with prometheus_client's parser (the format Prometheus scrapes) and counts
#    the records consumed; the batch histogram's buckets are cumulative; nodes by status agree
#    with /v1/summary;
#  - /v1/watch (Server-Sent Events): the changes of a second simulation arrive as "state"
#    events; a client resuming with Last-Event-ID gets the events after it; over
#    api.max.watchers clients get 503; a client that does not read is cut off with an
#    "overflow" event once it is further behind than api.watch.buffer.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-api.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.api.$UNIQ"
PROJ_PID=
cleanup() {
  [[ -n $PROJ_PID ]] && kill "$PROJ_PID" 2>/dev/null && wait "$PROJ_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
venv=$("${SEERLOG_SOURCE_DIR:?}/scripts/python-env" --path) || { not_ok "python-env"; finish; }

sim() { # SEED DURATION: 300 nodes publishing to $PREFIX.state.{region}.{type}
  timeout 120 "$SEERLOG" simulate --bootstrap "$BOOTSTRAP" --nodes 300 --regions 2 --types 3 \
    --rate 1500 --duration "$2" --seed "$1" --flap 10 \
    -X "topic.template=$PREFIX.state.{region}.{type}" -X topic.partitions=2 \
    -X schema.mode=fixed -X outbox.enable=false
}
sim 21 2 >"$TMP/sim1.json" 2>"$TMP/sim1.err" && ok "simulate: 300 nodes" ||
  not_ok "simulate" "$(tail -3 "$TMP/sim1.err")"
for i in 1 2 3; do
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$PREFIX.state.labelled" --node "lab-$i" \
    --type gpu --region lab --label rack=r$((i % 2)) --label team=ml -X schema.mode=fixed \
    >/dev/null 2>>"$TMP/pub.err" || not_ok "publish lab-$i" "$(tail -2 "$TMP/pub.err")"
done

"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/bad" --listen 127.0.0.1:http \
  >/dev/null 2>"$TMP/bad.err"
rc=$?
[[ $rc == 2 && ! -e $TMP/bad ]] && grep -q 'listen address "127.0.0.1:http": expected HOST:PORT' "$TMP/bad.err" &&
  ok "a bad --listen is a usage error before the store or Kafka is touched" ||
  not_ok "bad --listen: exit $rc" "$(cat "$TMP/bad.err")"
"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" --group "api-$UNIQ" \
  --listen 127.0.0.1:0 -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" \
  -X project.changelog.topic= -X schema.mode=fixed -X "dlq.topic=$PREFIX.dlq" \
  -X heartbeat.interval.ms=60000 -X api.max.watchers=2 -X api.watch.buffer=4096 \
  -X topic.metadata.refresh.interval.ms=1000 >"$TMP/proj.out" 2>"$TMP/proj.err" &
PROJ_PID=$!
port=$(api_port "$TMP/proj.err" "$PROJ_PID")
[[ -n $port ]] && ok "the projector serves its API on a free port ($port)" ||
  { not_ok "no API port" "$(tail -5 "$TMP/proj.err")"; finish; }

"$venv/bin/python" - "http://127.0.0.1:$port" "$BOOTSTRAP" "$PREFIX" "$SEERLOG" \
  "$(cat "$TMP/sim1.json")" <<'PY' >"$TMP/py.out" 2>&1
import json, os, socket, subprocess, sys, threading, time
import requests
from prometheus_client.parser import text_string_to_metric_families

base, bootstrap, prefix, seerlog, sim1 = sys.argv[1:6]
sent = json.loads(sim1)["sent"] + 3
results = []
sys.path.insert(0, os.path.join(os.environ["SEERLOG_SOURCE_DIR"], "test", "integration"))
from apicheck import ok, not_ok, check, getter
get = getter(base)

# Ready once caught up with everything published so far.
deadline = time.time() + 60
while time.time() < deadline:
    r = get("/readyz")
    m = get("/metrics").text
    if r.status_code == 200 and f"seerlog_projector_records_consumed_total {sent}" in m:
        break
    time.sleep(0.2)
check(r.status_code == 200 and r.json()["status"] == "ready", "/readyz: 200 once caught up", r.text)
check(get("/healthz").json() == {"status": "ok"}, "/healthz: ok")

# Every node once, in id order, across pages of 37.
nodes, cursor, pages = [], None, 0
while True:
    r = get("/v1/nodes", limit=37, **({"cursor": cursor} if cursor else {}))
    d = r.json()
    nodes += d["nodes"]
    pages += 1
    cursor = d["next_cursor"]
    if not cursor or pages > 100:
        break
ids = [n["node_id"] for n in nodes]
check(len(ids) == 303 and len(set(ids)) == 303 and ids == sorted(ids),
      f"/v1/nodes: 303 nodes once each, in id order, over {pages} cursor pages", len(ids))

summary = get("/v1/summary").json()
check(summary["nodes"] == 303 and sum(g["nodes"] for g in summary["groups"]) == 303 and
      sum(summary["status"].values()) == 303 and sum(summary["liveness"].values()) == 303,
      "/v1/summary: 303 nodes, groups and counts add up", summary)
by_status = {}
for n in nodes:
    by_status[n["status"]] = by_status.get(n["status"], 0) + 1
check(all(summary["status"].get(s, 0) == c for s, c in by_status.items()),
      "/v1/summary: counts by status equal the nodes' own", by_status, summary["status"])

def all_pages(**params):
    out, cur = [], None
    for _ in range(100):
        d = get("/v1/nodes", limit=1000, **params, **({"cursor": cur} if cur else {})).json()
        out += d["nodes"]
        cur = d["next_cursor"]
        if not cur:
            break
    return out
def filters_agree():
    """Each filter returns exactly the summary's count. A liveness tick (every 250 ms) can move
    nodes between the summary (shared for up to a second) and the filtered reads, and a node
    heard from after the last tick is 'unknown' until the next: so this is awaited, not
    sampled once."""
    summary = get("/v1/summary").json()
    good = summary["liveness"].get("unknown", 0) == 0
    for status, count in summary["status"].items():
        got = all_pages(status=status)
        good &= len(got) == count and all(n["status"] == status for n in got)
    for g in summary["groups"]:
        got = all_pages(region=g["region"], type=g["type"])
        good &= len(got) == g["nodes"] and all(n["region"] == g["region"] and n["node_type"] == g["type"] for n in got)
    for lv, count in summary["liveness"].items():
        got = all_pages(liveness=lv)
        good &= len(got) == count and all(n["liveness"] == lv for n in got)
    return good
deadline = time.time() + 15
while not filters_agree() and time.time() < deadline:
    time.sleep(0.3)
check(filters_agree(), "filters status, region+type and liveness return exactly the summary's counts")
got = all_pages(label="team=ml")
got2 = all_pages(label=["team=ml", "rack=r1"])
check(sorted(n["node_id"] for n in got) == ["lab-1", "lab-2", "lab-3"] and
      sorted(n["node_id"] for n in got2) == ["lab-1", "lab-3"] and
      all(n["state"]["labels"]["team"] == "ml" for n in got),
      "label=K=V filters (two of them: both must hold)", [n["node_id"] for n in got2])

seen = []
d = get("/v1/nodes", limit=50, sort="-last_seen").json()
seen += [n["last_heard_ms"] for n in d["nodes"]]
d = get("/v1/nodes", limit=50, sort="-last_seen", cursor=d["next_cursor"]).json()
seen += [n["last_heard_ms"] for n in d["nodes"]]
check(len(seen) == 100 and seen == sorted(seen, reverse=True),
      "sort=-last_seen: newest first, across two pages")

n0 = ids[0]
r = get("/v1/nodes/" + n0)
check(r.status_code == 200 and r.json()["node_id"] == n0 and r.json()["state"]["node_id"] == n0 and
      r.json()["liveness"] in ("unknown", "alive", "suspect", "dead", "left") and
      r.json()["last_heard_ms"] > 0, f"/v1/nodes/{n0}", r.text)
src = get("/v1/nodes/" + n0).json()["source"]
rec = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", src["topic"], "-p", str(src["partition"]),
                      "-o", str(src["offset"]), "-c", "1", "-e", "-q", "-f", "%k"],
                     capture_output=True, text=True).stdout
check(src["topic"].startswith(prefix + ".state.") and rec == n0,
      f"/v1/nodes/{n0}: source {src['topic']} [{src['partition']}] @ {src['offset']} holds a record of it",
      src, rec)
r = get("/v1/nodes/no-such-node")
check(r.status_code == 404 and "no-such-node" in r.json()["message"], "unknown node: 404", r.text)
bad = {"status=bogus": {"status": "bogus"}, "liveness=x": {"liveness": "x"},
       "limit=0": {"limit": "0"}, "limit=abc": {"limit": "abc"}, "limit=5000": {"limit": "5000"},
       "cursor=zz": {"cursor": "zz"}, "sort=cpu": {"sort": "cpu"}, "label=x": {"label": "x"}}
codes = {k: get("/v1/nodes", **v) for k, v in bad.items()}
check(all(r.status_code == 400 and r.json()["error_code"] == 400 and r.json()["message"]
          for r in codes.values()), "bad parameters: 400 with a JSON error message",
      {k: (r.status_code, r.text[:80]) for k, r in codes.items()})
r1, r2 = get("/v2/nodes"), requests.post(base + "/v1/nodes", data="x", timeout=10)
check(r1.status_code == 404 and r2.status_code == 405 and r2.json()["error_code"] == 405,
      "unknown path 404, POST 405", r1.text, r2.text)

m = get("/metrics")
fams = {f.name: f for f in text_string_to_metric_families(m.text)}
consumed = fams["seerlog_projector_records_consumed"].samples[0].value
buckets = [s.value for s in fams["seerlog_projector_batch_store_seconds"].samples
           if s.name.endswith("_bucket")]
check(m.headers["Content-Type"].startswith("text/plain") and consumed == sent and
      buckets == sorted(buckets) and buckets[-1] == fams["seerlog_projector_batches"].samples[0].value
      and "seerlog_projector_partition_lag" in fams and "seerlog_projector_nodes_by_liveness" in fams
      and {x.labels["status"]: x.value for x in fams["seerlog_projector_nodes_by_status"].samples} ==
      {k: float(v) for k, v in get("/v1/summary").json()["status"].items()},
      f"/metrics: parsed by prometheus_client ({len(fams)} families), consumed {consumed:.0f}",
      m.text[:300], [(x.labels, x.value) for x in fams.get("seerlog_projector_nodes_by_status").samples],
      get("/v1/summary").json()["status"])

# The watch stream.
events, lock = [], threading.Lock()
port = int(base.rsplit(":", 1)[1])
socks = []
def watch(headers, out, stop):
    """A watch client on a plain socket (closed by the main thread with shutdown())."""
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
    s.sendall(("GET /v1/watch HTTP/1.1\r\nHost: x\r\n" +
               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    f = s.makefile("rb")
    status = f.readline().split()
    out.append(int(status[1]) if len(status) > 1 else 0)
    while f.readline() not in (b"\r\n", b""):  # headers
        pass
    ev, buf = {}, b""
    while not stop.is_set():
        try:
            chunk = f.readline()  # chunked encoding: size lines and data lines
        except OSError:
            return
        if not chunk:
            return
        line = chunk.rstrip(b"\r\n").decode()
        if line == "":
            if ev:
                with lock:
                    out.append(ev)
                ev = {}
        elif line.startswith(("id: ", "event: ", "data: ")):
            k, _, v = line.partition(": ")
            ev[k] = v
stop = threading.Event()
w1 = []
t1 = threading.Thread(target=watch, args=({}, w1, stop), daemon=True)
t1.start()
time.sleep(0.5)
sim = subprocess.run([seerlog, "simulate", "--bootstrap", bootstrap, "--nodes", "300", "--regions", "2",
                      "--types", "3", "--rate", "600", "--duration", "1", "--seed", "21",
                      "-X", f"topic.template={prefix}.state.{{region}}.{{type}}", "-X", "topic.partitions=2",
                      "-X", "schema.mode=fixed", "-X", "outbox.enable=false"], capture_output=True, text=True)
deadline = time.time() + 30
while time.time() < deadline:
    with lock:
        states = [e for e in w1[1:] if e.get("event") == "state"]
    if len(states) >= 100:
        break
    time.sleep(0.2)
with lock:
    states = [e for e in w1[1:] if e.get("event") == "state"]
    datas = [json.loads(e["data"]) for e in states]
check(w1 and w1[0] == 200 and len(states) >= 100 and all("node_id" in d and "status" in d and "state" in d for d in datas)
      and all(int(states[i]["id"]) < int(states[i + 1]["id"]) for i in range(len(states) - 1)),
      f"/v1/watch: {len(states)} state events of the second simulation, ids increasing", w1[:3], sim.stderr[-300:])

# Resuming: the events after Last-Event-ID (the ring holds 4096).
mid = states[-10]["id"]
w2 = []
t2 = threading.Thread(target=watch, args=({"Last-Event-ID": mid}, w2, stop), daemon=True)
t2.start()
deadline = time.time() + 10
while time.time() < deadline and len(w2) < 10:
    time.sleep(0.1)
check(len(w2) >= 10 and w2[0] == 200 and w2[1]["id"] == str(int(mid) + 1) and
      [e["id"] for e in w2[1:10]] == [e["id"] for e in states[-9:]],
      f"Last-Event-ID {mid}: the stream resumes at {int(mid) + 1}", w2[:3])

# A third watcher is over api.max.watchers (2).
r = requests.get(base + "/v1/watch", timeout=10, stream=True)
check(r.status_code == 503 and "api.max.watchers" in r.json()["message"], "a third watcher: 503", r.status_code)
r.close()
stop.set()
for x in socks:
    x.shutdown(socket.SHUT_RDWR)
    x.close()

# The server notices closed watch clients while idle: their slots are free again.
deadline = time.time() + 5
while time.time() < deadline:
    r = requests.get(base + "/v1/watch", timeout=10, stream=True)
    code = r.status_code
    r.close()
    if code == 200:
        break
    time.sleep(0.2)
check(code == 200, "closed watch clients free their slots (a new watcher gets 200)", code)
time.sleep(1)  # (that one is closed too)

# A client that does not read is cut off once further behind than api.watch.buffer (4096):
# 10,000 events, more than the ring and the sockets' buffers hold.
s = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /v1/watch HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.3)
subprocess.run([seerlog, "simulate", "--bootstrap", bootstrap, "--nodes", "300", "--regions", "2",
                "--types", "3", "--rate", "5000", "--duration", "2", "--seed", "21",
                "-X", f"topic.template={prefix}.state.{{region}}.{{type}}", "-X", "topic.partitions=2",
                "-X", "schema.mode=fixed", "-X", "outbox.enable=false"], capture_output=True)
time.sleep(2)
s.settimeout(10)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except socket.timeout:
    pass
s.close()
check(data.count(b"event: overflow") == 1 and data.endswith(b"\r\n0\r\n\r\n") and
      data.rfind(b"event: overflow") > data.rfind(b"event: state"),
      f"a client that does not read is cut off: its stream ends with an overflow event ({len(data)} bytes)",
      data[-300:])
PY
while IFS= read -r line; do
  case $line in
  "ok   "*) ok "${line#ok   }" ;;
  "FAIL "*) not_ok "${line#FAIL }" ;;
  *) echo "$line" ;;
  esac
done <"$TMP/py.out"
grep -q "^ok   " "$TMP/py.out" || not_ok "the API checks did not run" "$(tail -20 "$TMP/py.out")"
grep -qi "traceback" "$TMP/py.out" && not_ok "the API checks failed with an exception" "$(tail -15 "$TMP/py.out")"

kill -TERM "$PROJ_PID" 2>/dev/null
wait "$PROJ_PID"
rc=$?
PROJ_PID=
[[ $rc == 0 && -n $(sed -n 's/.*"hash":"\([0-9a-f]*\)".*/\1/p' "$TMP/proj.out") ]] &&
  ok "SIGTERM: the projector stops its API and exits 0 with its summary" ||
  not_ok "exit $rc" "$(tail -3 "$TMP/proj.err")"
finish
