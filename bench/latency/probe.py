"""Propagation latency probe (bench/latency/run): publishes status changes of probe nodes and
times each until it is visible on the projector's watch stream (SSE) and through
GET /v1/nodes/{id}.

  probe.py BOOTSTRAP API_URL TOPIC SCHEMA_AVSC SCHEMA_ID PROBES_PER_S SECONDS OUT_JSON

t0 is taken just before the record is handed to the producer (confluent-kafka, librdkafka
linger.ms=5, acks=all, idempotent: what seerlog's own producer uses). "watch" is when the state
event carrying that (node, seq) arrives on /v1/watch; "api" is when GET /v1/nodes/{id} first
shows that seq or a later one (a newer change of the node in the same batch supersedes it; the
same holds on the watch stream) (polled every 1 ms by a thread of its own per probe, so each poll is one
request on a kept-alive connection).
"""
import io, json, socket, struct, sys, threading, time, uuid
import fastavro, requests
from confluent_kafka import Producer

bootstrap, api, topic, avsc, schema_id, rate, seconds, out = sys.argv[1:9]
schema_id, rate, seconds = int(schema_id), float(rate), float(seconds)
schema = fastavro.parse_schema(json.load(open(avsc)))
host, port = api.split("//")[1].split(":")
port = int(port)

sent = {}        # (node, seq) -> t0
seen_watch = {}  # (node, seq) -> t
seen_api = {}
lock = threading.Lock()
stop = threading.Event()

def watch():
    s = socket.create_connection((host, port))
    s.sendall(b"GET /v1/watch HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    while f.readline() not in (b"\r\n", b""):
        pass
    while not stop.is_set():
        line = f.readline()
        if not line:
            return
        if line.startswith(b"data: {\"node_id\":\"probe-"):
            t = time.time()
            d = json.loads(line[6:])
            if "state" in d:
                # A state with seq N shows every change of the node up to N (within a batch
                # the projector stores only each node's newest event).
                node, seq = d["node_id"], d["state"]["seq"]
                with lock:
                    for (n2, s2) in list(sent):
                        if n2 == node and s2 <= seq:
                            seen_watch.setdefault((n2, s2), t)

def poll(node, seq):
    sess = requests.Session()
    deadline = time.time() + 30
    while time.time() < deadline:
        r = sess.get(f"{api}/v1/nodes/{node}", timeout=10)
        if r.status_code == 200 and r.json()["state"]["seq"] >= seq:
            with lock:
                seen_api[(node, seq)] = time.time()
            return
        time.sleep(0.001)

threading.Thread(target=watch, daemon=True).start()
time.sleep(0.5)
p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all",
              "enable.idempotence": True})
inc = int(time.time() * 1000)
pollers, n = [], 0
statuses = ["up", "degraded", "down"]
nodes = 20  # each probe node changes at most rate/20 times a second
t_end = time.time() + seconds
next_t = time.time()
while time.time() < t_end:
    node = f"probe-{n % nodes}"
    seq = n // nodes + 1
    rec = {"event_id": str(uuid.uuid4()), "node_id": node, "node_type": "probe",
           "region": "bench", "incarnation": inc, "seq": seq,
           "event_time": int(time.time() * 1000), "kind": "status_change",
           "status": statuses[seq % 3]}
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, schema, rec)
    t0 = time.time()
    p.produce(topic, key=node, value=buf.getvalue())
    p.poll(0)
    with lock:
        sent[(node, seq)] = t0
    th = threading.Thread(target=poll, args=(node, seq), daemon=True)
    th.start()
    pollers.append(th)
    n += 1
    next_t += 1.0 / rate
    time.sleep(max(0.0, next_t - time.time()))
p.flush(30)
for th in pollers:
    th.join(35)
time.sleep(1)
stop.set()

def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = min(len(xs) - 1, max(0, int(round(q / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]

res = {"probes": len(sent)}
for name, seen in (("watch", seen_watch), ("api", seen_api)):
    lat = [(seen[k] - t0) * 1000 for k, t0 in sent.items() if k in seen]
    res[name] = {"seen": len(lat), "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                 "p999_ms": pct(lat, 99.9), "max_ms": max(lat) if lat else None}
json.dump(res, open(out, "w"))
print(json.dumps(res))
