#!/usr/bin/env python3
"""Interoperability of seerlog with Confluent's own Python client (confluent-kafka-python).

Starts our registry (`seerlog registry`, on a free port, over its own `_schemas` topic on the
test broker) and checks, with confluent_kafka.schema_registry against the real broker:
  a) a schema registered from Python is served back by us: by id, lookup, versions, latest;
  b) NodeStateEvents encoded by our C code (`seerlog publish --auto-register`) are decoded by
     Python's AvroDeserializer;
  c) events serialised by Python's AvroSerializer (auto-register, TopicNameStrategy) are decoded
     by our C decoder (`seerlog tail --registry`);
  d) a Python-side evolved schema (an added optional field, a new status symbol) passes our
     BACKWARD check, and its records decode in `seerlog tail` (unknown symbol -> "unknown", the
     added field ignored); an incompatible one is refused with 409.
Prints one line per check and "N passed, N failed" last; exits 1 if any check failed. Always
stops the registry it started.

Run by test-registry-interop.sh with the virtualenv of scripts/python-env. Environment (set by
CTest): SEERLOG_TEST_KAFKA_FILE (or SEERLOG_TEST_BOOTSTRAP), SEERLOG_SOURCE_DIR,
SEERLOG_BINARY_DIR.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

SOURCE_DIR = os.environ["SEERLOG_SOURCE_DIR"]
SEERLOG = os.path.join(os.environ["SEERLOG_BINARY_DIR"], "cmd", "seerlog")
BOOTSTRAP = os.environ.get("SEERLOG_TEST_BOOTSTRAP") or open(
    os.environ["SEERLOG_TEST_KAFKA_FILE"]).read().strip()
UNIQUE = "%d-%d" % (os.getpid(), time.time_ns() // 1000000)
NODE_STATE = open(os.path.join(SOURCE_DIR, "schemas", "node_state.avsc")).read()
STARTUP_TIMEOUT_S = 60
CONSUME_TIMEOUT_S = 60

passed = 0
failed = 0


def check(name, fn):
    """Runs one check: fn() returns normally (ok) or raises (FAIL, with the reason)."""
    global passed, failed
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        failed += 1
        print("FAIL %s" % name)
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        for line in detail.splitlines()[:12]:
            print("     " + line)
        sys.stdout.flush()
        return False
    passed += 1
    print("ok   %s" % name)
    sys.stdout.flush()
    return True


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, json.loads(r.read().decode())


class Registry:
    """Our registry in a child process, over a topic and group of its own."""

    def __init__(self, tmp):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmp, "registry.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [SEERLOG, "registry", "--listen", "127.0.0.1:%d" % self.port,
             "--bootstrap", BOOTSTRAP,
             "-X", "registry.topic=_schemas_interop_%s" % UNIQUE,
             "-X", "registry.group.id=seerlog-registry-interop-%s" % UNIQUE],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("seerlog registry exited with %d: %s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                status, body = http_get(self.url + "/", timeout=2)
                if status == 200 and body == {}:
                    return
                last = "GET / answered %d %r" % (status, body)
            except Exception as e:  # noqa: BLE001 - not up yet
                last = str(e)
            time.sleep(0.2)
        raise AssertionError("registry not ready after %d s (%s): %s"
                             % (STARTUP_TIMEOUT_S, last, self.log_tail()))

    def log_tail(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return " | ".join(f.read().splitlines()[-10:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def seerlog(*args, stdin=None, timeout=90):
    """Runs the seerlog binary; returns (exit code, stdout, stderr)."""
    p = subprocess.run([SEERLOG, *args], input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def consume(topic, count):
    """The first @count records of @topic, read with a Python consumer from the beginning."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "interop-%s-%s" % (topic, UNIQUE),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    msgs = []
    try:
        c.subscribe([topic])
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while len(msgs) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise KafkaException(m.error())
            msgs.append(m)
    finally:
        c.close()
    expect(len(msgs) == count, "read %d records of %s, want %d" % (len(msgs), topic, count))
    return sorted(msgs, key=lambda m: (m.partition(), m.offset()))


