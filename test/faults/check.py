#!/usr/bin/env python3
"""The fault suite's checks on one scenario (test/faults/run calls it).

  check.py converged RECORDS STATE_JSONL
      exit 0 when every node's stored (incarnation, seq) is the newest its publishers accepted
      (the projector has applied everything accepted); prints what differs otherwise.
  check.py log RECORDS LOG_JSONL STATE_JSONL PROJECT_STATS_JSON
      prints one JSON object of figures and exits 1 if a check failed:
        accepted   the (node, incarnation, seq) triples the publishers' --record files list
        in_log     records of the state topics (seerlog export), distinct triples, duplicates
        lost       accepted triples missing from the log (must be 0)
        dup_ids    duplicated triples whose copies carry different event ids (must be 0: a
                   duplicate must be the same event again)
        stale      nodes whose stored (incarnation, seq) is not the newest accepted (must be 0)
        newest     log records that were the newest of their node when read in log order: an
                   upper bound for what any single projector process can apply
        counters   the last projector process's consumed/applied/superseded/ignored/dead_lettered
"""
import json
import sys
from collections import defaultdict


def records(paths):
    acc = set()
    for path in paths.split(","):
        if not path:
            continue
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    acc.add((parts[0], int(parts[1]), int(parts[2])))
    return acc


def newest_accepted(acc):
    top = {}
    for node, inc, seq in acc:
        if node not in top or (inc, seq) > top[node]:
            top[node] = (inc, seq)
    return top


def stored(path):
    out = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                out[d["node_id"]] = (d["incarnation"], d["seq"])
    return out


def stale_nodes(top, st):
    bad = [(n, top[n], st.get(n)) for n in sorted(top) if st.get(n) != top[n]]
    extra = [n for n in st if n not in top]
    return bad, extra


def converged(argv):
    top = newest_accepted(records(argv[0]))
    bad, extra = stale_nodes(top, stored(argv[1]))
    if bad or extra:
        print(f"{len(bad)} of {len(top)} nodes not at their newest accepted event, e.g. {bad[:3]};"
              f" {len(extra)} stored nodes nobody accepted an event of")
        return 1
    print(f"{len(top)} nodes at their newest accepted event")
    return 0


def log(argv):
    acc = records(argv[0])
    rows = []
    with open(argv[1]) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                rows.append((d["_topic"], d["_partition"], d["_offset"], d["node_id"],
                             d["incarnation"], d["seq"], d["event_id"]))
    rows.sort()  # log order within each partition (a node lives in one partition)
    ids = {}
    dups = dup_ids = 0
    newest = 0
    top = {}
    for _t, _p, _o, node, inc, seq, eid in rows:
        key = (node, inc, seq)
        if key in ids:
            dups += 1
            if ids[key] != eid:
                dup_ids += 1
        else:
            ids[key] = eid
        if node not in top or (inc, seq) > top[node]:
            top[node] = (inc, seq)
            newest += 1
    lost = sorted(acc - ids.keys())
    bad, extra = stale_nodes(newest_accepted(acc), stored(argv[2]))
    with open(argv[3]) as f:
        stats = json.loads(f.read() or "{}")
    c = {k: stats.get(k, -1) for k in
         ("consumed", "applied", "superseded", "ignored", "dead_lettered", "retried")}
    accounted = c["applied"] + c["superseded"] + c["ignored"] + c["dead_lettered"]
    errors = []
    if lost:
        errors.append(f"{len(lost)} accepted events not in the log, e.g. {lost[:3]}")
    if dup_ids:
        errors.append(f"{dup_ids} duplicated (node, incarnation, seq) with different event ids")
    if bad or extra:
        errors.append(f"{len(bad)} nodes not at their newest accepted event, e.g. {bad[:3]}; "
                      f"{len(extra)} unknown nodes stored")
    if c["dead_lettered"] != 0:
        errors.append(f"{c['dead_lettered']} records dead-lettered")
    # Every record a projector process consumed is applied, superseded, ignored or dead-lettered
    # exactly once, unless a batch was given up and read again (then it was consumed twice).
    if c["retried"] == 0 and accounted != c["consumed"]:
        errors.append(f"counters: applied+superseded+ignored+dead_lettered {accounted} != consumed "
                      f"{c['consumed']}")
    if c["retried"] > 0 and accounted > c["consumed"]:
        errors.append(f"counters: {accounted} accounted for, more than the {c['consumed']} consumed")
    if c["applied"] > newest:
        errors.append(f"applied {c['applied']} > {newest} log records that were ever their node's "
                      "newest: something was applied twice or out of order")
    out = {"accepted": len(acc), "in_log": len(rows), "distinct": len(ids), "dups": dups,
           "dup_ids": dup_ids, "lost": len(lost), "stale": len(bad) + len(extra),
           "newest": newest, "nodes": len(top), **c, "errors": errors}
    print(json.dumps(out))
    return 1 if errors else 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "converged" and len(sys.argv) == 4:
        sys.exit(converged(sys.argv[2:]))
    if cmd == "log" and len(sys.argv) == 6:
        sys.exit(log(sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
