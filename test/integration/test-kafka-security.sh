#!/usr/bin/env bash
# Kafka over SASL/SCRAM and TLS: a broker of the test's own with a SASL_SSL listener (its CA,
# certificate and SCRAM user made here); the registry, an agent and the projector reach it with
# credentials from a --config file and events flow end to end. A wrong password, a client
# without TLS and a CA that does not match end with a clear error and a non-zero exit within a
# bounded time; half-configured settings exit 2 naming the keys; the password appears in no
# output and not in --help or `seerlog config`.
# Environment (set by CTest): SEERLOG_BINARY_DIR, SEERLOG_SOURCE_DIR.
# shellcheck disable=SC2015
set -uo pipefail

SEERLOG=${SEERLOG_BINARY_DIR:?}/cmd/seerlog
KAFKA_LOCAL=${SEERLOG_SOURCE_DIR:?}/scripts/kafka-local
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-ksec.XXXXXX")
UNIQ="$$.$(date +%s%N)"
PREFIX="seerlog.test.ksec.$UNIQ"
PW="pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
WRONG="wrongpw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  "$KAFKA_LOCAL" stop --data-dir "$TMP/kafka" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
now_ms() { date +%s%3N; }

# await SECONDS COMMAND...: until COMMAND succeeds. Exit status 0 when it did.
await() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    (($(date +%s) >= deadline)) && return 1
    sleep 0.2
  done
}

# wait_exit SECONDS PID: waits for PID to exit, up to SECONDS; sets RC (124 on timeout).
wait_exit() {
  local deadline=$(($(date +%s) + $1))
  while kill -0 "$2" 2>/dev/null; do
    if (($(date +%s) >= deadline)); then
      kill "$2" 2>/dev/null
      wait "$2" 2>/dev/null
      RC=124
      return 1
    fi
    sleep 0.1
  done
  wait "$2"
  RC=$?
}

# ---- certificates: a CA and the broker's certificate for 127.0.0.1 (PEM)
t0=$(now_ms)
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -days 1 \
  -subj "/CN=seerlog test CA" >/dev/null 2>&1 &&
  openssl req -newkey rsa:2048 -nodes -keyout "$TMP/broker.key" -out "$TMP/broker.csr" \
    -subj "/CN=127.0.0.1" >/dev/null 2>&1 &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TMP/san.cnf" &&
  openssl x509 -req -in "$TMP/broker.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -out "$TMP/broker.crt" -days 1 -extfile "$TMP/san.cnf" >/dev/null 2>&1 &&
  cat "$TMP/broker.key" "$TMP/broker.crt" >"$TMP/broker-keystore.pem" &&
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/other.key" -out "$TMP/other-ca.pem" \
    -days 1 -subj "/CN=another CA" >/dev/null 2>&1; then
  ok "openssl: a CA, the broker's certificate signed by it, and another CA"
else
  not_ok "openssl could not make the certificates"
  finish
fi

# ---- the broker: PLAINTEXT (inter-broker, readiness) and SASL_SSL (the clients) listeners
PORT=$(free_port_pair "${SEERLOG_TEST_KSEC_PORT:-29770}")
SPORT=$((PORT + 2))
until port_free "$SPORT"; do SPORT=$((SPORT + 1)); done
cat >"$TMP/sasl-ssl.properties" <<EOF
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$((PORT + 1)),SASL_SSL://127.0.0.1:$SPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_SSL://127.0.0.1:$SPORT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$TMP/broker-keystore.pem
EOF
if "$KAFKA_LOCAL" start --port "$PORT" --data-dir "$TMP/kafka" \
  --server-properties "$TMP/sasl-ssl.properties" --scram "seerlog:$PW" \
  >"$TMP/kafka-start.out" 2>&1; then
  ok "kafka-local: a broker with a SASL_SSL listener on $SPORT and a SCRAM user"
else
  not_ok "kafka-local start" "$(tail -20 "$TMP/kafka-start.out")"
  finish
fi
SECURE=127.0.0.1:$SPORT

