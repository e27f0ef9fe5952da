#!/usr/bin/env python3
"""`seerlog registry` security options and bad input.

- HTTPS (a certificate made here with openssl) and HTTP basic authentication
  (registry.auth.file): 401 with WWW-Authenticate and a Confluent error body; two instances
  over TLS with auth, writes through either (forwarded to the leader over https).
- Roles: a read user and a read bearer token read, look schemas up and test compatibility, and
  get 403/40301 for every write (register, config, mode, delete), before the body is read, on
  the leader and on a follower; nothing is written; an admin token writes; a line without a
  role is admin. An auth file other users can read is warned about; the passwords and tokens
  never appear in the log. An auth file without TLS on a non-loopback address is refused.
- registry.max.body.bytes: 413 before the body is read (a huge Content-Length answered at
  once), and for a chunked body; registry.max.connections: the connection over the limit is
  refused.
- Malformed JSON, wrong body shapes, absurd ids and versions, NUL and control characters in
  paths, invalid UTF-8, a huge URL, garbage bytes: each answered with the documented code, and
  the registry keeps serving after each.
- Bad configuration: TLS certificate without key, a malformed auth file, a topic with more than
  one partition: refused at start with a clear message.
"""

import base64
import os
import socket
import ssl
import subprocess
import time
import urllib.parse

from test_registry_lib import (BOOTSTRAP, SEERLOG, TMP, Registry, check, record_schema,
                               run_checks, unique)

Q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
S1 = record_schema("Sec", [{"name": "a", "type": "int"}])
MAX_BODY = 4096
MAX_CONN = 4
READ_PW = "carols-" + unique("pw")
READ_TOKEN = "readtok" + unique("t").replace("-", "").replace(".", "")
ADMIN_TOKEN = "admintok" + unique("t").replace("-", "").replace(".", "")
SECRETS = ("s3cret:with:colons", "hunter2", READ_PW, READ_TOKEN, ADMIN_TOKEN)


