"""Checks of `seerlog export` with standard readers: fastavro (Avro), DuckDB (CSV, JSON lines)
and Python's csv and json modules. Run by test-export.sh with the venv of scripts/python-env.

  export_check.py gen T1 T2 DIR          the events to publish: DIR/batch1.tsv, DIR/batch2.tsv
                                         (lines TOPIC<TAB>JSON)
  export_check.py events DIR MID         the event exports in DIR against DIR/published.tsv
  export_check.py state DIR HASH         the state exports in DIR against DIR/state-list.jsonl
  export_check.py empty DIR              the exports of an empty range

published.tsv: lines TOPIC/PARTITION@OFFSET<TAB>JSON (what `seerlog publish` printed, and the
event it was given). Prints `ok WHAT` or `FAIL WHAT: why` lines; exits 1 if any check failed.
"""
import csv
import datetime
import json
import os
import math
import sys
import uuid

import duckdb
import fastavro

failed = 0


def check(cond, what, why=""):
    global failed
    if cond:
        print("ok   " + what)
    else:
        failed += 1
        print("FAIL " + what + (": " + str(why) if why else ""))
    return cond


# ---- the events ----

USAGE = {"cpu_percent": 0.1, "cpu_count": 8, "load1": 0.5, "load5": 0.25, "load15": 1.0 / 3,
         "mem_total": 17179869184, "mem_used": 8589934592, "mem_available": 8589934592,
         "disk_total": 500107862016, "disk_used": 250053931008,
         "sensors": {"temp_c": 55.5, "fan_rpm": 1200.0}}


def event(node, inc, seq, kind, status, **kw):
    e = {"event_id": str(uuid.uuid4()), "node_id": node, "node_type": kw.pop("node_type", "seer"),
         "region": kw.pop("region", "eu"), "cluster": "", "incarnation": inc, "seq": seq,
         "event_time": inc + 1000 * seq + 7, "kind": kind, "status": status, "hostname": node,
         "addresses": [], "services": [], "usage": None, "labels": {}, "agent_version": "1.2.3",
         "source": "agent", "geo": None, "capacity": None}
    e.update(kw)
    return e


def gen(t1, t2, out):
    inc = 1732870000000
    batch1 = [
        (t1, event("exp-a1", inc, 0, "join", "up", cluster="c1", hostname="hôst-ü ✓",
                   addresses=["10.0.0.1", "[::1]:8080"],
                   services=[{"name": "api", "meta": {"port": "8080", "proto": "h2"}},
                             {"name": "db", "meta": {}}],
                   usage=USAGE, labels={"rack": "r1", "note": 'comma, "quoted"'})),
        (t1, event("exp-a2", inc, 0, "status_change", "degraded", agent_version="",
                   hostname='say "hi", ok', labels={"multi": "line1\nline2", "crlf": "a\r\nb"})),
        (t2, event("exp-b1", inc, 0, "usage", "up", node_type="gateway", region="us",
                   hostname=" padded ",
                   usage=dict(USAGE, cpu_percent=99.99, load1=1e-300, mem_total=9007199254740993,
                              sensors={}))),
        (t1, event("exp-a1", inc, 1, "heartbeat", "up", labels={"rack": "r1"},
                   geo={"latitude": 52.52, "longitude": -13.405, "site": "ber, \"1\""},
                   capacity={"cpu_cores": 64, "memory_bytes": 549755813888, "disk_bytes": 0,
                             "max_tasks": 2147483647})),
    ]
    batch2 = [
        (t2, event("exp-b1", inc, 1, "leave", "left", node_type="gateway", region="us")),
        (t1, event("exp-a3", inc, 0, "services", "draining", source="bridge",
                   services=[{"name": "日本語", "meta": {"ключ": "значение, \"x\""}}],
                   labels={"ключ": "значение"})),
        (t1, event("exp-a2", inc + 5000, 0, "join", "maintenance", hostname="a2,\r\nb",
                   geo={"latitude": -90.0, "longitude": 180.0, "site": ""})),
    ]
    for name, batch in (("batch1", batch1), ("batch2", batch2)):
        with open("%s/%s.tsv" % (out, name), "w", encoding="utf-8") as f:
            for topic, e in batch:
                f.write("%s\t%s\n" % (topic, json.dumps(e, ensure_ascii=False)))


def published(d):
    """{(topic, partition, offset): event} in publishing order, and the batch of each."""
    out, batch = {}, {}
    with open(d + "/published.tsv", encoding="utf-8") as f:
        for line in f:
            coords, text, b = line.rstrip("\n").split("\t")
            topic, rest = coords.rsplit("/", 1)
            part, off = rest.split("@")
            key = (topic, int(part), int(off))
            out[key] = json.loads(text)
            batch[key] = int(b)
    return out, batch


