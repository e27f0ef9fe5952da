#!/usr/bin/env bash
# The projector's HTTP API behind TLS and authentication (api.tls.*, api.auth.file; docs/api.md),
# against the real broker:
#  - half-configured setups are refused at start with exit 2 and a message naming the keys,
#    before the store is created: a certificate without its key and the other way round, a key
#    that is not the certificate's, a file that is not PEM, an auth file that is missing, empty
#    or malformed (the message never quotes the line), an auth file without TLS on a
#    non-loopback address;
#  - a projector serving HTTPS with users (admin and read) and a bearer token: the CA verifies
#    it, plain HTTP to its port gets no answer, a client without the CA is refused; no, wrong or
#    unknown credentials get 401 with WWW-Authenticate (Basic and Bearer), the read user, the
#    admin user and the token read the nodes, /metrics, the snapshot (fastavro reads it) and
#    the dashboard; /healthz and /readyz answer without credentials; other methods 405;
#  - request bodies (the API takes none): 413 for a Content-Length, a chunked body and a
#    100 GB Content-Length answered at once, and the API still serves after;
#  - api.max.watchers=2: a third /v1/watch gets 503, and once a client leaves a new one is
#    accepted; /v1/watch without credentials is 401; api.max.connections=12: a
#    13th connection is refused while 12 idle ones are open, served again once they close;
#  - seerlog state --url https://... with api.ssl.ca.location and api.basic.auth.user.info or
#    api.bearer.auth.token.file lists the nodes; without the CA or the credentials it fails
#    with a message naming the key to set; both kinds of credentials at once, or credentials
#    in the URL, are a usage error; seerlog top and the bridge's --native-from https://... read
#    it with credentials (a 401 without), and so does seerlog verify --url (it matches);
#  - the passwords and the token appear in no log or output, nor in seerlog project --help or
#    seerlog config (which prints (redacted)).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
BOOTSTRAP=${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-api-sec.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.apisec.$UNIQ"
PROJ_PID=
cleanup() {
  [[ -n $PROJ_PID ]] && kill "$PROJ_PID" 2>/dev/null && wait "$PROJ_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python_venv "${SEERLOG_SOURCE_DIR:?}"

ADMIN_PW="adm-Pw-$UNIQ-x1"
READ_PW="rd-Pw-$UNIQ-x2"
TOKEN="tok${UNIQ//./}ZZtokenZZ"
SECRETS=("$ADMIN_PW" "$READ_PW" "$TOKEN")

# The CA is the self-signed certificate itself; another one plays an unknown CA.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  >/dev/null 2>&1 &&
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other \
    -keyout "$TMP/key2.pem" -out "$TMP/cert2.pem" >/dev/null 2>&1 &&
  ok "openssl: two certificates" || { not_ok "openssl"; finish; }
chmod 600 "$TMP/key.pem" "$TMP/key2.pem"
umask 077
printf '# users of the API\nroot:%s\n\nreader:%s:read\nBearer %s:read\n' "$ADMIN_PW" "$READ_PW" \
  "$TOKEN" >"$TMP/users"
printf '%s\n' "$TOKEN" >"$TMP/token"
printf 'wrong-token-of-sufficient-length\n' >"$TMP/badtoken"

# ---- refused at start: exit 2, the keys named, no store created ----
refused() { # NAME WANT_TEXT ARGS...: the projector refuses to start
  local name=$1 want=$2 rc out
  shift 2
  rm -rf "$TMP/refused-store"
  timeout 60 "$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/refused-store" \
    --listen "${LISTEN:-127.0.0.1:0}" "$@" >"$TMP/refused.out" 2>&1
  rc=$?
  out=$(cat "$TMP/refused.out")
  [[ $rc == 2 && $out == *"$want"* && ! -e $TMP/refused-store ]] &&
    ok "refused: $name (exit 2, \"$want\")" || not_ok "refused: $name: exit $rc" "$out"
  cat "$TMP/refused.out" >>"$TMP/all-output"
}
refused "api.tls.cert without api.tls.key" "api.tls.key is missing" -X "api.tls.cert=$TMP/cert.pem"
refused "api.tls.key without api.tls.cert" "api.tls.cert is missing" -X "api.tls.key=$TMP/key.pem"
refused "a key that is not the certificate's" "do not match" \
  -X "api.tls.cert=$TMP/cert.pem" -X "api.tls.key=$TMP/key2.pem"
echo "not a certificate" >"$TMP/junk.pem"
refused "a certificate file that is not PEM" "api.tls.cert / api.tls.key: not a usable PEM" \
  -X "api.tls.cert=$TMP/junk.pem" -X "api.tls.key=$TMP/key.pem"
refused "an unreadable certificate" "$TMP/nonexistent.pem" \
  -X "api.tls.cert=$TMP/nonexistent.pem" -X "api.tls.key=$TMP/key.pem"
refused "a missing auth file" "api.auth.file=$TMP/nousers: No such file" \
  -X "api.auth.file=$TMP/nousers"
: >"$TMP/empty-users"
refused "an empty auth file" "no USER:PASSWORD or Bearer TOKEN line" -X "api.auth.file=$TMP/empty-users"
printf 'ok:fine\nnocolon%s\n' "$ADMIN_PW" >"$TMP/bad-users"
refused "a malformed auth file (line 2, not quoted)" "line 2: expected USER:PASSWORD" \
  -X "api.auth.file=$TMP/bad-users"
printf 'Bearer short\n' >"$TMP/short-token"
refused "a bearer token under 16 characters" "at least 16" -X "api.auth.file=$TMP/short-token"
LISTEN=0.0.0.0:0 refused "an auth file without TLS on 0.0.0.0" "api.allow.insecure.auth=true" \
  -X "api.auth.file=$TMP/users"

# ---- a projector serving HTTPS with authentication ----
for i in 1 2 3; do
  "$SEERLOG" publish --bootstrap "$BOOTSTRAP" --topic "$PREFIX.state.x" --node "sec-$i" \
    --type gpu --region lab -X schema.mode=fixed >/dev/null 2>>"$TMP/pub.err" ||
    not_ok "publish sec-$i" "$(tail -2 "$TMP/pub.err")"
done
"$SEERLOG" project --bootstrap "$BOOTSTRAP" --store "$TMP/store" --group "apisec-$UNIQ" \
  --listen 127.0.0.1:0 -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" \
  -X project.changelog.topic= -X schema.mode=fixed -X "dlq.topic=$PREFIX.dlq" \
  -X "api.tls.cert=$TMP/cert.pem" -X "api.tls.key=$TMP/key.pem" -X "api.auth.file=$TMP/users" \
  -X api.max.watchers=2 -X api.max.connections=12 -X topic.metadata.refresh.interval.ms=1000 \
  >"$TMP/proj.out" 2>"$TMP/proj.err" &
PROJ_PID=$!
port=$(api_port "$TMP/proj.err" "$PROJ_PID")
[[ -n $port ]] && ok "the projector serves HTTPS on a free port ($port)" ||
  { not_ok "no API port" "$(tail -5 "$TMP/proj.err")"; finish; }
URL=https://127.0.0.1:$port

"$PY" - "$URL" "$TMP" "$ADMIN_PW" "$READ_PW" "$TOKEN" <<'PY' >"$TMP/py.out" 2>&1
import os, socket, ssl, sys, time
import requests

base, tmp, admin_pw, read_pw, token = sys.argv[1:6]
ca = os.path.join(tmp, "cert.pem")
port = int(base.rsplit(":", 1)[1])
sys.path.insert(0, os.path.join(os.environ["SEERLOG_SOURCE_DIR"], "test", "integration"))
from apicheck import check

READER, ADMIN, BEARER = ("reader", read_pw), ("root", admin_pw), {"Authorization": "Bearer " + token}


def get(path, auth=None, headers=None, timeout=30, **kw):
    return requests.get(base + path, auth=auth, headers=headers, verify=ca, timeout=timeout, **kw)


# Caught up: the three nodes, read by the read user (/readyz needs no credentials).
deadline = time.time() + 60
while time.time() < deadline:
    r = get("/readyz")
    n = get("/v1/nodes", auth=READER)
    if r.status_code == 200 and n.status_code == 200 and n.json()["count"] == 3:
        break
    time.sleep(0.2)
check(r.status_code == 200 and r.json()["status"] == "ready",
      "/readyz over HTTPS without credentials: 200 ready", r.status_code, r.text)
h = get("/healthz")
check(h.status_code == 200 and h.json() == {"status": "ok"}, "/healthz without credentials: 200",
      h.status_code, h.text)
check(n.status_code == 200 and sorted(x["node_id"] for x in n.json()["nodes"]) ==
      ["sec-1", "sec-2", "sec-3"], "read user: GET /v1/nodes -> 200, the three nodes",
      n.status_code, n.text[:300])

r = get("/v1/nodes")
www = r.headers.get("WWW-Authenticate", "")
check(r.status_code == 401 and r.json()["error_code"] == 401 and
      'Basic realm="seerlog-api"' in www and 'Bearer realm="seerlog-api"' in www,
      "no credentials -> 401, JSON error, WWW-Authenticate Basic and Bearer", r.status_code,
      r.headers, r.text)
for name, auth, hdr in (("a wrong password", ("reader", "nope"), None),
                        ("an unknown user", ("mallory", read_pw), None),
                        ("the read password for the admin user", ("root", read_pw), None),
                        ("a wrong bearer token", None, {"Authorization": "Bearer x" + token}),
                        ("a token sent as a password", ("token", token), None)):
    r = get("/v1/nodes", auth=auth, headers=hdr)
    check(r.status_code == 401, "%s -> 401" % name, r.status_code, r.text)
for name, auth, hdr in (("admin user", ADMIN, None), ("bearer token", None, BEARER)):
    r = get("/v1/nodes/sec-2", auth=auth, headers=hdr)
    check(r.status_code == 200 and r.json()["node_id"] == "sec-2",
          "%s: GET /v1/nodes/sec-2 -> 200" % name, r.status_code, r.text[:300])
r = get("/v1/summary", headers=BEARER)
check(r.status_code == 200 and r.json()["nodes"] == 3, "bearer token: /v1/summary -> 200", r.text)
r = get("/metrics")
check(r.status_code == 401, "/metrics without credentials -> 401", r.status_code)
r = get("/metrics", auth=READER)
check(r.status_code == 200 and "seerlog_projector_nodes 3" in r.text,
      "/metrics with the read user -> 200", r.status_code)
r = get("/v1/snapshot")
check(r.status_code == 401, "/v1/snapshot without credentials -> 401", r.status_code)
r = get("/v1/snapshot", auth=READER)
try:
    import io, fastavro
    rd = fastavro.reader(io.BytesIO(r.content))
    ids = sorted(x["node_id"] for x in rd)
    meta_nodes = rd.metadata.get("seerlog.nodes")
except Exception as e:  # not an Avro file
    ids, meta_nodes = repr(e), None
check(r.status_code == 200 and ids == ["sec-1", "sec-2", "sec-3"] and meta_nodes == "3" and
      r.headers.get("X-Seerlog-Nodes") == "3",
      "read user: GET /v1/snapshot -> 200, an Avro file fastavro reads: the three nodes",
      r.status_code, ids, r.headers)
r = get("/")
check(r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic"),
      "the dashboard without credentials -> 401 with a Basic challenge (a browser prompts)",
      r.status_code, r.headers)
r = get("/", auth=READER)
check(r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"),
      "the dashboard with the read user -> 200 text/html", r.status_code)
r = requests.delete(base + "/v1/nodes/sec-1", auth=ADMIN, verify=ca, timeout=30)
check(r.status_code == 405, "DELETE (no endpoint writes) -> 405 even for admin", r.status_code)

# TLS: the CA is needed, plain HTTP gets nothing.
try:
    requests.get(base + "/healthz", timeout=30)
    check(False, "without the CA the certificate is refused")
except requests.exceptions.SSLError as e:
    check(True, "without the CA the certificate is refused (%s)" % type(e).__name__)
try:
    r = requests.get("http://127.0.0.1:%d/healthz" % port, timeout=10)
    check(False, "plain HTTP to the HTTPS port gets no HTTP answer", r.status_code)
except requests.exceptions.RequestException as e:
    check(True, "plain HTTP to the HTTPS port gets no HTTP answer (%s)" % type(e).__name__)

# Request bodies: the API takes none.
ctx = ssl.create_default_context(cafile=ca)


def raw(data, timeout=10):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=timeout),
                        server_hostname="127.0.0.1")
    try:
        s.sendall(data)
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out
    except (socket.timeout, ConnectionResetError, ssl.SSLError):
        return out
    finally:
        s.close()


