#!/usr/bin/env python3
"""Two `seerlog registry` instances on one topic: one id allocator across instances.

1. A and B share a topic and a group. Threads register 40 distinct schemas concurrently, each
   through both instances and under two subjects (its own, and one of 5 shared ones), in a
   random order. Then: every request succeeded; every schema has exactly one id; distinct
   schemas have distinct ids; each subject has one version per distinct schema; and both
   instances answer identically for every id and every subject/version.
2. A record written behind the registry's back that binds a taken id to another schema is
   ignored (first in log order wins).
3. kill -9 of the leader: the other instance takes over (after the group's session timeout)
   and keeps registering, with new ids only; an instance started afterwards rebuilds the same
   state.

Own topic and group; free ports; every registry is stopped (or killed) at the end.
"""

import json
import os
import queue
import random
import subprocess
import threading
import time
import urllib.parse

from test_registry_lib import (BOOTSTRAP, Registry, check, record_schema, run_checks, unique)

Q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
N_SCHEMAS = 40
N_SHARED = 5
THREADS = 8
# The broker's group.min.session.timeout.ms is 6 s: a killed leader is noticed that fast.
PROPS = {"session.timeout.ms": "6000", "registry.write.timeout.ms": "10000"}


def schema(i):
    return record_schema("Cluster%d" % i, [{"name": "f%d" % i, "type": "int"}], "seerlog.test")


def subjects_of(i):
    return ["own-%d-value" % i, "shared-%d-value" % (i % N_SHARED)]


def is_leader(reg):
    """Whether @p reg's log says it leads now."""
    log = reg.logtext()
    led = log.rfind("leading (topic")
    lost = max(log.rfind("stepping down"), log.rfind("no longer leading"))
    return led >= 0 and led > lost


def view(reg, ids, subjects):
    """What @p reg answers for @p ids and @p subjects."""
    v = {}
    for i in sorted(ids):
        v["id %d" % i] = reg.request("GET", "/schemas/ids/%d" % i).raw
        v["id %d versions" % i] = reg.request("GET", "/schemas/ids/%d/versions" % i).raw
    for s in sorted(subjects):
        versions = reg.request("GET", "/subjects/%s/versions" % Q(s)).json
        v["versions " + s] = versions
        for n in versions or []:
            v["version %s %d" % (s, n)] = reg.request(
                "GET", "/subjects/%s/versions/%d" % (Q(s), n)).raw
    return v


def same_view(a, b, ids, subjects, timeout=30):
    """Waits until @p a and @p b answer alike (the follower may apply the last writes a little
    later than the leader answered them). @returns the differing keys, [] when alike."""
    deadline = time.monotonic() + timeout
    while True:
        va, vb = view(a, ids, subjects), view(b, ids, subjects)
        diff = [k for k in va if va[k] != vb.get(k)]
        if not diff or time.monotonic() > deadline:
            return diff, va, vb
        time.sleep(0.2)


