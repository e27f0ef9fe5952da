#!/usr/bin/env python3
"""Produces the last records of each partition of the topics matching REGEX again, byte for
byte (same key, value, partition): what an outbox replays after a crash, or a producer retry
without idempotence. Prints how many were produced.

  redeliver.py BOOTSTRAP REGEX PER_PARTITION
"""
import re
import sys

from confluent_kafka import Consumer, Producer, TopicPartition


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, pattern, per = sys.argv[1], re.compile(sys.argv[2]), int(sys.argv[3])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "seerlog-faults-redeliver",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(timeout=10)
    parts = []
    for name, t in md.topics.items():
        if pattern.search(name):
            for p in t.partitions:
                lo, hi = c.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if hi > lo:
                    parts.append(TopicPartition(name, p, max(lo, hi - per)))
    c.assign(parts)
    want = sum(1 for _ in parts)
    eof = set()
    recs = []
    while len(eof) < want:
        m = c.poll(10)
        if m is None:
            print("redeliver: timed out reading the topics", file=sys.stderr)
            return 1
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add((m.topic(), m.partition()))
                continue
            print(f"redeliver: {m.error()}", file=sys.stderr)
            return 1
        recs.append((m.topic(), m.partition(), m.key(), m.value()))
    c.close()
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for topic, part, key, value in recs:
        p.produce(topic, value=value, key=key, partition=part)
    if p.flush(30):
        print("redeliver: not everything was delivered", file=sys.stderr)
        return 1
    print(len(recs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