def status(out):
    try:
        return int(out.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


import base64
basic = base64.b64encode(("reader:" + read_pw).encode()).decode()
head = "GET /v1/nodes HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n" % basic
out = raw((head + "Content-Length: 10\r\n\r\n0123456789").encode())
check(status(out) == 413, "GET with a 10-byte body -> 413", out[:200])
t0 = time.monotonic()
out = raw((head + "Content-Length: 100000000000\r\n\r\n").encode())
check(status(out) == 413 and time.monotonic() - t0 < 5,
      "Content-Length 100 GB -> 413 at once (%.2f s), the body never read" %
      (time.monotonic() - t0), out[:200])
out = raw((head + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n").encode())
check(status(out) == 413, "a chunked body -> 413", out[:200])
out = raw(b"GET /v1/nodes HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000\r\n\r\n")
check(status(out) == 401, "a body without credentials -> 401 first", out[:200])
r = get("/v1/nodes", auth=READER)
check(r.status_code == 200, "... and the API still serves", r.status_code)

# The watch stream: api.max.watchers=2.
r = get("/v1/watch")
check(r.status_code == 401, "/v1/watch without credentials -> 401", r.status_code)
w1 = get("/v1/watch", auth=READER, stream=True)
w2 = get("/v1/watch", headers=BEARER, stream=True)
check(w1.status_code == 200 and w2.status_code == 200 and
      w1.headers["Content-Type"] == "text/event-stream",
      "two watch clients (read user, token) -> 200 text/event-stream", w1.status_code,
      w2.status_code)
w3 = get("/v1/watch", auth=READER, stream=True)
check(w3.status_code == 503 and "api.max.watchers" in w3.text,
      "a third watch client -> 503 (api.max.watchers=2)", w3.status_code, w3.text)
w1.close()
deadline, got = time.time() + 30, None
while time.time() < deadline:
    w4 = get("/v1/watch", auth=ADMIN, stream=True)
    got = w4.status_code
    if got == 200:
        break
    w4.close()
    time.sleep(0.2)
check(got == 200, "once a watch client leaves, a new one is accepted", got)
w4.close()
w2.close()

# api.max.connections=12: idle connections (no TLS handshake) hold every slot.
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(12)]
refused, deadline = False, time.time() + 20
while not refused and time.time() < deadline:
    try:
        get("/healthz", timeout=3)
        time.sleep(0.1)
    except requests.exceptions.RequestException:
        refused = True
check(refused, "a connection over api.max.connections=12 is refused")
for s in idle:
    s.close()
deadline, got = time.time() + 20, None
while time.time() < deadline:
    try:
        got = get("/v1/nodes", auth=READER, timeout=3).status_code
        break
    except requests.exceptions.RequestException as e:
        got = e
        time.sleep(0.2)
check(got == 200, "once they close, requests are served again", got)
PY
while IFS= read -r line; do
  case $line in
  "ok   "*) ok "${line#ok   }" ;;
  "FAIL "*) not_ok "${line#FAIL }" ;;
  *) echo "$line" ;;
  esac