def main():
    topic = "_schemas_test_" + unique("cluster")
    group = unique("test-registry-cluster")
    a = Registry(topic, group, PROPS, name="cluster-a").start()
    b = Registry(topic, group, PROPS, name="cluster-b").start()
    regs = [a, b]

    # Distinct records in one subject are not BACKWARD compatible: let every version in.
    r = a.retry("PUT", "/config", {"compatibility": "NONE"})
    check("PUT /config NONE through A", r.status == 200, r)

    tasks = [(i, s, reg) for i in range(N_SCHEMAS) for s in subjects_of(i) for reg in (0, 1)]
    random.shuffle(tasks)
    work = queue.Queue()
    for t in tasks:
        work.put(t)
    results = []
    lock = threading.Lock()

    def worker():
        while True:
            try:
                i, s, reg = work.get_nowait()
            except queue.Empty:
                return
            try:
                ans = regs[reg].retry("POST", "/subjects/%s/versions" % Q(s),
                                      {"schema": schema(i)}, timeout=90)
            except OSError as e:
                ans = e
            with lock:
                results.append((i, s, reg, ans))

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0

    bad = [(i, s, reg, ans) for i, s, reg, ans in results
           if not hasattr(ans, "status") or ans.status != 200]
    check("%d concurrent registrations through both instances all succeeded (%.1f s)" %
          (len(tasks), took), len(results) == len(tasks) and not bad, bad[:5])
    ids_of = {}
    for i, s, reg, ans in results:
        if hasattr(ans, "json") and ans.json and "id" in ans.json:
            ids_of.setdefault(i, set()).add(ans.json["id"])
    multi = {i: v for i, v in ids_of.items() if len(v) != 1}
    check("every schema has exactly one id (through both instances, in both subjects)",
          len(ids_of) == N_SCHEMAS and not multi, multi)
    id_of = {i: min(v) for i, v in ids_of.items()}
    check("distinct schemas have distinct ids",
          len(set(id_of.values())) == len(id_of), sorted(id_of.items()))

    subjects = {s for i in range(N_SCHEMAS) for s in subjects_of(i)}
    for name, reg in (("A", a), ("B", b)):
        wrong = []
        for s in sorted(subjects):
            want = sorted(id_of[i] for i in range(N_SCHEMAS) if s in subjects_of(i))
            got = []
            for n in reg.request("GET", "/subjects/%s/versions" % Q(s)).json or []:
                got.append(reg.request("GET", "/subjects/%s/versions/%d" % (Q(s), n)).json["id"])
            if sorted(got) != want:
                wrong.append((s, got, want))
        check("%s: each subject has one version per distinct schema, no duplicates" % name,
              not wrong, wrong[:3])
    diff, va, vb = same_view(a, b, set(id_of.values()), subjects)
    check("A and B answer identically for every id and subject/version (%d answers)" % len(va),
          not diff, "\n".join("%s: A=%r B=%r" % (k, va[k][:120], str(vb.get(k))[:120])
                              for k in diff[:5]))
    texts = [a.request("GET", "/schemas/ids/%d" % id_of[i]).json for i in range(N_SCHEMAS)]
    check("every id serves its own schema",
          all(t == {"schema": schema(i)} for i, t in enumerate(texts)), texts[:3])

    # A conflicting record from outside: id of schema 0 bound to another schema. Ignored.
    key = json.dumps({"keytype": "SCHEMA", "subject": "intruder-value", "version": 1,
                      "magic": 1}, separators=(",", ":"))
    value = json.dumps({"subject": "intruder-value", "version": 1, "id": id_of[0],
                        "schema": schema(999), "deleted": False}, separators=(",", ":"))
    p = subprocess.run(["kcat", "-P", "-b", BOOTSTRAP, "-t", topic, "-p", "0", "-K", "\t"],
                       input=(key + "\t" + value + "\n").encode(), capture_output=True,
                       timeout=60)
    check("kcat wrote a conflicting SCHEMA record", p.returncode == 0, p.stderr)
    # A write after it, read back by both, orders the check after the intruder.
    r = a.retry("POST", "/subjects/after-intruder-value/versions", {"schema": schema(1000)})
    check("a registration after the intruder", r.status == 200, r)
    after_id = r.json and r.json.get("id")
    for name, reg in (("A", a), ("B", b)):
        deadline = time.monotonic() + 30
        while reg.request("GET", "/subjects/after-intruder-value/versions").status != 200 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        r1 = reg.request("GET", "/schemas/ids/%d" % id_of[0])
        r2 = reg.request("GET", "/subjects/intruder-value/versions")
        check("%s: a record claiming a taken id is ignored (first in log order wins)" % name,
              r1.json == {"schema": schema(0)} and r2.status == 404, (r1, r2))
        check("%s: the ignored record is logged" % name,
              "bound to a different schema" in reg.logtext(), reg.logtext()[-500:])

    # Fail-over: kill -9 the leader; the other takes over and allocates only new ids.
    deadline = time.monotonic() + 30
    while not (is_leader(a) or is_leader(b)) and time.monotonic() < deadline:
        time.sleep(0.1)
    leader, follower = (a, b) if is_leader(a) else (b, a)
    check("one of the two leads", is_leader(leader) and not is_leader(follower),
          leader.logtext()[-600:] + follower.logtext()[-600:])
    leader.kill()
    used = set(id_of.values()) | {after_id}
    t0 = time.monotonic()
    new_ids = {}
    errors = []
    for k in range(10):
        r = follower.retry("POST", "/subjects/failover-value/versions",
                           {"schema": schema(2000 + k)}, timeout=120)
        if r.status == 200:
            new_ids[k] = r.json["id"]
        else:
            errors.append(r)
    took = time.monotonic() - t0
    check("after kill -9 of the leader the other instance registers 10 schemas (%.1f s)" % took,
          len(new_ids) == 10 and not errors, errors[:3])
    check("... and leads", is_leader(follower), follower.logtext()[-800:])
    check("... with new ids only (none reused), all distinct",
          not (set(new_ids.values()) & used) and len(set(new_ids.values())) == len(new_ids) and
          min(new_ids.values(), default=0) > max(used), (sorted(used), new_ids))
    check("... and the old ids still serve their schemas",
          all(follower.request("GET", "/schemas/ids/%d" % id_of[i]).json ==
              {"schema": schema(i)} for i in range(N_SCHEMAS)))

    # A new instance rebuilds the same state, aborted transactions of the dead leader included.
    c = Registry(topic, group, PROPS, name="cluster-c").start()
    subjects |= {"failover-value", "after-intruder-value"}
    diff, vf, vc = same_view(follower, c, used | set(new_ids.values()), subjects)
    check("an instance started after the fail-over answers identically (%d answers)" % len(vf),
          not diff, "\n".join("%s: %r != %r" % (k, vf[k][:100], str(vc.get(k))[:100])
                              for k in diff[:5]))
    r = c.retry("POST", "/subjects/failover-value/versions", {"schema": schema(3000)},
                timeout=60)
    check("a write through the new instance (forwarded to the leader)",
          r.status == 200 and r.json["id"] > max(new_ids.values(), default=0), r)
    for name, reg in (("follower", follower), ("C", c)):
        rc = reg.stop()
        check("%s: SIGTERM -> exit 0" % name, rc == 0, "exit %r\n%s" % (rc, reg.logtext()))


if os.environ.get("SEERLOG_TEST_SEED"):
    random.seed(int(os.environ["SEERLOG_TEST_SEED"]))
run_checks(main)
