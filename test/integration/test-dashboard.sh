#!/usr/bin/env bash
# The web dashboard (docs/api.md, "The web dashboard") in a real browser: headless chromium,
# driven over the DevTools protocol on a pipe (python3's stdlib only), against a projector
# serving its API on a free port over the real broker:
#  - / and /ui/* are served with their Content-Type and a Content-Security-Policy of 'self';
#    an unknown asset is a JSON 404;
#  - an empty fleet: the page shows 0 nodes and says so;
#  - then a simulated fleet of 300 nodes (flapping) arrives while the page stays open: over
#    /v1/watch and the summary it refetches, the page comes to show exactly /v1/summary's
#    counts (total, by status, by liveness, every region x type cell) and the first page of
#    /v1/nodes, with no reload; it counts the events it received;
#  - a status change published for a node in the table turns its row and the counts "down";
#  - the filters (status select, node id search), the next page, and a grid cell each list
#    exactly the nodes they should; an API error (a bad status in the URL) shows a message;
#  - no script error and no CSP violation on the way. The screenshot is kept as dashboard.png.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR;
# optional SEERLOG_TEST_BOOTSTRAP, SEERLOG_ARTIFACT_DIR (where dashboard.png goes; default
# SEERLOG_BINARY_DIR), SEERLOG_CHROMIUM (the browser; default chromium from PATH).
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
ARTIFACTS=${SEERLOG_ARTIFACT_DIR:-$SEERLOG_BINARY_DIR}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-dashboard.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.dashboard.$UNIQ"
PROJ_PID=
cleanup() {
  [[ -n $PROJ_PID ]] && kill "$PROJ_PID" 2>/dev/null && wait "$PROJ_PID" 2>/dev/null
  # The browser, if the driver did not get to close it (the driver records its pid).
  [[ -s $TMP/chromium.pid ]] && kill "$(cat "$TMP/chromium.pid")" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHROMIUM=${SEERLOG_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $CHROMIUM || ! -x $CHROMIUM ]]; then
  not_ok "no chromium: this test needs Debian's chromium package; run scripts/setup (or set SEERLOG_CHROMIUM)"
  finish
fi
venv=$("${SEERLOG_SOURCE_DIR:?}/scripts/python-env" --path) || { not_ok "python-env"; finish; }

# The projector first, over topics that do not exist yet: the page starts with an empty fleet.
"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" --group "dash-$UNIQ" \
  --listen 127.0.0.1:0 -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" \
  -X project.changelog.topic= -X schema.mode=fixed -X "dlq.topic=$PREFIX.dlq" \
  -X heartbeat.interval.ms=60000 -X topic.metadata.refresh.interval.ms=1000 \
  >"$TMP/proj.out" 2>"$TMP/proj.err" &
PROJ_PID=$!
port=$(api_port "$TMP/proj.err" "$PROJ_PID")
[[ -n $port ]] && ok "the projector serves its API and the dashboard on a free port ($port)" ||
  { not_ok "no API port" "$(tail -5 "$TMP/proj.err")"; finish; }

"$venv/bin/python" - "http://127.0.0.1:$port" "$BOOTSTRAP" "$PREFIX" "$SEERLOG" "$CHROMIUM" \
  "$TMP" <<'PY' >"$TMP/py.out" 2>&1
import base64, json, os, subprocess, sys, threading, time
import requests

base, bootstrap, prefix, seerlog, chromium, tmp = sys.argv[1:7]