done <"$TMP/py.out"
grep -q '^ok   \|^FAIL ' "$TMP/py.out" || not_ok "the Python checks did not run" "$(tail -20 "$TMP/py.out")"

# ---- seerlog state over HTTPS ----
state() { # NAME WANT_RC WANT_TEXT ARGS...
  local name=$1 want_rc=$2 want=$3 rc
  shift 3
  timeout 60 "$SEERLOG" state --url "$URL" "$@" >"$TMP/state.out" 2>&1
  rc=$?
  [[ $rc == "$want_rc" ]] && grep -qF -- "$want" "$TMP/state.out" &&
    ok "seerlog state: $name (exit $rc)" || not_ok "seerlog state: $name: exit $rc" "$(cat "$TMP/state.out")"
  cat "$TMP/state.out" >>"$TMP/all-output"
}
state "read user and the CA: the nodes" 0 "sec-3" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.basic.auth.user.info=reader:$READ_PW"
state "bearer token file and the CA: the nodes" 0 "sec-1" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.bearer.auth.token.file=$TMP/token"
state "bearer token file and the CA: one node" 0 "sec-2" sec-2 \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.bearer.auth.token.file=$TMP/token"
state "without the CA: fails, naming api.ssl.ca.location" 1 "api.ssl.ca.location" \
  -X "api.basic.auth.user.info=reader:$READ_PW"