# ---- reading the formats back into the JSON shape ----

# NodeStateEvent's fields, from the schema the library embeds (version 2: geo, capacity).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas",
                       "node_state.avsc"), encoding="utf-8") as _f:
    EVENT_FIELDS = [f["name"] for f in json.load(_f)["fields"]]


def ms(v):
    if isinstance(v, datetime.datetime):
        return round(v.timestamp() * 1000)
    return v


def from_avro(rec):
    """An Avro record (fastavro) in the shape of sl_event_to_json(), plus the coordinates."""
    r = dict(rec)
    r["event_id"] = str(r["event_id"])
    r["event_time"] = ms(r["event_time"])
    if "timestamp" in r:
        r["timestamp"] = ms(r["timestamp"])
    return r


def fl(s):
    return float(s) if s != "" else None


def from_csv(row, state):
    """A CSV row (dict of strings) in the shape of sl_event_to_json(), plus the coordinates."""
    e = {k: row[k] for k in ("event_id", "node_id", "node_type", "region", "cluster", "kind",
                             "status", "hostname", "agent_version", "source")}
    for k in ("incarnation", "seq"):
        e[k] = int(row[k])
    e["event_time"] = int(row["event_time_ms"])
    for k in ("addresses", "services", "labels"):
        e[k] = json.loads(row[k])
    if row["cpu_count"] == "":
        e["usage"] = None
        assert all(row[k] == "" for k in ("cpu_percent", "load1", "mem_total", "sensors")), row
    else:
        e["usage"] = {"cpu_percent": fl(row["cpu_percent"]), "cpu_count": int(row["cpu_count"]),
                      "load1": fl(row["load1"]), "load5": fl(row["load5"]),
                      "load15": fl(row["load15"]), "sensors": json.loads(row["sensors"])}
        for k in ("mem_total", "mem_used", "mem_available", "disk_total", "disk_used"):
            e["usage"][k] = int(row[k])
    e["geo"] = None if row["geo_latitude"] == "" else {
        "latitude": fl(row["geo_latitude"]), "longitude": fl(row["geo_longitude"]),
        "site": row["geo_site"]}
    e["capacity"] = None if row["capacity_cpu_cores"] == "" else {
        k: int(row["capacity_" + k]) for k in ("cpu_cores", "memory_bytes", "disk_bytes",
                                                "max_tasks")}
    if state:
        c = (row["source_topic"], int(row["source_partition"]), int(row["source_offset"])) \
            if row["source_topic"] else None
    else:
        c = (row["topic"], int(row["partition"]), int(row["offset"]), int(row["timestamp"]),
             row["timestamp_iso"])
    return c, e


def event_fields(r):
    keys = ("event_id", "node_id", "node_type", "region", "cluster", "incarnation", "seq",
            "event_time", "kind", "status", "hostname", "addresses", "services", "usage",
            "labels", "agent_version", "source", "geo", "capacity")
    return {k: r[k] for k in keys}


