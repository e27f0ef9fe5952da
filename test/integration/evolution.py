"""Helper of test-schema-evolution.sh: a third-party producer (confluent-kafka-python's
AvroSerializer against our registry) writing NodeStateEvent records with a schema version of
its choice.

  evolution.py produce BOOTSTRAP REGISTRY TOPIC SCHEMA_FILE EVENTS_JSON
      Produces the events (a JSON array) with SCHEMA_FILE's schema, which must already be
      registered under TOPIC-value (auto.register.schemas off: the serializer looks its id up),
      keyed by node_id with murmur2 (the partitioner seerlog and the Java clients use), and
      prints the schema id it wrote.
  evolution.py try BOOTSTRAP REGISTRY TOPIC SCHEMA_FILE EVENT_JSON
      Tries to produce one event with SCHEMA_FILE's schema, auto-registering it; prints
      "refused HTTP_STATUS ERROR_CODE" when the registry refuses the schema (nothing is
      produced), "produced ID" otherwise.
"""
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext


def produce(bootstrap, topic, serializer, events):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                  "partitioner": "murmur2_random"})
    errors = []
    ids = set()
    for e in events:
        value = serializer(e, SerializationContext(topic, MessageField.VALUE))
        ids.add(int.from_bytes(value[1:5], "big"))
        p.produce(topic, key=e["node_id"].encode(), value=value,
                  on_delivery=lambda err, msg: err and errors.append(err))
    left = p.flush(30)
    if left or errors:
        sys.exit("not delivered: %d left, errors %r" % (left, errors))
    return ids


def main():
    cmd, bootstrap, registry, topic, schema_file, events = sys.argv[1:7]
    with open(schema_file, encoding="utf-8") as f:
        schema = f.read()
    sr = SchemaRegistryClient({"url": registry})
    if cmd == "produce":
        ser = AvroSerializer(sr, schema, conf={"auto.register.schemas": False})
        print(" ".join(str(i) for i in sorted(produce(bootstrap, topic, ser,
                                                       json.loads(events)))))
    elif cmd == "try":
        ser = AvroSerializer(sr, schema, conf={"auto.register.schemas": True})
        try:
            ids = produce(bootstrap, topic, ser, [json.loads(events)])
        except SchemaRegistryError as e:
            print("refused %s %s" % (e.http_status_code, e.error_code))
            return
        print("produced %s" % " ".join(str(i) for i in sorted(ids)))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