state "another CA: fails" 1 "api.ssl.ca.location" \
  -X "api.ssl.ca.location=$TMP/cert2.pem" -X "api.basic.auth.user.info=reader:$READ_PW"
state "without credentials: HTTP 401, naming the keys" 1 "api.basic.auth.user.info" \
  -X "api.ssl.ca.location=$TMP/cert.pem"
state "a wrong password: HTTP 401" 1 "HTTP 401" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.basic.auth.user.info=reader:x$READ_PW"
state "a wrong token: HTTP 401" 1 "HTTP 401" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.bearer.auth.token.file=$TMP/badtoken"
state "basic and bearer at once: usage error" 2 "set one, not both" \
  -X "api.basic.auth.user.info=reader:$READ_PW" -X "api.bearer.auth.token.file=$TMP/token"
state "a missing token file: usage error" 2 "api.bearer.auth.token.file=$TMP/nope" \
  -X "api.bearer.auth.token.file=$TMP/nope"
timeout 60 "$SEERLOG" state --url "https://reader:$READ_PW@127.0.0.1:$port" \
  -X "api.ssl.ca.location=$TMP/cert.pem" >"$TMP/state.out" 2>&1
rc=$?
[[ $rc == 2 ]] && grep -q "api.url=(redacted): .*user:password@ in the URL is not supported" "$TMP/state.out" &&
  ok "seerlog state: credentials in the URL are a usage error (exit 2)" ||
  not_ok "credentials in the URL: exit $rc" "$(cat "$TMP/state.out")"