def iso(t):
    return datetime.datetime.fromtimestamp(t / 1000, datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_avro(path):
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        return r.writer_schema, r.metadata, r.codec, [from_avro(x) for x in r]


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        raw = f.read()
    rows = list(csv.DictReader(raw.splitlines(keepends=True)))
    return raw, rows


# ---- events ----

def check_events(d, mid):
    pub, batch = published(d)
    want = set(pub)
    n = len(pub)
    topics = sorted({k[0] for k in pub})
    stamps = {}

    # Avro, deflate and null.
    for name, codec in (("all.avro", "deflate"), ("all-null.avro", "null")):
        schema, meta, got_codec, recs = read_avro("%s/%s" % (d, name))
        check(schema["name"] in ("seerlog.ExportedEvent", "ExportedEvent"),
              "%s: schema seerlog.ExportedEvent" % name, schema["name"])
        names = [f["name"] for f in schema["fields"]]
        check(names[:4] == ["topic", "partition", "offset", "timestamp"] and
              names[4:] == EVENT_FIELDS,
              "%s: topic, partition, offset, timestamp, then the %d event fields"
              % (name, len(EVENT_FIELDS)), names)
        check(got_codec == codec and meta.get("avro.codec") == codec,
              "%s: codec %s" % (name, codec), got_codec)
        check(json.loads(meta["seerlog.topics"]) == topics, "%s: seerlog.topics" % name,
              meta["seerlog.topics"])
        rng = json.loads(meta["seerlog.range"])
        check(rng["since_ms"] is None and rng["until_ms"] is None and
              sum(p["end"] - p["start"] for p in rng["partitions"]) == n + 1,
              "%s: seerlog.range covers the %d events and the garbage record" % (name, n), rng)
        check(int(meta["seerlog.created_ms"]) > 1700000000000, "%s: seerlog.created_ms" % name)
        got = {(r["topic"], r["partition"], r["offset"]): r for r in recs}
        check(len(recs) == n and set(got) == want,
              "%s: exactly the %d published events, by (topic, partition, offset)" % (name, n),
              sorted(set(got) ^ want))
        bad = [k for k in want & set(got) if event_fields(got[k]) != pub[k]]
        check(not bad, "%s: every field equals what was published" % name,
              bad and (event_fields(got[bad[0]]), pub[bad[0]]))
        for k, r in got.items():
            stamps[k] = r["timestamp"]
        order, ordered = {}, True
        for r in recs:
            pk = (r["topic"], r["partition"])
            ordered = ordered and order.get(pk, -1) < r["offset"]
            order[pk] = r["offset"]
        check(ordered, "%s: each partition in offset order" % name)

    # The timestamps put the batches on either side of MID.
    check(all((stamps[k] < mid) == (batch[k] == 1) for k in pub),
          "Kafka timestamps: batch 1 before MID, batch 2 at or after",
          {k: (stamps[k], batch[k]) for k in pub})

    # JSON lines: json module (exact), DuckDB (count, values).
    with open(d + "/all.jsonl", encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    got = {(x["_topic"], x["_partition"], x["_offset"]): x for x in lines}
    check(len(lines) == n and set(got) == want, "all.jsonl: the %d events" % n)
    check(all(list(x)[:4] == ["_topic", "_partition", "_offset", "_timestamp"] for x in lines),
          "all.jsonl: _topic, _partition, _offset, _timestamp first")
    check(all(event_fields(got[k]) == pub[k] and got[k]["_timestamp"] == stamps[k]
              for k in want if k in got), "all.jsonl: every field as published")
    con = duckdb.connect()
    q = "SELECT count(*) FROM read_json(?, format='newline_delimited')"
    check(con.execute(q, [d + "/all.jsonl"]).fetchone()[0] == n, "duckdb read_json: %d rows" % n)
    row = con.execute("SELECT _offset, hostname, usage.cpu_percent, usage.mem_total, "
                      "usage.sensors.temp_c, labels.note FROM read_json(?, "
                      "format='newline_delimited') WHERE node_id = 'exp-a1' AND seq = 0",
                      [d + "/all.jsonl"]).fetchone()
    k = next(k for k in pub if pub[k]["node_id"] == "exp-a1" and pub[k]["seq"] == 0)
    check(row == (k[2], "hôst-ü ✓", 0.1, USAGE["mem_total"], 55.5, 'comma, "quoted"'),
          "duckdb read_json: values (unicode, nested usage, labels)", row)

    # CSV: csv module (every column), DuckDB (count, types, tricky values).
    raw, rows = csv_rows(d + "/all.csv")
    check(raw.startswith("topic,partition,offset,timestamp,timestamp_iso,event_id,") and
          raw.split("\n", 1)[0].endswith("\r"), "all.csv: header row, CRLF line ends")
    parsed = dict(from_csv(r, False) for r in rows)
    byk = {c[:3]: (c, e) for c, e in parsed.items()}
    check(len(rows) == n and set(byk) == want, "all.csv: the %d events" % n)
    bad = [k for k in want & set(byk) if byk[k][1] != pub[k] or byk[k][0][3] != stamps[k] or
           byk[k][0][4] != iso(stamps[k])]
    check(not bad, "all.csv: every column as published (csv module)",
          bad and (byk[bad[0]], pub[bad[0]]))
    q = "SELECT count(*) FROM read_csv(?)"
    check(con.execute(q, [d + "/all.csv"]).fetchone()[0] == n, "duckdb read_csv: %d rows" % n)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                             "read_csv(?))", [d + "/all.csv"]).fetchall())
    check(types["offset"] == "BIGINT" and types["cpu_percent"] == "DOUBLE" and
          types["mem_total"] == "BIGINT" and types["timestamp"] == "BIGINT",
          "duckdb read_csv: column types", types)
    sql = ("SELECT node_id, hostname, labels, cpu_percent, load1, mem_total, sensors, cluster "
           "FROM read_csv(?, allow_quoted_nulls=false) ORDER BY node_id, seq")
    got = con.execute(sql, [d + "/all.csv"]).fetchall()
    expect = sorted(((e["node_id"], e["seq"]), i, e) for i, e in enumerate(pub.values()))
    exp_rows = [(e["node_id"], e["hostname"], json.dumps(e["labels"], ensure_ascii=False,
                                                         separators=(",", ":")),
                 e["usage"] and e["usage"]["cpu_percent"], e["usage"] and e["usage"]["load1"],
                 e["usage"] and e["usage"]["mem_total"],
                 e["usage"] and json.dumps(e["usage"]["sensors"], separators=(",", ":")),
                 e["cluster"]) for _, _, e in expect]
    check(got == exp_rows, "duckdb read_csv: quoted commas, quotes, CR/LF, unicode, spaces, "
          "empty strings, exact doubles and 2^53+1", [(a, b) for a, b in zip(got, exp_rows)
                                                     if a != b][:2])

    # --since MID (JSON lines) and --until MID (CSV): the two batches.
    b1 = {k for k in pub if batch[k] == 1}
    b2 = want - b1
    got = set(con.execute("SELECT _topic, _partition, _offset FROM read_json(?, "
                          "format='newline_delimited')", [d + "/since.jsonl"]).fetchall())
    check(got == b2, "--since MID: exactly the second batch (%d events)" % len(b2), got)
    got = set(con.execute("SELECT topic, \"partition\", \"offset\" FROM read_csv(?)",
                          [d + "/until.csv"]).fetchall())
    check(got == b1, "--until MID: exactly the first batch (%d events)" % len(b1), got)
    _, meta, _, recs = read_avro(d + "/window.avro")
    rng = json.loads(meta["seerlog.range"])
    check({(r["topic"], r["partition"], r["offset"]) for r in recs} == b2 and
          rng["since_ms"] == mid and rng["until_ms"] == mid + 3600000,
          "--since MID --until MID+1h (avro): the second batch, the range in seerlog.range", rng)