sys.path.insert(0, os.path.join(os.environ["SEERLOG_SOURCE_DIR"], "test", "integration"))
from apicheck import ok, not_ok, check, getter
get = getter(base)
def until(fn, timeout, step=0.25):
    """fn() until it returns something true, or timeout seconds; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() >= deadline:
            return v
        time.sleep(step)

class Browser:
    """Headless chromium over the DevTools protocol on a pipe: it reads NUL-terminated JSON
    commands on fd 3 and writes replies and events on fd 4 (--remote-debugging-pipe)."""
    def __init__(self, exe, profile, log):
        r_cmd, w_cmd = os.pipe()
        r_out, w_out = os.pipe()
        def child():
            # Both above every fd first, so that the second dup2 cannot clobber the first's source.
            a, b = os.dup(r_cmd), os.dup(w_out)
            os.dup2(a, 3)
            os.dup2(b, 4)
        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage",
             "--mute-audio", "--window-size=1400,1000", f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=child, pass_fds=(3, 4))
        with open(os.path.join(tmp, "chromium.pid"), "w") as f:
            f.write(str(self.proc.pid))
        os.close(r_cmd)
        os.close(w_out)
        self.w = os.fdopen(w_cmd, "wb", buffering=0)
        self.r = os.fdopen(r_out, "rb", buffering=0)
        self.next_id, self.replies, self.events, self.closed = 0, {}, [], False
        self.cond = threading.Condition()
        self.session = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            chunk = self.r.read(65536)
            if not chunk:
                with self.cond:
                    self.closed = True
                    self.cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                m = json.loads(msg)
                with self.cond:
                    (self.replies.__setitem__(m["id"], m) if "id" in m else self.events.append(m))
                    self.cond.notify_all()

    def call(self, method, params=None, session=True, timeout=30):
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.w.write(json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        with self.cond:
            while mid not in self.replies:
                if self.closed or time.time() >= deadline:
                    raise RuntimeError(f"{method}: no answer from chromium")
                self.cond.wait(deadline - time.time())
            m = self.replies.pop(mid)
        if "error" in m:
            raise RuntimeError(f"{method}: {m['error']}")
        return m.get("result", {})

    def open_page(self):
        targets = self.call("Target.getTargets", session=False)["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True},
                                 session=False)["sessionId"]
        for d in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(d)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})

    def goto(self, url):
        self.call("Page.navigate", {"url": url})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate: {json.dumps(r['exceptionDetails'])[:500]}")
        return r["result"].get("value")

    def screenshot(self, path):
        data = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        with open(path, "wb") as f:
            f.write(data)

    def problems(self):
        """Script exceptions, console errors and CSP violations so far (not the favicon's 404:
        the dashboard has none, and an icon from data: would need a looser CSP)."""
        out = []
        with self.cond:
            evs = list(self.events)
        for e in evs:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:300])
            elif e.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
                t = f"{p['entry'].get('source')}: {p['entry'].get('text')} {p['entry'].get('url', '')}"
                # Expected: no favicon, and /readyz's 503 while the fleet was empty (the page
                # polls it to say so).
                if "favicon.ico" not in t and not ("503" in t and t.endswith("/readyz")):
                    out.append(t)
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append("console.error: " + json.dumps(p.get("args"))[:300])
        return out

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

# What the page shows, read from the elements' stable ids and data-* attributes.
DOM = r"""JSON.stringify((() => {
  const $ = (id) => document.getElementById(id);
  if (!$("total")) return null;
  const chips = (box, n) => Object.fromEntries([...document.querySelectorAll(`#${box} .chip`)]
    .map((c) => [c.id.slice(n), c.getAttribute("data-" + c.id)]));
  return {
    total: $("total").dataset.total,
    status: chips("status-totals", 7),
    liveness: chips("liveness-totals", 9),
    cells: [...document.querySelectorAll("#overview td.cell")].map((td) => [td.dataset.region, td.dataset.type, td.dataset.count]),
    rows: [...document.querySelectorAll("#nodes-body tr")].map((tr) => [tr.dataset.nodeId, tr.dataset.status, tr.dataset.liveness]),
    events: Number($("sse-events").dataset.sseEvents),
    live: $("live").dataset.sseState,
    error: $("error").hidden ? "" : $("error").textContent,
    nodes_empty: $("nodes-empty").hidden ? "" : $("nodes-empty").textContent,
    overview_empty: !$("overview-empty").hidden,
    page_info: $("page-info").textContent,
  };
})())"""

def all_nodes(**params):
    out, cur = [], None
    for _ in range(100):
        d = get("/v1/nodes", limit=1000, **params, **({"cursor": cur} if cur else {})).json()
        out += d["nodes"]
        cur = d["next_cursor"]
        if not cur:
            break
    return out

# Serving: types, the CSP, 404s.
r = get("/")
csp = r.headers.get("Content-Security-Policy", "")
js, css, nope = get("/ui/app.js"), get("/ui/style.css"), get("/ui/nope.js")
check(r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8" and
      "<html" in r.text and "/ui/app.js" in r.text and
      "default-src 'self'" in csp and "connect-src 'self'" in csp and "http" not in csp and
      js.status_code == 200 and js.headers["Content-Type"].startswith("application/javascript") and
      "EventSource" in js.text and js.headers.get("Content-Security-Policy") == csp and
      css.status_code == 200 and css.headers["Content-Type"].startswith("text/css"),
      "/ (text/html), /ui/app.js (application/javascript), /ui/style.css (text/css), with a CSP of 'self'",
      r.status_code, dict(r.headers), js.status_code, js.headers.get("Content-Type"), css.headers.get("Content-Type"))
check(nope.status_code == 404 and nope.json()["error_code"] == 404, "/ui/nope.js: a JSON 404", nope.text)
external = [u for u in ("http://", "https://", "//fonts", "cdn") if u in r.text + js.text + css.text]
check(not external, "the assets reference nothing outside the projector", external)

shot = os.path.join(tmp, "dashboard.png")
b = Browser(chromium, os.path.join(tmp, "profile"), open(os.path.join(tmp, "chromium.log"), "w"))
def dom():
    try:
        v = b.eval(DOM)
        return json.loads(v) if v else None
    except RuntimeError:
        return None
try:
    b.open_page()
    b.goto(base + "/")
    d = until(lambda: (lambda x: x if x and x["total"] == "0" and x["nodes_empty"] and x["live"] == "open" else None)(dom()), 20)
    d = d or dom()
    check(d and d["total"] == "0" and "empty" in d["nodes_empty"] and d["overview_empty"] and d["live"] == "open",
          "an empty fleet: the page shows 0 nodes, says the fleet is empty, and watches /v1/watch", d)

    # A fleet arrives while the page stays open.
    sim = subprocess.run([seerlog, "simulate", "--bootstrap", bootstrap, "--nodes", "300", "--regions", "3",
                          "--types", "4", "--rate", "1500", "--duration", "2", "--seed", "31", "--flap", "10",
                          "-X", f"topic.template={prefix}.state.{{region}}.{{type}}", "-X", "topic.partitions=2",
                          "-X", "schema.mode=fixed", "-X", "outbox.enable=false"],
                         capture_output=True, text=True, timeout=120)
    check(sim.returncode == 0, "simulate: 300 nodes while the page is open", sim.stderr[-300:])
    def caught_up():
        # (Not /metrics: this needs only /readyz and the nodes, and the page never asks for it.)
        r = get("/readyz")
        return r.status_code == 200 and r.json().get("lag") == 0 and len(all_nodes()) == 300
    check(until(caught_up, 60), "/readyz: ready once the projector has read the fleet")

    def fresh(s):
        """The summary is shared for a second: it is current if it counts what /v1/nodes has."""
        nodes = all_nodes()
        by = {}
        for n in nodes:
            by[n["status"]] = by.get(n["status"], 0) + 1
        return s["nodes"] == len(nodes) and all(s["status"].get(k, 0) == v for k, v in by.items())
    def agrees():
        x = dom()
        s = get("/v1/summary").json()
        first = get("/v1/nodes", limit=50).json()["nodes"]
        if not x:
            return None
        cells = {(g["region"], g["type"]): str(g["nodes"]) for g in s["groups"]}
        good = (fresh(s) and x["total"] == str(s["nodes"]) and
                all(x["status"].get(k) == str(v) for k, v in s["status"].items()) and
                all(x["liveness"].get(k) == str(v) for k, v in s["liveness"].items()) and
                {(c[0], c[1]): c[2] for c in x["cells"] if c[2] != "0"} == cells and
                [r[0] for r in x["rows"]] == [n["node_id"] for n in first] and not x["error"])
        return (x, s) if good else None
    got = until(agrees, 30, 0.5)
    x, s = got if got else (dom(), get("/v1/summary").json())
    check(got and s["nodes"] == 300,
          f"live, without a reload: the page shows /v1/summary's counts (total {s['nodes']}, by status, by "
          f"liveness, {len(s['groups'])} region x type cells) and the first 50 nodes",
          json.dumps(x)[:1500], json.dumps(s)[:1000])
    check(x and x["events"] > 0, f"the page counted {x and x['events']} events received over /v1/watch", x and x["events"])

    # A status change for a node in the table.
    target = next((r for r in (x or {}).get("rows", []) if r[1] != "down"), None)
    if target:
        node = get(f"/v1/nodes/{target[0]}").json()
        ev_before = dom()["events"]
        pub = subprocess.run([seerlog, "publish", "--bootstrap", bootstrap, "--topic",
                              f"{prefix}.state.{node['region']}.{node['node_type']}", "--node", node["node_id"],
                              "--type", node["node_type"], "--region", node["region"], "--status", "down",
                              "-X", "schema.mode=fixed"], capture_output=True, text=True, timeout=60)
        def row_down():
            y = dom()
            return y if y and [node["node_id"], "down"] == next((r[:2] for r in y["rows"] if r[0] == node["node_id"]), None) else None
        y = until(row_down, 20)
        check(pub.returncode == 0 and y and y["events"] > ev_before,
              f"a status change published for {node['node_id']} turns its row \"down\" live", pub.stderr[-300:], y and y["rows"][:3])
        def counted():
            y, s = dom(), get("/v1/summary").json()
            down = [n["node_id"] for n in all_nodes(status="down")]
            return (y, s) if (y and fresh(s) and node["node_id"] in down and s["status"]["down"] == len(down) and
                              all(y["status"].get(k) == str(v) for k, v in s["status"].items())) else None
        got = until(counted, 20, 0.5)
        check(got, f"... and the page's counts by status follow: {got and got[1]['status']}",
              dom() and dom()["status"], get("/v1/summary").json()["status"])
    else:
        not_ok("no row to change", x)

    b.screenshot(shot)

    def set_filter(js):
        b.eval(js)
        time.sleep(0.1)
    # Filters: status select.
    set_filter('document.getElementById("f-status").value = "down"; document.getElementById("f-status").dispatchEvent(new Event("change"))')
    want = [n["node_id"] for n in all_nodes(status="down")][:50]
    y = until(lambda: (lambda y: y if y and [r[0] for r in y["rows"]] == want else None)(dom()), 10)
    check(y and want and all(r[1] == "down" for r in y["rows"]), f"the status select lists the {len(want)} down nodes", y and y["rows"][:5], want[:5])
    # Node id search (substring, over every page).
    q = target[0] if target else "auth"
    set_filter(f'''document.getElementById("f-status").value = ""; const i = document.getElementById("f-node");
                  i.value = {json.dumps(q)}; i.dispatchEvent(new Event("input"))''')
    want = [n["node_id"] for n in all_nodes() if q.lower() in n["node_id"].lower()]
    y = until(lambda: (lambda y: y if y and "matching" in y["page_info"] and [r[0] for r in y["rows"]] == want else None)(dom()), 10)
    check(y and want, f"searching \"{q}\" lists the {len(want)} nodes whose id contains it", y and y["rows"][:5], want[:5])
    # Paging.
    set_filter('document.getElementById("f-clear").click()')
    ids = [n["node_id"] for n in all_nodes()]
    y = until(lambda: (lambda y: y and "nodes 1–50" in y["page_info"] and [r[0] for r in y["rows"]] == ids[:50])(dom()), 10)
    check(y, "Clear lists nodes 1-50 again", dom() and dom()["page_info"])
    set_filter('document.getElementById("page-next").click()')
    y = until(lambda: (lambda y: y if y and [r[0] for r in y["rows"]] == ids[50:100] else None)(dom()), 10)
    check(y and "51" in y["page_info"], "Next lists nodes 51-100 (next_cursor)", dom() and dom()["page_info"],
          dom() and dom()["rows"][:2], ids[50:52])
    # A grid cell lists its region x type.
    g = s["groups"][0]
    set_filter(f'document.querySelector(\'#overview td.cell[data-region="{g["region"]}"][data-type="{g["type"]}"]\').click()')
    want = [n["node_id"] for n in all_nodes(region=g["region"], type=g["type"])][:50]
    y = until(lambda: (lambda y: y if y and [r[0] for r in y["rows"]] == want else None)(dom()), 10)
    check(y and want, f"the cell {g['region']} x {g['type']} lists its {len(want)} nodes", y and y["rows"][:3], want[:3])

    problems = b.problems()
    check(not problems, "no script error, console error or CSP violation", *problems[:5])

    # An API error is shown, not swallowed.
    b.goto(base + "/?status=bogus")
    y = until(lambda: (lambda y: y if y and "400" in y["error"] and "bogus" in y["error"] else None)(dom()), 15)
    check(y, "an API error (status=bogus in the URL) shows a visible message", dom())
finally:
    b.close()

head = open(shot, "rb").read(8) if os.path.exists(shot) else b""
check(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(shot) > 10000,
      f"screenshot: {os.path.getsize(shot) if head else 0} bytes of PNG")
PY
while IFS= read -r line; do
  case $line in
  "ok   "*) ok "${line#ok   }" ;;
  "FAIL "*) not_ok "${line#FAIL }" ;;
  *) echo "$line" ;;
  esac
done <"$TMP/py.out"
grep -q "^ok   " "$TMP/py.out" || not_ok "the dashboard checks did not run" "$(tail -20 "$TMP/py.out")"
grep -qi "traceback" "$TMP/py.out" && not_ok "the dashboard checks failed with an exception" "$(tail -15 "$TMP/py.out")"

if [[ -s $TMP/dashboard.png ]]; then
  mkdir -p "$ARTIFACTS" && cp "$TMP/dashboard.png" "$ARTIFACTS/dashboard.png" &&
    ok "screenshot kept: $ARTIFACTS/dashboard.png" || not_ok "cannot copy the screenshot to $ARTIFACTS"
else
  not_ok "no screenshot" "$(tail -5 "$TMP/chromium.log" 2>/dev/null)"
fi

kill -TERM "$PROJ_PID" 2>/dev/null
wait "$PROJ_PID"
rc=$?
PROJ_PID=
((rc == 0)) && ok "SIGTERM: the projector stops its API and exits 0" || not_ok "exit $rc" "$(tail -3 "$TMP/proj.err")"
finish