cat "$TMP/state.out" >>"$TMP/all-output"

timeout 60 "$SEERLOG" top --url "$URL" -X "api.ssl.ca.location=$TMP/cert.pem" \
  -X "api.bearer.auth.token.file=$TMP/token" >"$TMP/top.out" 2>&1
rc=$?
[[ $rc == 0 ]] && grep -q "sec-" "$TMP/top.out" && ok "seerlog top (one frame): bearer token and the CA" ||
  not_ok "seerlog top: exit $rc" "$(head -5 "$TMP/top.out")"
cat "$TMP/top.out" >>"$TMP/all-output"

# ---- seerlog verify --url https://... ----
verify() { # NAME CODE PATTERN ARGS...
  local name=$1 code=$2 pat=$3
  shift 3
  timeout 120 "$SEERLOG" verify --bootstrap "$BOOTSTRAP" --url "$URL" -X schema.mode=fixed \
    -X project.changelog.topic= -X liveness.topic= -X control.topic= "$@" >"$TMP/verify.out" 2>&1
  local rc=$?
  [[ $rc == "$code" ]] && grep -q -- "$pat" "$TMP/verify.out" && ok "seerlog verify --url: $name" ||
    not_ok "seerlog verify --url: $name: exit $rc" "$(head -8 "$TMP/verify.out")"
  cat "$TMP/verify.out" >>"$TMP/all-output"
}
verify "bearer token file and the CA: the projection matches the log" 0 "3 equal, 0 different" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.bearer.auth.token.file=$TMP/token"
verify "without credentials: HTTP 401, naming the keys" 1 "api.basic.auth.user.info" \
  -X "api.ssl.ca.location=$TMP/cert.pem"