# ---- state ----

def check_state(d, want_hash):
    pub, _ = published(d)
    with open(d + "/state-list.jsonl", encoding="utf-8") as f:
        states = [json.loads(x) for x in f]
    ids = [s["node_id"] for s in states]
    latest = {}
    for k, e in pub.items():
        cur = latest.get(e["node_id"])
        if cur is None or (e["incarnation"], e["seq"]) > (cur[1]["incarnation"], cur[1]["seq"]):
            latest[e["node_id"]] = (k, e)
    check(sorted(latest) == ids and [latest[i][1] for i in ids] == states,
          "the store holds each node's latest published event (%d nodes)" % len(ids))

    schema, meta, codec, recs = read_avro(d + "/state.avro")
    check(schema["name"] in ("seerlog.NodeStateEvent", "NodeStateEvent") and codec == "deflate",
          "state.avro: NodeStateEvent records, deflate", (schema["name"], codec))
    check([event_fields(r) for r in recs] == states, "state.avro: the store's states, in order")
    check(meta["seerlog.hash"] == want_hash and meta["seerlog.nodes"] == str(len(states)),
          "state.avro: seerlog.hash and seerlog.nodes are the store's",
          (meta["seerlog.hash"], meta["seerlog.nodes"]))
    offs = {(o["topic"], o["partition"]): o["offset"] for o in json.loads(meta["seerlog.offsets"])}
    check(all(offs.get(k[:2], -1) > k[2] for k in pub),
          "state.avro: seerlog.offsets past every published record", offs)

    with open(d + "/state.jsonl", encoding="utf-8") as f:
        lines = [json.loads(x) for x in f]
    check([event_fields(x) for x in lines] == states, "state.jsonl: the store's states, in order")
    check(all([x["_source_topic"], x["_source_partition"], x["_source_offset"]] ==
              list(latest[x["node_id"]][0]) for x in lines),
          "state.jsonl: _source_* name the record each state was read from")

    raw, rows = csv_rows(d + "/state.csv")
    check(raw.startswith("source_topic,source_partition,source_offset,event_id,"),
          "state.csv: header row")
    parsed = [from_csv(r, True) for r in rows]
    check([e for _, e in parsed] == states and
          all(c == latest[e["node_id"]][0] for c, e in parsed),
          "state.csv: the store's states and sources (csv module)")
    con = duckdb.connect()
    got = [r[0] for r in con.execute("SELECT node_id FROM read_csv(?)",
                                     [d + "/state.csv"]).fetchall()]
    check(got == ids, "duckdb read_csv of state.csv: %d nodes in id order" % len(ids), got)


def check_empty(d):
    schema, meta, _, recs = read_avro(d + "/empty.avro")
    check(recs == [] and schema["name"].endswith("ExportedEvent"),
          "empty range: a valid Avro file with no records")
    with open(d + "/empty.csv", newline="") as f:
        check(f.read().count("\n") == 1, "empty range: CSV with the header row only")
    con = duckdb.connect()
    check(con.execute("SELECT count(*) FROM read_csv(?)", [d + "/empty.csv"]).fetchone()[0] == 0,
          "empty range: duckdb reads the CSV, 0 rows")


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(*sys.argv[2:5])
        return 0
    if cmd == "events":
        check_events(sys.argv[2], int(sys.argv[3]))
    elif cmd == "state":
        check_state(sys.argv[2], sys.argv[3])
    elif cmd == "empty":
        check_empty(sys.argv[2])
    else:
        sys.exit("unknown command " + cmd)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