def produce(topic, values, serializer):
    """Produces dicts serialised by @serializer, keyed by node_id; waits for every report."""
    p = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    errors = []
    for v in values:
        ctx = SerializationContext(topic, MessageField.VALUE)
        p.produce(topic, key=v["node_id"].encode(), value=serializer(v, ctx),
                  on_delivery=lambda err, msg: err and errors.append(err))
    left = p.flush(30)
    expect(left == 0 and not errors, "produce to %s: %d not delivered, errors %r"
           % (topic, left, errors))


def tail(topic, count, registry_url):
    """`seerlog tail` of @topic: the JSON objects it printed, and its stderr."""
    rc, out, err = seerlog("tail", "--bootstrap", BOOTSTRAP, "--registry", registry_url,
                           "--topic", topic, "--from-beginning", "--count", str(count),
                           "--timeout-ms", str(CONSUME_TIMEOUT_S * 1000))
    expect(rc == 0, "seerlog tail exit %d: %s" % (rc, err))
    events = [json.loads(line) for line in out.splitlines()]
    expect(len(events) == count, "tail printed %d events, want %d; stderr: %s"
           % (len(events), count, err))
    return events, err


def wire_id(value):
    expect(len(value) >= 5 and value[0] == 0, "not the Confluent wire format: %r" % value[:8])
    return int.from_bytes(value[1:5], "big")


def compact(text):
    return json.dumps(json.loads(text), separators=(",", ":"))


def node_state_v2():
    """NodeStateEvent evolved on the Python side: a new optional field with a default, and a
    new status symbol (the enum has a default, so older readers map it to "unknown")."""
    s = json.loads(NODE_STATE)
    for f in s["fields"]:
        if f["name"] == "status":
            f["type"]["symbols"].append("retired")
    s["fields"].append({"name": "zone", "type": "string", "default": "",
                        "doc": "Availability zone (v2)."})
    return json.dumps(s)


def python_event(i, **over):
    """A NodeStateEvent as the Avro Python serialisers take it."""
    e = {
        "event_id": str(uuid.uuid4()), "node_id": "py-%d" % i, "node_type": "gateway",
        "region": "us-east", "cluster": "c%d" % i, "incarnation": 1700000000000 + i, "seq": i,
        "event_time": 1700000000500 + i, "kind": ["join", "heartbeat", "usage"][i % 3],
        "status": ["up", "degraded", "draining"][i % 3], "hostname": "host-%d" % i,
        "addresses": ["10.1.0.%d" % i, "[fd00::%d]:7000" % i],
        "services": [{"name": "api", "meta": {"port": "80%02d" % i}}],
        "usage": None if i % 2 == 0 else {
            "cpu_percent": 12.5 * i, "cpu_count": 4 + i, "load1": 0.5, "load5": 0.25,
            "load15": 0.125, "mem_total": 1 << 34, "mem_used": 1 << 33, "mem_available": 1 << 33,
            "disk_total": 1 << 40, "disk_used": 1 << 39, "sensors": {"temp_c": 40.5 + i}},
        "labels": {"rack": "r%d" % i, "tier": "edge"}, "agent_version": "py-interop",
        "source": "bridge",
    }
    e.update(over)
    return e


def expect_same_event(got, want, what):
    """A `seerlog tail` JSON event against the dict Python serialised."""
    for k, v in want.items():
        expect(got.get(k) == v, "%s: %s is %r, want %r" % (what, k, got.get(k), v))


def main():
    sr = None
    with tempfile.TemporaryDirectory(prefix="seerlog-interop.") as tmp:
        registry = Registry(tmp)
        try:
            if not check("seerlog registry starts and answers GET /", registry.wait_ready):
                return
            sr = SchemaRegistryClient({"url": registry.url})
            run_checks(sr, registry)
        finally:
            registry.stop()
            if failed:
                print("registry log (last lines): %s" % registry.log_tail())


