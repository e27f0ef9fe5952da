#!/usr/bin/env bash
# docker-compose.yml without a Docker engine (issue 9): Debian's docker-compose parses and
# validates it (`docker-compose config`), and the resolved layout is what its header promises:
# three KRaft brokers of the Kafka version scripts/kafka-local runs, a quorum of three,
# replication 3 with min ISR 2; the registry, two projector replicas with stores of their own,
# a simulated fleet; a health check on every service; host ports on 127.0.0.1 only; every file it
# references exists; every seerlog command it runs exists, and seerlog accepts its configuration.
# Environment (set by CTest): SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR.
# shellcheck disable=SC2015
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-compose.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# shellcheck source=lib.sh
source "$here/lib.sh"

command -v docker-compose >/dev/null ||
  { not_ok "docker-compose is not installed (scripts/setup installs it)"; finish; }
(cd "$root" && docker-compose -f docker-compose.yml config) >"$TMP/config.yml" 2>"$TMP/config.err" &&
  ok "docker-compose config: the file is valid" ||
  { not_ok "docker-compose config" "$(cat "$TMP/config.err")"; finish; }

kafka_version=$(sed -n 's/^KAFKA_VERSION=\${KAFKA_VERSION:-\([0-9.]*\)}.*/\1/p; s/^KAFKA_VERSION=\([0-9.]*\).*/\1/p' \
  "$root/scripts/kafka-local" | head -1)
"$SEERLOG" --help >"$TMP/help.txt" 2>&1
python3 - "$TMP/config.yml" "$root" "$kafka_version" "$TMP/help.txt" >"$TMP/checks.txt" 2>&1 <<'PY'
import os, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
root, kafka_version, helptext = sys.argv[2], sys.argv[3], open(sys.argv[4]).read()
svc = cfg["services"]
def vols(s):
    """A service's volumes as dicts (source, target, type), from either syntax of `config`."""
    out = []
    for v in s.get("volumes", []):
        if isinstance(v, dict):
            out.append(v)
            continue
        parts = str(v).split(":")
        src, tgt = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
        out.append({"source": src, "target": tgt,
                    "type": "bind" if src and src.startswith(("/", ".")) else "volume"})
    return out

def port_ip(p):
    return str(p.get("host_ip", "")) if isinstance(p, dict) else str(p).split(":")[0]

def check(cond, what, why=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not why else ": %s" % why))

brokers = [n for n in svc if svc[n].get("image", "").startswith("apache/kafka:")]
check(sorted(brokers) == ["kafka1", "kafka2", "kafka3"], "three brokers: kafka1..3", brokers)
check(all(svc[b]["image"] == "apache/kafka:" + kafka_version for b in brokers),
      "the brokers run Kafka %s, as scripts/kafka-local" % kafka_version,
      [svc[b]["image"] for b in brokers])
env = [svc[b]["environment"] for b in brokers]
check(all(e["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka1:9093,2@kafka2:9093,3@kafka3:9093"
          and e["KAFKA_PROCESS_ROLES"] == "broker,controller" for e in env),
      "KRaft: each broker also a controller, a quorum of three")
check(sorted(str(e["KAFKA_NODE_ID"]) for e in env) == ["1", "2", "3"], "node ids 1, 2, 3")
check(all(str(e["KAFKA_DEFAULT_REPLICATION_FACTOR"]) == "3" and
          str(e["KAFKA_MIN_INSYNC_REPLICAS"]) == "2" for e in env),
      "replication factor 3, min.insync.replicas 2")
for name in ("registry", "projector-a", "projector-b", "fleet"):
    check(name in svc, "service %s" % name)
cmds = {n: svc[n]["command"] for n in svc if n not in brokers}
check(all(c[0] == "seerlog" and ("\n  " + c[1] + " ") in helptext for c in cmds.values()),
      "every seerlog service runs an existing subcommand",
      {n: c[:2] for n, c in cmds.items()})
check(cmds["projector-a"][1] == cmds["projector-b"][1] == "project", "two projector replicas")
stores = [v for n in ("projector-a", "projector-b") for v in vols(svc[n])
          if str(v.get("target", "")).startswith("/var/lib/seerlog")]
check(len({v["source"] for v in stores}) == 2, "each projector has a store volume of its own",
      stores)
check(all("healthcheck" in svc[n] and svc[n]["healthcheck"].get("test") for n in svc),
      "a health check on every service", [n for n in svc if "healthcheck" not in svc[n]])
ports = [(n, p) for n in svc for p in svc[n].get("ports", [])]
check(ports and all(port_ip(p) == "127.0.0.1" for _, p in ports),
      "host ports on 127.0.0.1 only", ports)
missing = []
for n, s in svc.items():
    b = s.get("build")
    if b:
        ctx = b["context"]
        df = os.path.join(ctx, b.get("dockerfile", "Dockerfile"))
        if not os.path.isfile(df):
            missing.append(df)
    for v in vols(s):
        if v.get("type") == "bind" and not os.path.exists(v["source"]):
            missing.append(v["source"])
check(not missing, "every file it references exists (build contexts, bind mounts)", missing)
binds = sorted({v["source"] for s in svc.values() for v in vols(s) if v.get("type") == "bind"})
print("binds " + " ".join(binds))
PY
grep -q . "$TMP/checks.txt" || not_ok "the layout checks printed nothing"
while IFS= read -r line; do
  case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "FAIL "*) not_ok "${line#FAIL }" ;;
    binds*) binds=${line#binds } ;;
    *) not_ok "layout checks: $line" ;;
  esac
done <"$TMP/checks.txt"

# The configuration the seerlog services read: every key known, every value valid.
for f in ${binds:-}; do
  [[ $f == *.properties ]] || continue
  "$SEERLOG" config --config "$f" >/dev/null 2>"$TMP/conf.err" &&
    ok "seerlog accepts $(basename "$f")" || not_ok "seerlog config --config $f" "$(cat "$TMP/conf.err")"
done
finish
