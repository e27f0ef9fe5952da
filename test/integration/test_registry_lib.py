"""Helpers shared by the `seerlog registry` integration tests (python3 standard library only).

Registry: starts `seerlog registry` on 127.0.0.1 and a free port, over the test broker, with
the properties given; waits (with a deadline, no fixed sleeps) until `GET /` answers; writes
its pid to $SEERLOG_TEST_PIDFILE (the shell wrapper's trap kills whatever is listed there) and
stops it on stop()/kill() or at exit.

Checks: check(name, condition, detail) counts and prints one line; finish() prints
"N passed, N failed" and exits 1 if anything failed.
"""

import atexit
import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

SEERLOG = os.path.join(os.environ["SEERLOG_BINARY_DIR"], "cmd", "seerlog")
BOOTSTRAP = os.environ.get("SEERLOG_TEST_BOOTSTRAP") or open(
    os.environ["SEERLOG_TEST_KAFKA_FILE"]).read().strip()
PIDFILE = os.environ.get("SEERLOG_TEST_PIDFILE")
TMP = os.environ.get("SEERLOG_TEST_TMP", "/tmp")
UNIQUE = "%d_%d" % (os.getpid(), time.time_ns() // 1000000)
CT = "application/vnd.schemaregistry.v1+json"

_passed = 0
_failed = 0
_registries = []


def check(name, cond, detail=""):
    global _passed, _failed
    if cond:
        _passed += 1
        print("ok   " + name, flush=True)
    else:
        _failed += 1
        print("FAIL " + name, flush=True)
        for line in str(detail).splitlines()[:20]:
            print("     " + line, flush=True)
    return cond


def failed():
    return _failed


def finish():
    for r in list(_registries):
        r.stop()
    print("%d passed, %d failed" % (_passed, _failed), flush=True)
    sys.exit(1 if _failed else 0)


def run_checks(fn):
    """Runs fn(); an exception counts as one failed check, then finish()."""
    try:
        fn()
    except Exception:  # noqa: BLE001 - report, count, go on to cleanup
        check("no unexpected exception", False, traceback.format_exc())
    finish()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(name):
    return "%s_%s" % (name, UNIQUE)


class Answer:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("error_code") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "HTTP %s %r" % (self.status, self.raw[:500])


class Registry:
    """One `seerlog registry` process."""

    def __init__(self, topic, group, props=None, port=None, tls=False, auth=None, name="reg"):
        self.topic = topic
        self.group = group
        self.props = dict(props or {})
        self.port = port or free_port()
        self.tls = tls
        self.auth = auth  # (user, password) used by request()
        self.name = name
        self.proc = None
        self.log_path = os.path.join(TMP, "%s-%d.log" % (name, self.port))
        self.url = "%s://127.0.0.1:%d" % ("https" if tls else "http", self.port)
        self.ctx = None
        if tls:
            self.ctx = ssl.create_default_context(cafile=self.props["registry.tls.cert"])

    def start(self, wait=True, timeout=60):
        args = [SEERLOG, "registry", "--bootstrap", BOOTSTRAP,
                "--listen", "127.0.0.1:%d" % self.port,
                "-X", "registry.topic=" + self.topic, "-X", "registry.group.id=" + self.group]
        for k, v in self.props.items():
            args += ["-X", "%s=%s" % (k, v)]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        _registries.append(self)
        _write_pidfile()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("registry exited with %s:\n%s" % (self.proc.returncode,
                                                                      self.logtext()))
            try:
                a = self.request("GET", "/", timeout=2)
                if a.status == 200:
                    return
                last = a
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError("registry not ready after %ss (last: %r):\n%s" % (timeout, last,
                                                                              self.logtext()))

    def logtext(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def request(self, method, path, body=None, headers=None, timeout=30, auth=None,
                raw_body=None):
        h = {"Accept": CT}
        data = None
        if raw_body is not None:
            data = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
            h["Content-Type"] = CT
        elif body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = CT
        cred = auth if auth is not None else self.auth
        if cred:
            h["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % cred).encode()).decode()
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ctx) as r:
                return Answer(r.status, r.read().decode("utf-8", "replace"), r.headers)
        except urllib.error.HTTPError as e:
            return Answer(e.code, e.read().decode("utf-8", "replace"), e.headers)

    def retry(self, method, path, body=None, timeout=60, **kw):
        """request() until the answer is not a retriable 5xx (as Confluent's clients do)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                a = self.request(method, path, body, **kw)
                if a.status < 500 or time.monotonic() > deadline:
                    return a
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the process; @returns its exit code (None if it had to be killed)."""
        if not self.proc:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                rc = None
            else:
                rc = p.returncode
        else:
            rc = p.returncode
        if self in _registries:
            _registries.remove(self)
        _write_pidfile()
        self.log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)


def _write_pidfile():
    """The pids of the registries still running, for the shell wrapper's trap."""
    if PIDFILE:
        with open(PIDFILE + ".tmp", "w") as f:
            f.writelines("%d\n" % r.proc.pid for r in _registries if r.proc)
        os.replace(PIDFILE + ".tmp", PIDFILE)


@atexit.register
def _cleanup():
    for r in list(_registries):
        try:
            r.kill()
        except Exception:  # noqa: BLE001
            pass


def record_schema(name, fields, namespace=None):
    s = {"type": "record", "name": name, "fields": fields}
    if namespace:
        s["namespace"] = namespace
    return json.dumps(s)