# The configuration every client below reads, and its broken variants.
cat >"$TMP/client.properties" <<EOF
bootstrap.servers=$SECURE
kafka.security.protocol=SASL_SSL
kafka.sasl.mechanisms=SCRAM-SHA-256
kafka.sasl.username=seerlog
kafka.sasl.password=$PW
kafka.ssl.ca.location=$TMP/ca.pem
EOF
sed "s/=$PW\$/=$WRONG/" "$TMP/client.properties" >"$TMP/wrong.properties"
sed "s|$TMP/ca.pem|$TMP/other-ca.pem|" "$TMP/client.properties" >"$TMP/other-ca.properties"
common=(-X "topic.template=$PREFIX.state.{region}.{type}" -X topic.partitions=2
  -X "dlq.topic=$PREFIX.dlq" -X "control.topic=$PREFIX.control"
  -X "liveness.topic=$PREFIX.liveness" -X "project.changelog.topic=$PREFIX.snapshot")

# A plaintext client against the SASL_SSL listener, in the background from the start: a
# long-running projector learns only from repeated disconnects (librdkafka reports them every
# 30 s), so it gets its time while the rest runs.
"$SEERLOG" project --bootstrap "$SECURE" --store "$TMP/plain-store" --group "plain-$UNIQ" -X schema.mode=fixed \
  -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" "${common[@]}" \
  >"$TMP/plain-project.out" 2>"$TMP/plain-project.err" &
PLAIN_PID=$!
PIDS+=("$PLAIN_PID")
plain_t0=$(now_ms)

# ---- the registry, the projector and an agent over SASL_SSL
REG_PORT=$((SPORT + 1))
until port_free "$REG_PORT"; do REG_PORT=$((REG_PORT + 1)); done
REG=http://127.0.0.1:$REG_PORT
"$SEERLOG" registry --config "$TMP/client.properties" --listen "127.0.0.1:$REG_PORT" \
  -X "registry.topic=_schemas_ksec_$UNIQ" -X "registry.group.id=reg-ksec-$UNIQ" \
  >"$TMP/registry.out" 2>"$TMP/registry.err" &
REG_PID=$!
PIDS+=("$REG_PID")
await 60 curl -sf "$REG/subjects" -o /dev/null &&
  ok "registry: serves over its topic on the SASL_SSL listener" ||
  not_ok "registry did not answer" "$(tail -5 "$TMP/registry.err")"

"$SEERLOG" project --config "$TMP/client.properties" --registry "$REG" --store "$TMP/store" \
  --group "proj-$UNIQ" --listen 127.0.0.1:0 \
  -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+" "${common[@]}" \
  -X topic.metadata.refresh.interval.ms=1000 >"$TMP/project.out" 2>"$TMP/project.err" &
PROJ_PID=$!
PIDS+=("$PROJ_PID")
API=$(api_port "$TMP/project.err" "$PROJ_PID")
[[ -n $API ]] || not_ok "projector: no API port" "$(tail -5 "$TMP/project.err")"

"$SEERLOG" agent --config "$TMP/client.properties" --registry "$REG" --node ksec-1 --type seer \
  --region eu -X "outbox.dir=$TMP/outbox" -X heartbeat.interval.ms=500 "${common[@]}" \
  >"$TMP/agent.out" 2>"$TMP/agent.err" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
node_seen() {
  curl -sf "http://127.0.0.1:$API/v1/nodes/ksec-1" 2>/dev/null | grep -q '"node_id":"ksec-1"'
}
if [[ -n $API ]] && await 60 node_seen; then
  ok "agent -> SASL_SSL -> projector: node ksec-1 in the projector's state (schema from the registry)"
else
  not_ok "node ksec-1 never reached the projector" "agent: $(tail -3 "$TMP/agent.err")" \
    "project: $(tail -3 "$TMP/project.err")" "registry: $(tail -3 "$TMP/registry.err")"
fi
curl -sf "$REG/subjects" | grep -q "$PREFIX.state.eu.seer-value" &&
  ok "registry: the agent registered the schema under its topic's subject" ||
  not_ok "registry subjects" "$(curl -s "$REG/subjects")"
"$SEERLOG" tail --config "$TMP/client.properties" --registry "$REG" \
  --topic "$PREFIX.state.eu.seer" --from-beginning --count 1 --timeout-ms 20000 \
  >"$TMP/tail.out" 2>"$TMP/tail.err" && grep -q '"node_id":"ksec-1"' "$TMP/tail.out" &&
  ok "tail: reads the agent's events over SASL_SSL" ||
  not_ok "tail over SASL_SSL" "$(tail -3 "$TMP/tail.err")"

