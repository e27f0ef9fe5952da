#!/usr/bin/env python3
"""`seerlog registry`, one instance: every endpoint of the REST contract with Confluent's bodies
and error codes (../shared/notes/schema-registry.md, docs/schema-registry.md), then a restart
that must rebuild exactly the same state from the topic.

Own topic (_schemas_test_api_<unique>) and group; registries on free ports; always stopped.
Prints one line per check and "N passed, N failed" last.
"""

import json
import subprocess
import urllib.parse

from test_registry_lib import (BOOTSTRAP, CT, Registry, check, record_schema, run_checks,
                               unique)

Q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731

V1 = record_schema("Api", [{"name": "a", "type": "int"}], "seerlog.test")
V2 = record_schema("Api", [{"name": "a", "type": "int"},
                           {"name": "b", "type": "string", "default": "x"}], "seerlog.test")
# Adds a field without a default: not BACKWARD compatible with V2.
BAD = record_schema("Api", [{"name": "a", "type": "int"},
                            {"name": "b", "type": "string", "default": "x"},
                            {"name": "c", "type": "long"}], "seerlog.test")
OTHER = record_schema("Other", [{"name": "z", "type": "boolean"}])


def snapshot(reg):
    """Everything the API shows, to compare two registries (or one before/after a restart)."""
    snap = {}
    subjects = reg.request("GET", "/subjects?deleted=true").json
    snap["subjects"] = subjects
    snap["live_subjects"] = reg.request("GET", "/subjects").json
    ids = set()
    for s in subjects:
        versions = reg.request("GET", "/subjects/%s/versions?deleted=true" % Q(s)).json
        snap["versions " + s] = versions
        for v in versions:
            body = reg.request("GET", "/subjects/%s/versions/%d?deleted=true" % (Q(s), v)).json
            snap["version %s %d" % (s, v)] = body
            ids.add(body["id"])
        snap["config " + s] = reg.request("GET", "/config/%s" % Q(s)).raw
        snap["mode " + s] = reg.request("GET", "/mode/%s" % Q(s)).raw
    for i in sorted(ids):
        snap["id %d" % i] = reg.request("GET", "/schemas/ids/%d" % i).json
        snap["id %d versions" % i] = reg.request("GET", "/schemas/ids/%d/versions" % i).json
    snap["config"] = reg.request("GET", "/config").json
    snap["mode"] = reg.request("GET", "/mode").json
    return snap, ids