# ---- the bridge's --native-from https://... ----
printf 'sec-1 gpu lab tcp://127.0.0.1:29799\n' >"$TMP/inv"
bridge() { # LOG WANT ARGS...: a bridge over $TMP/inv until LOG has WANT (20 s at most)
  local log=$1 want=$2 pid found=
  shift 2
  "$SEERLOG" bridge --inventory "$TMP/inv" --bootstrap "$BOOTSTRAP" --native-from "$URL" \
    --native-wait-ms 3000 -X "topic.template=$PREFIX.state.x" -X schema.mode=fixed \
    -X "control.topic=$PREFIX.control" -X "outbox.dir=$TMP/outbox-$RANDOM" "$@" \
    >"$log.out" 2>"$log" &
  pid=$!
  for _ in $(seq 100); do
    grep -qF -- "$want" "$log" && { found=1; break; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  cat "$log" "$log.out" >>"$TMP/all-output"
  [[ -n $found ]]
}
bridge "$TMP/bridge1.err" "native source $URL read in" \
  -X "api.ssl.ca.location=$TMP/cert.pem" -X "api.basic.auth.user.info=reader:$READ_PW" &&
  grep -q "3 nodes known" "$TMP/bridge1.err" &&
  ok "bridge --native-from https://... with the CA and the read user: 3 nodes known" ||
  not_ok "bridge --native-from with credentials" "$(head -8 "$TMP/bridge1.err")"
bridge "$TMP/bridge2.err" "native source $URL/v1/nodes: HTTP 401" \
  -X "api.ssl.ca.location=$TMP/cert.pem" &&
  ok "bridge --native-from without credentials: warns HTTP 401" ||
  not_ok "bridge --native-from without credentials" "$(head -8 "$TMP/bridge2.err")"

# ---- no secret anywhere ----
"$SEERLOG" project -X "api.basic.auth.user.info=reader:$READ_PW" --help >"$TMP/help.out" 2>&1
"$SEERLOG" config -X "api.basic.auth.user.info=reader:$READ_PW" \
  -X "registry.basic.auth.user.info=root:$ADMIN_PW" -X "api.auth.file=$TMP/users" \
  >"$TMP/config.out" 2>&1
grep -q '^api.basic.auth.user.info=(redacted)' "$TMP/config.out" &&
  grep -q '^api.bearer.auth.token.file=' "$TMP/config.out" &&
  ok "seerlog config prints api.basic.auth.user.info as (redacted)" ||
  not_ok "seerlog config" "$(grep '^api\.' "$TMP/config.out")"
grep -q 'api.auth.file' "$TMP/help.out" && ok "seerlog project --help describes api.auth.file" ||
  not_ok "project --help has no api.auth.file"
kill "$PROJ_PID" 2>/dev/null
wait "$PROJ_PID" 2>/dev/null
rc=$?
PROJ_PID=
[[ $rc == 0 ]] && ok "the projector: SIGTERM -> exit 0" || not_ok "projector exit $rc" "$(tail -5 "$TMP/proj.err")"
leaks=
for f in "$TMP/proj.err" "$TMP/proj.out" "$TMP/py.out" "$TMP/all-output" "$TMP/help.out" \
  "$TMP/config.out"; do
  for s in "${SECRETS[@]}"; do
    grep -qF -- "$s" "$f" && leaks+=" $(basename "$f")"
  done
done
[[ -z $leaks ]] && ok "no password or token in the projector's log, the CLI's output, --help or config" ||
  not_ok "a secret appears in:$leaks"

finish
