# Shared by test-producer-crash.sh and test-producer-broker-down.sh (sourced): counters, the
# driver, and the delivery check.
# shellcheck shell=bash disable=SC2034

DRIVER=${SEERLOG_BINARY_DIR:?}/test/integration/producer_driver

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check() { # DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}

lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }

# await_lines FILE N TIMEOUT_S: until FILE has at least N lines.
await_lines() {
  local deadline=$(($(date +%s) + $3))
  while (($(lines "$1") < $2)); do
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
}

# check_delivery ACCEPTED KAFKA: every accepted (node, incarnation, seq, event id) is in Kafka;
# duplicates only with identical (incarnation, seq, event id); per node one partition, and
# within it seq strictly increasing per (node, incarnation) apart from duplicates; a later
# incarnation never reuses a seq of an earlier one.
check_delivery() {
  python3 - "$1" "$2" <<'PY'
import sys
from collections import defaultdict

acc = [l.split() for l in open(sys.argv[1]) if l.strip()]
kaf = [l.split() for l in open(sys.argv[2]) if l.strip()]
errors = []
seen = {}          # (node, inc, seq) -> event id
where = {}         # node -> (topic, partition)
last = {}          # (topic, partition, node, inc) -> last seq
dups = 0
for node, inc, seq, eid, topic, part, off in kaf:
    key = (node, int(inc), int(seq))
    if key in seen:
        dups += 1
        if seen[key] != eid:
            errors.append(f"{key} appears with two event ids {seen[key]} and {eid}")
        continue
    seen[key] = eid
    tp = (topic, part)
    if where.setdefault(node, tp) != tp:
        errors.append(f"{node} in {where[node]} and in {tp}")
    k = (topic, part, node, int(inc))
    if k in last and int(seq) <= last[k]:
        errors.append(f"{node} inc {inc}: seq {seq} after {last[k]} at {topic}/{part}@{off}")
    last[k] = int(seq)
missing = [a for a in acc if seen.get((a[0], int(a[1]), int(a[2]))) != a[3]]
if missing:
    errors.append(f"{len(missing)} accepted events missing from Kafka, e.g. {missing[:3]}")
incs = defaultdict(lambda: defaultdict(list))
for node, inc, seq in seen:
    incs[node][inc].append(seq)
for node, by_inc in incs.items():
    top = -1
    for inc in sorted(by_inc):
        if min(by_inc[inc]) <= top:
            errors.append(f"{node}: incarnation {inc} reuses seq {min(by_inc[inc])} <= {top}")
        top = max(top, max(by_inc[inc]))
print(f"# accepted {len(acc)}, in Kafka {len(kaf)} ({dups} duplicates), "
      f"{len(incs)} nodes, incarnations {sorted({i for n in incs.values() for i in n})}")
for e in errors[:10]:
    print("#   " + e)
sys.exit(1 if errors else 0)
PY
}