def main():
    topic = "_schemas_test_" + unique("api")
    group = unique("test-registry-api")
    reg = Registry(topic, group, name="api").start()
    r = reg.request

    a = r("GET", "/")
    check("GET / -> 200 {}", a.status == 200 and a.json == {}, a)
    check("answers carry the registry content type",
          a.headers.get("Content-Type") == CT, a.headers.get("Content-Type"))
    a = r("GET", "/schemas/types")
    check("GET /schemas/types -> [\"AVRO\"]", a.status == 200 and a.json == ["AVRO"], a)
    a = r("GET", "/subjects")
    check("GET /subjects on an empty topic -> []", a.status == 200 and a.json == [], a)
    a = r("GET", "/config")
    check("GET /config -> BACKWARD", a.json == {"compatibilityLevel": "BACKWARD"}, a)
    a = r("GET", "/mode")
    check("GET /mode -> READWRITE", a.json == {"mode": "READWRITE"}, a)
    a = r("GET", "/associations/resources/-/topic?resourceType=topic&associationType=value"
                 "&offset=0&limit=-1")
    check("GET /associations/... -> 200 []", a.status == 200 and a.json == [], a)

    # Register, idempotently, with one global id per schema.
    a = reg.retry("POST", "/subjects/api-value/versions", {"schema": V1})
    check("register v1 -> {\"id\": N}", a.status == 200 and isinstance(a.code, type(None)) and
          set(a.json) == {"id"} and a.json["id"] >= 1, a)
    id1 = a.json["id"]
    a = r("POST", "/subjects/api-value/versions", {"schema": V1})
    check("register v1 again -> same id", a.json == {"id": id1}, a)
    spaced = json.dumps(json.loads(V1), indent=2)
    a = r("POST", "/subjects/api-value/versions", {"schema": spaced, "schemaType": "AVRO",
                                                    "references": []})
    check("same schema with other whitespace -> same id", a.json == {"id": id1}, a)
    a = r("GET", "/subjects/api-value/versions")
    check("still one version", a.json == [1], a)

    slash = "other/sub ü"
    a = r("POST", "/subjects/%s/versions" % Q(slash), {"schema": V1})
    check("same schema under a subject with '/' (%2F) -> same global id",
          a.json == {"id": id1}, a)
    a = r("GET", "/subjects")
    check("GET /subjects lists both, sorted, '/' kept", a.json == ["api-value", slash], a)
    a = r("GET", "/subjects/%s/versions/1" % Q(slash))
    check("GET the %2F subject's version", a.status == 200 and a.json["subject"] == slash and
          a.json["id"] == id1, a)

    a = r("POST", "/subjects/api-value/versions", {"schema": V2})
    check("register compatible v2 -> a new id", a.status == 200 and a.json["id"] != id1, a)
    id2 = a.json["id"]
    a = r("POST", "/subjects/api-value/versions", {"schema": BAD})
    check("register an incompatible schema -> 409 / 409",
          a.status == 409 and a.code in (409, 40901) and "incompatible" in a.json["message"], a)

    a = r("GET", "/subjects/api-value/versions")
    check("GET versions -> [1,2]", a.json == [1, 2], a)
    for v in ("latest", "-1", "2"):
        a = r("GET", "/subjects/api-value/versions/" + v)
        check("GET version %s -> v2 body" % v, a.status == 200 and a.json == {
            "subject": "api-value", "version": 2, "id": id2, "schema": V2}, a)
    a = r("GET", "/subjects/api-value/versions/1/schema")
    check("GET version 1 /schema -> the raw schema", a.status == 200 and a.raw == V1, a)
    a = r("GET", "/subjects/api-value/versions/latest/schema")
    check("GET version latest /schema", a.raw == V2, a)
    a = r("GET", "/subjects/api-value/versions/7")
    check("GET a missing version -> 40402", a.status == 404 and a.code == 40402, a)
    a = r("GET", "/subjects/nosuch/versions")
    check("GET versions of a missing subject -> 40401", a.status == 404 and a.code == 40401, a)
    a = r("GET", "/subjects/nosuch/versions/latest")
    check("GET latest of a missing subject -> 40401", a.status == 404 and a.code == 40401, a)

    # By id.
    a = r("GET", "/schemas/ids/%d" % id1)
    check("GET /schemas/ids/{id}", a.status == 200 and a.json == {"schema": V1}, a)
    a = r("GET", "/schemas/ids/%d?subject=%s" % (id1, Q("unrelated-subject")))
    check("?subject= of another subject does not make it 404", a.status == 200, a)
    a = r("GET", "/schemas/ids/%d?subject=api-value&fetchMaxId=false" % id2)
    check("?subject= of its own subject", a.status == 200 and a.json == {"schema": V2}, a)
    a = r("GET", "/schemas/ids/%d/versions" % id1)
    check("GET /schemas/ids/{id}/versions", a.json == [
        {"subject": "api-value", "version": 1}, {"subject": slash, "version": 1}], a)
    a = r("GET", "/schemas/ids/%d/subjects" % id1)
    check("GET /schemas/ids/{id}/subjects", a.json == ["api-value", slash], a)
    a = r("GET", "/schemas/ids/%d/schema" % id2)
    check("GET /schemas/ids/{id}/schema -> raw", a.raw == V2, a)
    a = r("GET", "/schemas/ids/%d" % (id2 + 100))
    check("unknown id -> 40403", a.status == 404 and a.code == 40403, a)

    # Lookup.
    a = r("POST", "/subjects/api-value", {"schema": V1})
    check("lookup v1 -> subject, version, id, schema", a.status == 200 and a.json == {
        "subject": "api-value", "version": 1, "id": id1, "schema": V1}, a)
    a = r("POST", "/subjects/api-value", {"schema": OTHER})
    check("lookup a schema not in the subject -> 40403", a.status == 404 and a.code == 40403, a)
    a = r("POST", "/subjects/nosuch", {"schema": V1})
    check("lookup in a missing subject -> 40401", a.status == 404 and a.code == 40401, a)

    # Compatibility.
    path = "/compatibility/subjects/api-value/versions/latest"
    a = r("POST", path, {"schema": BAD})
    check("compatibility latest, incompatible -> false",
          a.status == 200 and a.json.get("is_compatible") is False, a)
    a = r("POST", path + "?verbose=true", {"schema": BAD})
    check("?verbose=true -> messages", a.json.get("is_compatible") is False and
          isinstance(a.json.get("messages"), list) and a.json["messages"], a)
    a = r("POST", path, {"schema": V2})
    check("compatibility latest, compatible -> true", a.json == {"is_compatible": True}, a)
    a = r("POST", "/compatibility/subjects/api-value/versions", {"schema": BAD})
    check("compatibility .../versions (all) -> false", a.json.get("is_compatible") is False, a)
    a = r("POST", "/compatibility/subjects/api-value/versions/1", {"schema": V2})
    check("compatibility with version 1 -> true", a.json.get("is_compatible") is True, a)
    a = r("POST", "/compatibility/subjects/nosuch/versions/latest", {"schema": V1})
    check("compatibility, no subject + latest -> true", a.json == {"is_compatible": True}, a)
    a = r("POST", "/compatibility/subjects/nosuch/versions/1", {"schema": V1})
    check("compatibility, no subject + version 1 -> 40401", a.code == 40401, a)
    a = r("POST", "/compatibility/subjects/api-value/versions/9", {"schema": V1})
    check("compatibility, missing version -> 40402", a.code == 40402, a)
    a = r("POST", "/compatibility/subjects/api-value/versions/abc", {"schema": V1})
    check("compatibility, invalid version -> 42202", a.status == 422 and a.code == 42202, a)

    # Config.
    a = r("GET", "/config/api-value")
    check("GET /config/{s} unset -> 40408", a.status == 404 and a.code == 40408, a)
    a = r("GET", "/config/api-value?defaultToGlobal=true")
    check("?defaultToGlobal=true -> the global level",
          a.json == {"compatibilityLevel": "BACKWARD"}, a)
    a = r("PUT", "/config/api-value", {"compatibility": "NONE"})
    check("PUT /config/{s} -> {compatibility}", a.status == 200 and
          a.json == {"compatibility": "NONE"}, a)
    a = r("GET", "/config/api-value")
    check("GET /config/{s} -> NONE", a.json == {"compatibilityLevel": "NONE"}, a)
    a = r("PUT", "/config/api-value", {"compatibility": "SIDEWAYS"})
    check("PUT an invalid level -> 42203", a.status == 422 and a.code == 42203, a)
    a = r("POST", "/subjects/api-value/versions", {"schema": BAD})
    check("under NONE the incompatible schema registers (v3)", a.status == 200, a)
    id3 = a.json.get("id") if a.json else None
    a = r("DELETE", "/config/api-value")
    check("DELETE /config/{s} -> the old level", a.json == {"compatibilityLevel": "NONE"}, a)
    a = r("GET", "/config/api-value")
    check("... and it is unset again -> 40408", a.code == 40408, a)
    a = r("DELETE", "/config/nosuch")
    check("DELETE /config/{s} without a level -> 40401", a.code == 40401, a)
    a = r("PUT", "/config", {"compatibility": "full"})
    check("PUT /config (case-insensitive) -> FULL", a.json == {"compatibility": "FULL"}, a)
    a = r("GET", "/config")
    check("GET /config -> FULL", a.json == {"compatibilityLevel": "FULL"}, a)
    r("PUT", "/config", {"compatibility": "BACKWARD"})

    # Mode.
    a = r("PUT", "/mode/api-value", {"mode": "READONLY"})
    check("PUT /mode/{s} READONLY", a.status == 200 and a.json == {"mode": "READONLY"}, a)
    a = r("POST", "/subjects/api-value/versions", {"schema": OTHER})
    check("READONLY refuses a registration -> 42205", a.status == 422 and a.code == 42205, a)
    a = r("DELETE", "/subjects/api-value/versions/1")
    check("READONLY refuses a deletion -> 42205", a.code == 42205, a)
    a = r("GET", "/mode/api-value")
    check("GET /mode/{s}", a.json == {"mode": "READONLY"}, a)
    a = r("GET", "/mode/nosuch")
    check("GET /mode/{s} unset -> 40409", a.status == 404 and a.code == 40409, a)
    a = r("GET", "/mode/nosuch?defaultToGlobal=true")
    check("GET /mode/{s}?defaultToGlobal=true", a.json == {"mode": "READWRITE"}, a)
    a = r("PUT", "/mode/api-value", {"mode": "SOMETIMES"})
    check("PUT an invalid mode -> 42204", a.status == 422 and a.code == 42204, a)
    a = r("DELETE", "/mode/api-value")
    check("DELETE /mode/{s} -> the old mode", a.json == {"mode": "READONLY"}, a)
    a = r("PUT", "/mode", {"mode": "READONLY"})
    check("PUT /mode READONLY (global)", a.json == {"mode": "READONLY"}, a)
    a = r("POST", "/subjects/fresh-value/versions", {"schema": OTHER})
    check("global READONLY refuses -> 42205", a.code == 42205, a)
    a = r("PUT", "/mode", {"mode": "READWRITE"})
    check("PUT /mode READWRITE", a.json == {"mode": "READWRITE"}, a)

    # Soft and permanent deletion of versions.
    a = r("DELETE", "/subjects/api-value/versions/1")
    check("soft-delete version 1 -> 1", a.status == 200 and a.json == 1, a)
    a = r("DELETE", "/subjects/api-value/versions/1")
    check("soft-delete it again -> 40406", a.status == 404 and a.code == 40406, a)
    a = r("GET", "/subjects/api-value/versions")
    check("versions without the deleted one", a.json == [2, 3], a)
    a = r("GET", "/subjects/api-value/versions?deleted=true")
    check("?deleted=true shows it", a.json == [1, 2, 3], a)
    a = r("GET", "/subjects/api-value/versions?deleted=True")
    check("?deleted=True (Python's spelling) too", a.json == [1, 2, 3], a)
    a = r("GET", "/subjects/api-value/versions/1")
    check("GET a soft-deleted version -> 40402", a.code == 40402, a)
    a = r("GET", "/subjects/api-value/versions/1?deleted=true")
    check("GET it with ?deleted=true -> 200", a.status == 200 and a.json["id"] == id1, a)
    a = r("POST", "/subjects/api-value?deleted=true", {"schema": V1})
    check("lookup with ?deleted=true finds the soft-deleted version",
          a.status == 200 and a.json["version"] == 1, a)
    a = r("POST", "/subjects/api-value", {"schema": V1})
    check("lookup without it does not -> 40403", a.code == 40403, a)
    a = r("DELETE", "/subjects/api-value/versions/2?permanent=true")
    check("permanent delete before soft -> 40407", a.status == 404 and a.code == 40407, a)
    a = r("DELETE", "/subjects/api-value/versions/1?permanent=true")
    check("permanent delete of the soft-deleted version -> 1", a.json == 1, a)
    a = r("GET", "/subjects/api-value/versions?deleted=true")
    check("it is gone even with ?deleted=true", a.json == [2, 3], a)
    a = r("GET", "/schemas/ids/%d" % id1)
    check("its id still serves (used by the other subject)", a.status == 200, a)

    # New version = highest ever used (soft-deleted included) + 1; compatibility vs live only.
    a = r("DELETE", "/subjects/api-value/versions/latest")
    check("soft-delete latest (v3) -> 3", a.json == 3, a)
    v4 = record_schema("Api", [{"name": "a", "type": "int"},
                               {"name": "b", "type": "string", "default": "x"},
                               {"name": "d", "type": "int", "default": 0}], "seerlog.test")
    a = r("POST", "/subjects/api-value/versions", {"schema": v4})
    check("register after deleting v3 (checked against live v2 only)", a.status == 200, a)
    a = r("GET", "/subjects/api-value/versions/latest")
    check("... becomes version 4, not 3", a.json and a.json["version"] == 4, a)
    a = r("POST", "/subjects/api-value/versions", {"schema": BAD})
    check("compatibility is checked against the live versions (v4 now) -> 409",
          a.status == 409, a)

    # Subject deletion.
    a = r("DELETE", "/subjects/%s?permanent=true" % Q(slash))
    check("permanent subject delete before soft -> 40405", a.code == 40405, a)
    a = r("DELETE", "/subjects/%s" % Q(slash))
    check("soft-delete a subject -> its versions", a.status == 200 and a.json == [1], a)
    a = r("DELETE", "/subjects/%s" % Q(slash))
    check("soft-delete it again -> 40404", a.status == 404 and a.code == 40404, a)
    a = r("GET", "/subjects")
    check("GET /subjects without it", slash not in a.json, a)
    a = r("GET", "/subjects?deleted=true")
    check("GET /subjects?deleted=true with it", slash in a.json, a)
    a = r("GET", "/subjects/%s/versions" % Q(slash))
    check("versions of a soft-deleted subject -> 40401", a.code == 40401, a)
    a = r("GET", "/schemas/ids/%d/subjects" % id1)
    check("/schemas/ids/{id}/subjects drops it", a.json == [], a)
    a = r("GET", "/schemas/ids/%d/subjects?deleted=true" % id1)
    check("... unless ?deleted=true", a.json == [slash], a)
    a = r("DELETE", "/subjects/%s?permanent=true" % Q(slash))
    check("permanent subject delete -> [1]", a.json == [1], a)
    a = r("GET", "/subjects?deleted=true")
    check("... gone even with ?deleted=true", slash not in a.json, a)
    a = r("GET", "/schemas/ids/%d" % id1)
    check("an id no version uses any more -> 40403", a.code == 40403, a)
    a = r("DELETE", "/subjects/nosuch")
    check("delete a missing subject -> 40401", a.code == 40401, a)
    a = r("DELETE", "/subjects/api-value/versions/99")
    check("delete a missing version -> 40402", a.code == 40402, a)

    # Register in a soft-deleted subject: the schema keeps its id, versions keep counting.
    a = r("POST", "/subjects/again-value/versions", {"schema": OTHER})
    other_id = a.json and a.json.get("id")
    r("DELETE", "/subjects/again-value")
    a = r("POST", "/subjects/again-value/versions", {"schema": OTHER})
    b = r("GET", "/subjects/again-value/versions?deleted=true")
    check("re-register into a soft-deleted subject -> same id, version 2",
          a.json == {"id": other_id} and b.json == [1, 2], (a, b))

    # normalize=true: an equivalent text (attributes reordered) is the same schema.
    norm = {"type": "record", "name": "Norm", "namespace": "n.s",
            "fields": [{"name": "f", "type": "int"}]}
    reordered = json.dumps({"fields": [{"type": "int", "name": "f"}], "namespace": "n.s",
                            "name": "Norm", "type": "record"})
    a = r("POST", "/subjects/norm-value/versions?normalize=true", {"schema": json.dumps(norm)})
    check("register with ?normalize=true", a.status == 200, a)
    nid = a.json and a.json.get("id")
    a = r("POST", "/subjects/norm-value?normalize=true", {"schema": reordered})
    check("lookup ?normalize=true finds the reordered text",
          a.status == 200 and a.json["id"] == nid, a)
    a = r("POST", "/subjects/norm-value/versions?normalize=true", {"schema": reordered})
    check("register ?normalize=true of the reordered text -> same id",
          a.json == {"id": nid}, a)

    # Tolerated and refused inputs.
    a = r("POST", "/subjects/api-value/versions?unknownParam=1&normalize=false",
          {"schema": V2, "somethingNew": {"x": 1}})
    check("unknown query parameters and body fields are ignored", a.json == {"id": id2}, a)
    a = r("POST", "/subjects/proto-value/versions", {"schema": "syntax = \"proto3\";",
                                                     "schemaType": "PROTOBUF"})
    check("schemaType PROTOBUF -> 42201 with a message",
          a.status == 422 and a.code == 42201 and "AVRO" in a.json["message"], a)
    a = r("POST", "/subjects/ref-value/versions", {"schema": V1, "references": [
        {"name": "x", "subject": "y", "version": 1}]})
    check("references -> 42201", a.code == 42201 and "reference" in a.json["message"], a)
    a = r("POST", "/subjects/bad-value/versions", {"schema": "{\"type\":\"nosuchtype\"}"})
    check("an invalid schema -> 42201", a.status == 422 and a.code == 42201, a)
    a = r("GET", "/subjects?subjectPrefix=again")
    check("?subjectPrefix=", a.json == ["again-value"], a)
    a = r("PATCH", "/subjects")
    check("an unsupported method -> 405", a.status == 405, a)
    a = r("GET", "/no/such/endpoint")
    check("an unknown endpoint -> 404", a.status == 404 and a.code == 404, a)

    # The records in the topic: Confluent's keys, byte for byte (compaction compares bytes).
    p = subprocess.run(["kcat", "-C", "-b", BOOTSTRAP, "-t", topic, "-e", "-q",
                        "-X", "isolation.level=read_committed", "-f", "%k\t%S\t%s\n"],
                       capture_output=True, timeout=60)
    records = [line.split("\t", 2) for line in p.stdout.decode().splitlines() if line]
    keys = [k for k, _, _ in records]
    want = ['{"keytype":"NOOP","magic":0}',
            '{"keytype":"SCHEMA","subject":"api-value","version":1,"magic":1}',
            '{"keytype":"SCHEMA","subject":"other/sub ü","version":1,"magic":1}',
            '{"keytype":"CONFIG","subject":"api-value","magic":0}',
            '{"keytype":"CONFIG","subject":null,"magic":0}',
            '{"keytype":"MODE","subject":"api-value","magic":0}',
            '{"keytype":"MODE","subject":null,"magic":0}',
            '{"keytype":"DELETE_SUBJECT","subject":"other/sub ü","magic":0}']
    check("the topic holds Confluent's keys, byte for byte",
          p.returncode == 0 and all(k in keys for k in want),
          [k for k in want if k not in keys] or p.stderr)
    values = {(k, v) for k, _, v in records}
    check("a SCHEMA value: subject, version, id, schema, deleted",
          ('{"keytype":"SCHEMA","subject":"api-value","version":2,"magic":1}',
           json.dumps({"subject": "api-value", "version": 2, "id": id2, "schema": V2,
                       "deleted": False}, separators=(",", ":"))) in values,
          [r for r in records if '"version":2' in r[0]])
    check("a soft delete rewrites the record with deleted:true",
          any(k.startswith('{"keytype":"SCHEMA","subject":"api-value","version":1,') and
              '"deleted":true' in v for k, _, v in records))
    check("a permanent delete writes a tombstone (no value)",
          any(k == '{"keytype":"SCHEMA","subject":"api-value","version":1,"magic":1}' and
              size == "-1" for k, size, _ in records), [r[:2] for r in records][:40])

    # Restart: the state is rebuilt from the topic, identically; ids are not reused.
    before, ids = snapshot(reg)
    rc = reg.stop()
    check("SIGTERM -> exit 0", rc == 0, "exit %r\n%s" % (rc, reg.logtext()))
    reg2 = Registry(topic, group, name="api-restart").start()
    after, ids2 = snapshot(reg2)
    diff = [k for k in set(before) | set(after) if before.get(k) != after.get(k)]
    check("a restarted registry rebuilds the same state from the topic", not diff,
          "\n".join("%s: %r != %r" % (k, before.get(k), after.get(k)) for k in diff[:10]))
    a = reg2.retry("POST", "/subjects/after-restart-value/versions", {"schema": record_schema(
        "AfterRestart", [{"name": "q", "type": "int"}])})
    check("after the restart a new schema gets a new, higher id",
          a.status == 200 and a.json["id"] > max(ids | {other_id or 0, nid or 0, id3 or 0}),
          (a, sorted(ids)))
    rc = reg2.stop()
    check("second instance: SIGTERM -> exit 0", rc == 0, reg2.logtext())


run_checks(main)