# ---- a wrong password: every command stops with a clear error
auth_msg='Kafka authentication failed: .*SASL authentication error.*check kafka.sasl.mechanisms, kafka.sasl.username and kafka.sasl.password'
t=$(now_ms)
"$SEERLOG" publish --config "$TMP/wrong.properties" --topic "$PREFIX.state.eu.seer" \
  --node ksec-2 --type seer --region eu -X schema.mode=fixed -X outbox.enable=false \
  >"$TMP/wrong-publish.out" 2>"$TMP/wrong-publish.err"
rc=$? el=$(($(now_ms) - t))
[[ $rc == 1 ]] && grep -q "seerlog: publish: $auth_msg" "$TMP/wrong-publish.err" && ((el < 15000)) &&
  ok "publish, wrong password: exit 1 in $el ms, 'Kafka authentication failed ... check kafka.sasl.username ...'" ||
  not_ok "publish, wrong password: exit $rc after $el ms" "$(tail -3 "$TMP/wrong-publish.err")"

for cmd in agent project registry; do
  case $cmd in
    agent) args=(agent --node ksec-3 --type seer --region eu -X "outbox.dir=$TMP/outbox-wrong") ;;
    project) args=(project --store "$TMP/wrong-store" --group "wrong-$UNIQ"
      -X "project.topic.pattern=^${PREFIX//./\\.}\\.state\\..+") ;;
    registry) args=(registry --listen "127.0.0.1:$((REG_PORT + 1))" -X "registry.topic=_schemas_ksec_$UNIQ"
      -X "registry.group.id=reg-wrong-$UNIQ") ;;
  esac
  t=$(now_ms)
  "$SEERLOG" "${args[@]}" --config "$TMP/wrong.properties" -X schema.mode=fixed "${common[@]}" \
    >"$TMP/wrong-$cmd.out" 2>"$TMP/wrong-$cmd.err" &
  pid=$!
  wait_exit 30 "$pid"
  el=$(($(now_ms) - t))
  [[ $RC == 1 ]] && grep -q "seerlog: $cmd: $auth_msg" "$TMP/wrong-$cmd.err" &&
    ok "$cmd, wrong password: exit 1 in $el ms with the authentication error" ||
    not_ok "$cmd, wrong password: exit $RC after $el ms" "$(tail -4 "$TMP/wrong-$cmd.err")"
done

# ---- TLS: a CA that did not sign the broker's certificate
t=$(now_ms)
"$SEERLOG" tail --config "$TMP/other-ca.properties" --topic "$PREFIX.state.eu.seer" \
  --from-beginning --count 1 --timeout-ms 20000 >"$TMP/other-ca.out" 2>"$TMP/other-ca.err"
rc=$? el=$(($(now_ms) - t))
[[ $rc == 1 ]] &&
  grep -q 'seerlog: tail: Kafka TLS handshake failed: .*certificate verify failed.*check kafka.security.protocol and kafka.ssl.ca.location' "$TMP/other-ca.err" &&
  ((el < 15000)) && ok "tail, another CA: exit 1 in $el ms, 'Kafka TLS handshake failed ... certificate verify failed'" ||
  not_ok "tail, another CA: exit $rc after $el ms" "$(tail -3 "$TMP/other-ca.err")"

# ---- no TLS: a plaintext client against the SASL_SSL listener
t=$(now_ms)
"$SEERLOG" publish --bootstrap "$SECURE" --topic "$PREFIX.state.eu.seer" --node ksec-2 \
  --type seer --region eu -X schema.mode=fixed -X outbox.enable=false --timeout-ms 5000 \
  >"$TMP/plain-publish.out" 2>"$TMP/plain-publish.err"
rc=$? el=$(($(now_ms) - t))
[[ $rc == 1 ]] && grep -q 'seerlog: publish: hint: Kafka connections failed during the handshake: check that kafka.security.protocol matches' "$TMP/plain-publish.err" &&
  ok "publish without TLS: exit 1 in $el ms with a hint at kafka.security.protocol" ||
  not_ok "publish without TLS: exit $rc after $el ms" "$(tail -3 "$TMP/plain-publish.err")"