def run_checks(sr, registry):
    url = registry.url
    state = {}

    # --- a) a schema registered from Python is served by us ---
    subject_a = "interop-a-%s" % UNIQUE
    schema_a_text = compact(json.dumps({
        "type": "record", "name": "Probe", "namespace": "interop.python",
        "fields": [{"name": "x", "type": "long"},
                   {"name": "tag", "type": "string", "default": ""}]}))
    schema_a = Schema(schema_a_text, "AVRO")

    def a_register():
        state["id_a"] = sr.register_schema(subject_a, schema_a)
        expect(isinstance(state["id_a"], int) and state["id_a"] >= 1,
               "register_schema returned %r" % state["id_a"])
        expect(sr.register_schema(subject_a, schema_a) == state["id_a"],
               "registering again gave another id")

    def a_get_by_id():
        # A fresh client: nothing cached on the Python side.
        fresh = SchemaRegistryClient({"url": url})
        got = fresh.get_schema(state["id_a"])
        expect(got.schema_type in (None, "AVRO"), "schema_type %r" % got.schema_type)
        expect(compact(got.schema_str) == schema_a_text,
               "text by id: %r, want %r" % (got.schema_str, schema_a_text))
        status, body = http_get("%s/schemas/ids/%d" % (url, state["id_a"]))
        expect(status == 200 and compact(body["schema"]) == schema_a_text, "raw GET: %r" % body)

    def a_lookup():
        fresh = SchemaRegistryClient({"url": url})
        rs = fresh.lookup_schema(subject_a, schema_a)
        expect((rs.schema_id, rs.subject, rs.version) == (state["id_a"], subject_a, 1),
               "lookup: id %r subject %r version %r" % (rs.schema_id, rs.subject, rs.version))
        expect(compact(rs.schema.schema_str) == schema_a_text, "lookup text %r"
               % rs.schema.schema_str)

    def a_versions():
        fresh = SchemaRegistryClient({"url": url})
        expect(fresh.get_versions(subject_a) == [1], "versions %r" % fresh.get_versions(subject_a))
        latest = fresh.get_latest_version(subject_a)
        expect((latest.schema_id, latest.version) == (state["id_a"], 1),
               "latest: id %r version %r" % (latest.schema_id, latest.version))
        v1 = fresh.get_version(subject_a, 1)
        expect(v1.schema_id == state["id_a"] and compact(v1.schema.schema_str) == schema_a_text,
               "version 1: %r" % v1)
        expect(subject_a in fresh.get_subjects(), "subjects lack %s" % subject_a)

    def a_same_schema_other_subject():
        other = "interop-a2/%s" % UNIQUE  # a '/' in the subject: percent-encoded by Python
        expect(sr.register_schema(other, schema_a) == state["id_a"],
               "the same schema got another id under another subject")
        fresh = SchemaRegistryClient({"url": url})
        expect(fresh.get_versions(other) == [1], "versions of %s" % other)

    def a_errors():
        fresh = SchemaRegistryClient({"url": url})
        try:
            fresh.get_latest_version("interop-none-%s" % UNIQUE)
        except SchemaRegistryError as e:
            expect((e.http_status_code, e.error_code) == (404, 40401),
                   "unknown subject: HTTP %r error_code %r" % (e.http_status_code, e.error_code))
        else:
            raise AssertionError("an unknown subject did not raise")
        try:
            fresh.register_schema(subject_a, Schema('{"type":"record","name":"Bad"', "AVRO"))
        except SchemaRegistryError as e:
            expect(e.http_status_code == 422 and e.error_code in (42201, 422),
                   "invalid schema: HTTP %r error_code %r" % (e.http_status_code, e.error_code))
        else:
            raise AssertionError("an invalid schema was registered")

    check("a) Python register_schema returns an id, idempotently", a_register)
    if "id_a" in state:
        check("a) GET /schemas/ids/{id} serves the text Python registered", a_get_by_id)
        check("a) lookup_schema finds it with id and version 1", a_lookup)
        check("a) get_versions, get_latest_version, get_version, get_subjects", a_versions)
        check("a) the same schema under another subject (with '/') reuses the id",
              a_same_schema_other_subject)
    check("a) errors reach Python with Confluent's status and error_code", a_errors)

    # --- b) events encoded by our C code, decoded by AvroDeserializer ---
    topic_b = "seerlog.interop.b.%s" % UNIQUE

    def b_publish():
        common = ["publish", "--bootstrap", BOOTSTRAP, "--registry", url, "--topic", topic_b,
                  "--auto-register"]
        rc, out, err = seerlog(*common, "--node", "c-1", "--type", "seer", "--region", "eu-west",
                               "--kind", "join", "--status", "up", "--seq", "0",
                               "--incarnation", "1700000000000", "--label", "rack=r1",
                               "--address", "10.9.0.1", "--hostname", "seer-1")
        expect(rc == 0 and out.strip() == "%s/0@0" % topic_b, "publish 1: rc %d out %r err %r"
               % (rc, out, err))
        event = {"node_id": "c-2", "node_type": "gateway", "region": "us-east",
                 "status": "degraded", "incarnation": 1700000000001, "seq": 3,
                 "kind": "usage", "cluster": "k1",
                 "services": [{"name": "api", "meta": {"port": "8080"}}],
                 "usage": {"cpu_percent": 12.5, "cpu_count": 8, "load1": 0.5, "load5": 0.25,
                           "load15": 0.125, "mem_total": 1024, "mem_used": 512,
                           "mem_available": 512, "disk_total": 2048, "disk_used": 1024,
                           "sensors": {"temp_c": 55.5}}}
        rc, out, err = seerlog(*common, "--json", stdin=json.dumps(event))
        expect(rc == 0 and out.strip() == "%s/0@1" % topic_b, "publish 2: rc %d out %r err %r"
               % (rc, out, err))
        rs = sr.lookup_schema(topic_b + "-value", Schema(NODE_STATE, "AVRO"))
        state["id_b"] = rs.schema_id

    def b_deserialize():
        msgs = consume(topic_b, 2)
        deser = AvroDeserializer(SchemaRegistryClient({"url": url}))
        vals = []
        for m in msgs:
            expect(wire_id(m.value()) == state["id_b"], "record carries id %d, registry says %d"
                   % (wire_id(m.value()), state["id_b"]))
            vals.append(deser(m.value(), SerializationContext(topic_b, MessageField.VALUE)))
        a, b = vals
        expect((a["node_id"], a["node_type"], a["region"], a["kind"], a["status"]) ==
               ("c-1", "seer", "eu-west", "join", "up"), "event 1: %r" % a)
        expect((a["seq"], a["incarnation"], a["labels"], a["addresses"], a["usage"]) ==
               (0, 1700000000000, {"rack": "r1"}, ["10.9.0.1"], None), "event 1: %r" % a)
        expect(a["hostname"] == "seer-1" and a["source"] == "agent" and a["cluster"] == "",
               "event 1: %r" % a)
        expect(uuid.UUID(str(a["event_id"])).version == 4, "event_id %r" % a["event_id"])
        expect(isinstance(a["event_time"], datetime.datetime), "event_time %r" % a["event_time"])
        now = datetime.datetime.now(datetime.timezone.utc)
        expect(abs((now - a["event_time"]).total_seconds()) < 600,
               "event_time %r is not about now" % a["event_time"])
        expect((b["node_id"], b["status"], b["kind"], b["seq"], b["cluster"]) ==
               ("c-2", "degraded", "usage", 3, "k1"), "event 2: %r" % b)
        expect(b["services"] == [{"name": "api", "meta": {"port": "8080"}}], "services %r"
               % b["services"])
        u = b["usage"]
        expect(u["cpu_count"] == 8 and u["cpu_percent"] == 12.5 and u["load15"] == 0.125 and
               u["mem_total"] == 1024 and u["sensors"] == {"temp_c": 55.5}, "usage %r" % u)

    if check("b) seerlog publish --auto-register writes the registry's id", b_publish):
        check("b) AvroDeserializer decodes what our C encoder wrote", b_deserialize)

    # --- c) events serialised by AvroSerializer, decoded by seerlog tail ---
    topic_c = "seerlog.interop.c.%s" % UNIQUE
    c_events = [python_event(i) for i in range(3)]

    def c_produce():
        ser = AvroSerializer(SchemaRegistryClient({"url": url}), NODE_STATE,
                             conf={"auto.register.schemas": True})
        produce(topic_c, c_events, ser)
        versions = sr.get_versions(topic_c + "-value")
        expect(versions == [1], "AvroSerializer registered versions %r" % versions)

    def c_tail():
        events, _ = tail(topic_c, len(c_events), url)
        for got, want in zip(sorted(events, key=lambda e: e["seq"]), c_events):
            expect_same_event(got, want, "event %s" % want["node_id"])

    if check("c) AvroSerializer auto-registers under TOPIC-value and produces", c_produce):
        check("c) seerlog tail --registry decodes what AvroSerializer wrote", c_tail)

    # --- d) a schema evolved in Python: BACKWARD-compatible, readable by our C decoder ---
    subject_c = topic_c + "-value"
    v2_text = node_state_v2()
    d_events = [python_event(10, status="retired", zone="zone-a"),
                python_event(11, status="up", zone="zone-b")]

    def d_compat():
        sr.set_compatibility(subject_c, "BACKWARD")
        level = sr.get_compatibility(subject_c)
        expect(level == "BACKWARD", "compatibility %r" % level)
        expect(sr.test_compatibility(subject_c, Schema(v2_text, "AVRO")) is True,
               "v2 judged incompatible")
        bad = json.loads(v2_text)
        bad["fields"].append({"name": "required_new", "type": "string"})  # no default
        expect(sr.test_compatibility(subject_c, Schema(json.dumps(bad), "AVRO")) is False,
               "a field added without a default judged compatible")
        try:
            sr.register_schema(subject_c, Schema(json.dumps(bad), "AVRO"))
        except SchemaRegistryError as e:
            expect(e.http_status_code == 409, "incompatible: HTTP %r error_code %r"
                   % (e.http_status_code, e.error_code))
        else:
            raise AssertionError("an incompatible schema was registered")

    def d_register_and_produce():
        state["id_v2"] = sr.register_schema(subject_c, Schema(v2_text, "AVRO"))
        expect(sr.get_versions(subject_c) == [1, 2], "versions %r" % sr.get_versions(subject_c))
        ser = AvroSerializer(SchemaRegistryClient({"url": url}), v2_text,
                             conf={"auto.register.schemas": True})
        produce(topic_c, d_events, ser)

    def d_tail():
        events, err = tail(topic_c, len(c_events) + len(d_events), url)
        v2 = sorted((e for e in events if e["seq"] >= 10), key=lambda e: e["seq"])
        expect(len(v2) == 2, "tail printed %d v2 events: %r; stderr %s" % (len(v2), events, err))
        for got, want in zip(v2, d_events):
            want = dict(want)
            del want["zone"]
            if want["status"] == "retired":
                want["status"] = "unknown"
            expect_same_event(got, want, "v2 event %s" % want["node_id"])
            expect("zone" not in got, "the v2-only field leaked into %r" % got)

    if check("d) v2 (new optional field, new enum symbol) passes BACKWARD; v3 does not",
             d_compat):
        if check("d) v2 registers as version 2 and AvroSerializer writes with it",
                 d_register_and_produce):
            check("d) seerlog tail decodes v2 records: unknown symbol, added field ignored",
                  d_tail)


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - a crash of the harness is one more failure
        failed += 1
        traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