def make_cert():
    cert, key = os.path.join(TMP, "cert.pem"), os.path.join(TMP, "key.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, timeout=60)
    if p.returncode:
        raise RuntimeError("openssl: %s" % p.stderr.decode())
    return cert, key


def raw_exchange(port, data, tls_ctx=None, timeout=10, shutdown=False):
    """Sends @p data on a fresh connection; @returns what came back until close/timeout."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if tls_ctx:
            s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
        if data:
            s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not shutdown:
                head, _, body = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            return out
        return out
    finally:
        s.close()


def status_of(raw):
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def still_serves(reg, what):
    a = reg.request("GET", "/subjects")
    check("... and it still serves after %s" % what, a.status == 200, a)


def expect_start_failure(name, args, want_rc, want_text):
    p = subprocess.run([SEERLOG, "registry", "--bootstrap", BOOTSTRAP] + args,
                       capture_output=True, timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    check(name, p.returncode == want_rc and want_text in err,
          "exit %s, stderr: %s" % (p.returncode, err[-800:]))


def main():
    cert, key = make_cert()
    auth_file = os.path.join(TMP, "users")
    with open(auth_file, "w") as f:
        f.write("# user:password\nalice:s3cret:with:colons\n\nbob:hunter2\ncarol:%s:read\n"
                "Bearer %s:read\nBearer %s\n" % (READ_PW, READ_TOKEN, ADMIN_TOKEN))
    os.chmod(auth_file, 0o644)
    topic = "_schemas_test_" + unique("sec")
    group = unique("test-registry-sec")
    props = {"registry.tls.cert": cert, "registry.tls.key": key,
             "registry.auth.file": auth_file, "registry.max.body.bytes": str(MAX_BODY),
             "registry.max.connections": str(MAX_CONN), "session.timeout.ms": "6000"}
    reg = Registry(topic, group, props, tls=True, auth=("alice", "s3cret:with:colons"),
                   name="sec-a").start()
    ctx = reg.ctx

    # TLS and authentication.
    a = reg.request("GET", "/")
    check("HTTPS with basic auth -> 200", a.status == 200 and a.json == {}, a)
    no_auth = reg.request("GET", "/subjects", auth=False)
    check("no credentials -> 401 with WWW-Authenticate: Basic and a Confluent body",
          no_auth.status == 401 and no_auth.code == 401 and
          (no_auth.headers.get("WWW-Authenticate") or "").startswith("Basic"), no_auth)
    a = reg.request("GET", "/subjects", auth=("alice", "wrong"))
    check("wrong password -> 401", a.status == 401 and a.code == 401, a)
    a = reg.request("GET", "/subjects", auth=("mallory", "hunter2"))
    check("unknown user -> 401", a.status == 401, a)
    a = reg.request("POST", "/subjects/x-value/versions", {"schema": S1}, auth=("bob", "x"))
    check("a write with a wrong password -> 401, nothing written", a.status == 401, a)
    a = reg.request("GET", "/subjects", auth=("bob", "hunter2"))
    check("second user of the file -> 200", a.status == 200 and a.json == [], a)
    raw = raw_exchange(reg.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    check("plain HTTP to the HTTPS port gets no HTTP answer", status_of(raw) is None, raw[:200])
    still_serves(reg, "plain HTTP on the TLS port")

    # Two instances over TLS with auth: writes through either, forwarded over https.
    reg_b = Registry(topic, group, props, tls=True, auth=("alice", "s3cret:with:colons"),
                     name="sec-b").start()
    ids = set()
    for k, r in enumerate((reg, reg_b, reg_b, reg)):
        a = r.retry("POST", "/subjects/tls-value/versions", {"schema": S1})
        check("register through instance %s (TLS, auth) -> 200" % "ABBA"[k], a.status == 200, a)
        ids.add(a.json and a.json.get("id"))
    check("... one id through both", len(ids) == 1 and None not in ids, ids)
    a = reg_b.request("POST", "/subjects/tls-value/versions", {"schema": S1},
                      auth=("alice", "bad"))
    check("a follower checks credentials too -> 401", a.status == 401, a)

    # Roles: read users and tokens read, admins write.
    carol = ("carol", READ_PW)
    read_tok = {"Authorization": "Bearer " + READ_TOKEN}
    admin_tok = {"Authorization": "Bearer " + ADMIN_TOKEN}
    www = no_auth.headers.get_all("WWW-Authenticate") or []
    check("tokens in the file: the 401 also offers Bearer",
          any(v.startswith("Basic") for v in www) and any(v.startswith("Bearer") for v in www),
          www)
    for who, kw in (("read user", {"auth": carol}), ("read token", {"headers": read_tok})):
        a = reg.request("GET", "/subjects", **kw)
        check("%s: GET /subjects -> 200" % who, a.status == 200 and a.json == ["tls-value"], a)
        a = reg.request("POST", "/subjects/tls-value", {"schema": S1}, **kw)
        check("%s: a lookup (POST /subjects/S) -> 200" % who, a.status == 200, a)
        a = reg.request("POST", "/compatibility/subjects/tls-value/versions/latest",
                        {"schema": S1}, **kw)
        check("%s: a compatibility check -> 200" % who, a.status == 200, a)
        for r, where in ((reg, "leader or follower A"), (reg_b, "instance B")):
            for method, path, body in (("POST", "/subjects/ro-value/versions", {"schema": S1}),
                                       ("PUT", "/config", {"compatibility": "NONE"}),
                                       ("PUT", "/config/tls-value", {"compatibility": "NONE"}),
                                       ("PUT", "/mode", {"mode": "READONLY"}),
                                       ("DELETE", "/subjects/tls-value", None),
                                       ("DELETE", "/subjects/tls-value/versions/1", None)):
                a = r.request(method, path, body, **kw)
                check("%s through %s: %s %s -> 403/40301" % (who, where, method, path),
                      a.status == 403 and a.code == 40301, a)
    a = reg.request("GET", "/subjects", auth=("alice", "s3cret:with:colons"))
    check("... nothing was written: the subjects are still [tls-value]",
          a.status == 200 and a.json == ["tls-value"], a)
    a = reg.request("GET", "/config")
    check("... and the config is unchanged", a.status == 200 and
          a.json.get("compatibilityLevel") != "NONE", a)
    basic_carol = base64.b64encode(("carol:" + READ_PW).encode()).decode()
    head = ("POST /subjects/huge-value/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Basic %s\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000000000\r\n\r\n" % basic_carol).encode()
    t0 = time.monotonic()
    raw = raw_exchange(reg.port, head, tls_ctx=ctx)
    check("a read user's write with a 100 GB body -> 403 at once (%.2f s)" %
          (time.monotonic() - t0), status_of(raw) == 403 and time.monotonic() - t0 < 5, raw[:300])
    a = reg.retry("PUT", "/config/tls-value", {"compatibility": "FULL"}, headers=admin_tok)
    check("admin token (no role given: admin): PUT /config/S -> 200", a.status == 200, a)
    a = reg.retry("POST", "/subjects/tls-value/versions", {"schema": S1},
                  auth=("bob", "hunter2"))
    check("bob (no role given: admin): register -> 200", a.status == 200, a)
    check("an auth file other users can read is warned about at start",
          "registry.auth.file=%s can be read by other users" % auth_file in reg.logtext(),
          reg.logtext()[-1500:])
    reg_b.stop()
    leaked = [x for x in SECRETS for r in (reg, reg_b) if x in r.logtext()]
    check("no password or token in the logs", not leaked, leaked)

    # Body limit.
    basic = base64.b64encode(b"alice:s3cret:with:colons").decode()
    big = {"schema": S1, "pad": "x" * (2 * MAX_BODY)}
    a = reg.request("POST", "/subjects/big-value/versions", big)
    check("a body over registry.max.body.bytes -> 413", a.status == 413 and a.code == 413, a)
    still_serves(reg, "413")
    head = ("POST /subjects/huge-value/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Basic %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 100000000000\r\n\r\n" % basic).encode()
    t0 = time.monotonic()
    raw = raw_exchange(reg.port, head, tls_ctx=ctx)
    check("Content-Length 100 GB -> 413 at once, the body never read (%.2f s)" %
          (time.monotonic() - t0), status_of(raw) == 413 and time.monotonic() - t0 < 5,
          raw[:300])
    chunk = b"x" * 2000
    chunked = ("POST /subjects/chunked-value/versions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Authorization: Basic %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % basic).encode()
    chunked += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    raw = raw_exchange(reg.port, chunked, tls_ctx=ctx)
    check("a chunked body over the limit -> 413", status_of(raw) == 413, raw[:300])
    still_serves(reg, "a chunked 413")

    # Malformed bodies.
    cases = [
        ("unparsable JSON", "{\"schema\": ", 400, 400),
        ("an empty body", "", 400, 400),
        ("a JSON array", "[1,2]", 422, 42201),
        ("null", "null", 422, 42201),
        ("no schema field", "{\"schemaa\": \"x\"}", 422, 42201),
        ("schema not a string", "{\"schema\": 5}", 422, 42201),
        ("schema not JSON", "{\"schema\": \"not json\"}", 422, 42201),
        ("schema not Avro", "{\"schema\": \"{\\\"type\\\":\\\"recordx\\\"}\"}", 422, 42201),
        ("references not an array", "{\"schema\": \"\\\"int\\\"\", \"references\": 3}", 422,
         42201),
        ("JSON nested 4000 deep", "[" * 4000, 400, 400),
        ("invalid UTF-8 in the body", b"{\"schema\": \"\xff\xfe\"}", 400, 400),
    ]
    for name, body, status, code in cases:
        a = reg.request("POST", "/subjects/bad-value/versions", raw_body=body)
        check("register with %s -> %d/%d" % (name, status, code),
              a.status == status and a.code == code, a)
    a = reg.request("PUT", "/config", raw_body="{\"compatibility\": 3}")
    check("PUT /config with a non-string level -> 42203", a.code == 42203, a)
    a = reg.request("PUT", "/mode", raw_body="[]")
    check("PUT /mode with an array -> 42204", a.code == 42204, a)
    a = reg.request("POST", "/compatibility/subjects/tls-value/versions/latest", raw_body="{")
    check("compatibility with unparsable JSON -> 400", a.status == 400 and a.code == 400, a)
    still_serves(reg, "malformed bodies")

    # Absurd ids and versions.
    for i in ("-1", "0", "99999999999999", "2147483648", "abc", "1.5", "%20", "0x10"):
        a = reg.request("GET", "/schemas/ids/" + i)
        check("GET /schemas/ids/%s -> 404/40403" % i, a.status == 404 and a.code == 40403, a)
    for subject in ("tls-value", "nosuch-value"):
        for v in ("0", "-2", "abc", "2147483648", "99999999999999", "1.5", "%20", "LATEST"):
            a = reg.request("GET", "/subjects/%s/versions/%s" % (subject, v))
            check("GET %s version %s -> 422/42202" % (subject, v),
                  a.status == 422 and a.code == 42202, a)
        a = reg.request("DELETE", "/subjects/%s/versions/0" % subject)
        check("DELETE %s version 0 -> 42202" % subject, a.code == 42202, a)
    a = reg.request("GET", "/subjects/tls-value/versions/2147483647")
    check("version 2^31-1 is valid but missing -> 40402", a.code == 40402, a)
    still_serves(reg, "absurd ids and versions")

    # Paths.
    a = reg.request("GET", "/subjects/a%00b/versions")
    check("%00 in a path -> 400", a.status == 400, a)
    a = reg.request("POST", "/subjects/%s/versions" % Q("ctl\x01char"), {"schema": S1})
    check("register under a subject with a control character -> 42208",
          a.status == 422 and a.code == 42208, a)
    a = reg.request("POST", "/subjects/%FF%FE/versions", {"schema": S1})
    check("register under a subject that is not UTF-8 -> 42208", a.code == 42208, a)
    a = reg.request("GET", "/subjects/%FF%FE/versions")
    check("GET a subject that is not UTF-8 -> 40401", a.code == 40401, a)
    a = reg.request("GET", "/subjects/%zz/versions")
    check("a bad %-escape is taken literally -> 40401", a.code == 40401, a)
    try:
        a = reg.request("GET", "/subjects/" + "x" * 200000 + "/versions", timeout=10)
        ok = a.status in (400, 404, 414, 431)
    except OSError as e:  # the server may just close the connection
        ok, a = True, e
    check("a 200 KB URL is refused", ok, a)
    still_serves(reg, "odd paths")

    # Garbage on the wire, half a request, an idle connection.
    raw_exchange(reg.port, os.urandom(4096), tls_ctx=None, timeout=3)
    raw_exchange(reg.port, b"\x16\x03\x01\x00\x05hello", timeout=3)
    raw = raw_exchange(reg.port, b"BREW /coffee HTCPCP/1.0\r\n\r\n", tls_ctx=ctx, timeout=5)
    check("a request that is not HTTP/1.x is refused", status_of(raw) in (None, 400, 405, 505),
          raw[:200])
    raw_exchange(reg.port, b"POST /subjects/x/versions HTTP/1.1\r\nContent-Le", tls_ctx=ctx,
                 timeout=2)
    still_serves(reg, "garbage, a half request and TLS junk")
    rc = reg.stop()
    check("TLS instance: SIGTERM -> exit 0", rc == 0, reg.logtext())

    # Connection limit (plain HTTP).
    plain = Registry(topic, group, {"registry.max.connections": str(MAX_CONN),
                                    "registry.auth.file": auth_file},
                     auth=("bob", "hunter2"), name="sec-plain").start()
    idle = [socket.create_connection(("127.0.0.1", plain.port), timeout=5)
            for _ in range(MAX_CONN)]
    time.sleep(0)  # the connections are accepted asynchronously; the next one is polled below
    refused = False
    deadline = time.monotonic() + 10
    while not refused and time.monotonic() < deadline:
        try:
            a = plain.request("GET", "/subjects", timeout=2)
        except OSError:
            refused = True
    check("connection %d over registry.max.connections=%d is refused" % (MAX_CONN + 1,
                                                                        MAX_CONN), refused)
    for s in idle:
        s.close()
    deadline = time.monotonic() + 10
    a = None
    while time.monotonic() < deadline:
        try:
            a = plain.request("GET", "/subjects", timeout=2)
            break
        except OSError as e:
            a = e
            time.sleep(0.1)
    check("once they close, requests are served again",
          getattr(a, "status", None) == 200 and a.json == ["tls-value"], a)
    rc = plain.stop()
    check("plain instance: SIGTERM -> exit 0", rc == 0, plain.logtext())

    # Bad configuration is refused at start.
    expect_start_failure("registry.tls.cert without registry.tls.key -> exit 2",
                         ["-X", "registry.tls.cert=" + cert, "-X", "registry.topic=" + topic],
                         2, "registry.tls.key")
    short_tok = os.path.join(TMP, "short-token")
    with open(short_tok, "w") as f:
        f.write("ok:fine\nBearer short\n")
    key2 = os.path.join(TMP, "key2.pem")
    p = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=other", "-keyout", key2, "-out", os.path.join(TMP, "c2.pem")],
                       capture_output=True, timeout=60)
    bad_auth = os.path.join(TMP, "bad-users")
    with open(bad_auth, "w") as f:
        f.write("no colon here\n")
    expect_start_failure("an auth file line without ':' -> exit 2",
                         ["-X", "registry.auth.file=" + bad_auth], 2, "USER:PASSWORD")
    expect_start_failure("an auth file without TLS on 0.0.0.0 -> exit 2",
                         ["-X", "registry.auth.file=" + auth_file,
                          "--listen", "0.0.0.0:%d" % plain.port], 2,
                         "registry.allow.insecure.auth=true")
    expect_start_failure("an auth file with a 5-character token -> exit 2, line named",
                         ["-X", "registry.auth.file=" + short_tok], 2,
                         "line 2: a bearer token is at least 16")
    expect_start_failure("a key that is not the certificate's -> exit 2",
                         ["-X", "registry.tls.cert=" + cert, "-X", "registry.tls.key=" + key2],
                         2, "do not match")
    expect_start_failure("an unreadable certificate -> exit 2",
                         ["-X", "registry.tls.cert=/nonexistent/cert.pem",
                          "-X", "registry.tls.key=" + key], 2, "/nonexistent/cert.pem")
    multi = "_schemas_test_" + unique("multi")
    kafka_local = os.path.join(os.environ["SEERLOG_SOURCE_DIR"], "scripts", "kafka-local")
    p = subprocess.run([kafka_local, "tool", "org.apache.kafka.tools.TopicCommand",
                        "--bootstrap-server", BOOTSTRAP, "--create", "--topic", multi,
                        "--partitions", "3", "--replication-factor", "1"],
                       capture_output=True, timeout=120)
    if check("created a topic with 3 partitions", p.returncode == 0, p.stderr.decode()[-500:]):
        expect_start_failure("a registry.topic with 3 partitions -> exit 1, clear message",
                             ["-X", "registry.topic=" + multi,
                              "--listen", "127.0.0.1:%d" % plain.port], 1, "3 partitions")


run_checks(main)