wait_exit 60 "$PLAIN_PID"
el=$(($(now_ms) - plain_t0))
[[ $RC == 1 ]] &&
  grep -q 'seerlog: project: Kafka connections keep failing during the handshake: .*kafka.security.protocol' "$TMP/plain-project.err" &&
  ok "project without TLS: exit 1 after $el ms, 'Kafka connections keep failing during the handshake'" ||
  not_ok "project without TLS: exit $RC after $el ms" "$(tail -3 "$TMP/plain-project.err")"

# ---- half-configured settings: exit 2 before any connection, naming the keys
half() { # NAME EXPECTED-MESSAGE -X...
  local name=$1 want=$2 rc
  shift 2
  "$SEERLOG" publish --bootstrap "$SECURE" --topic t --node n --type seer --region eu \
    -X schema.mode=fixed -X outbox.enable=false "$@" >"$TMP/half.out" 2>"$TMP/half.err"
  rc=$?
  [[ $rc == 2 ]] && grep -q -- "$want" "$TMP/half.err" && ok "half-configured ($name): exit 2, '$want'" ||
    not_ok "half-configured ($name): exit $rc" "$(cat "$TMP/half.err")"
  cat "$TMP/half.err" >>"$TMP/half-all.err"
}
half "username without password" "kafka.sasl.username is set but kafka.sasl.password is not" \
  -X kafka.security.protocol=SASL_SSL -X kafka.sasl.mechanisms=SCRAM-SHA-256 \
  -X kafka.sasl.username=seerlog
half "credentials on a plaintext protocol" "kafka.sasl.mechanisms is set but kafka.security.protocol=plaintext does not use SASL" \
  -X kafka.sasl.mechanisms=SCRAM-SHA-256 -X kafka.sasl.username=seerlog -X "kafka.sasl.password=$PW"
half "ssl.* on a plaintext protocol" "kafka.ssl.ca.location is set but kafka.security.protocol=plaintext does not use TLS" \
  -X "kafka.ssl.ca.location=$TMP/ca.pem"
half "missing CA file" "kafka.ssl.ca.location=$TMP/nope.pem: No such file or directory" \
  --config "$TMP/client.properties" -X "kafka.ssl.ca.location=$TMP/nope.pem"
"$SEERLOG" agent --config "$TMP/client.properties" -X kafka.sasl.mechanisms=SCRAM-SHA-512 \
  -X kafka.sasl.username= --node n --type seer --region eu >"$TMP/half-agent.out" 2>&1
rc=$?
[[ $rc == 2 ]] && grep -q "seerlog: agent: half-configured Kafka security: kafka.sasl.password is set but kafka.sasl.username is not" "$TMP/half-agent.out" &&
  ok "agent, half-configured: exit 2 at start" || not_ok "agent, half-configured: exit $rc" "$(cat "$TMP/half-agent.out")"

# ---- the password is nowhere: help, config, every output of this test
"$SEERLOG" agent --config "$TMP/client.properties" --help >"$TMP/help.out" 2>&1
"$SEERLOG" config --config "$TMP/client.properties" >"$TMP/config.out" 2>&1
grep -q '^kafka.sasl.password=(redacted)\|sasl.password=(redacted)' "$TMP/config.out" &&
  ok "seerlog config shows sasl.password as (redacted)" ||
  not_ok "seerlog config" "$(grep -i sasl "$TMP/config.out")"
# Stop the clients first so that their last lines are in the files.
for pid in "$AGENT_PID" "$PROJ_PID" "$REG_PID"; do kill "$pid" 2>/dev/null; done
for pid in "$AGENT_PID" "$PROJ_PID" "$REG_PID"; do wait "$pid" 2>/dev/null; done
outputs=("$TMP"/*.out "$TMP"/*.err)
leaks=$(grep -l -e "$PW" -e "$WRONG" "${outputs[@]}" 2>/dev/null)
[[ -z $leaks ]] && grep -q . "$TMP/wrong-agent.err" &&
  ok "neither password appears in any of the ${#outputs[@]} outputs (help, config, logs)" ||
  not_ok "a password leaked" "$leaks"

echo "runtime: $((($(now_ms) - t0) / 1000)) s"
finish
