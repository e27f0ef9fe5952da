#!/usr/bin/env bash
# Tests of the seerlog command line that need no broker: help, version, usage errors and their
# exit codes, configuration files and precedence, schema output.
#   test/unit/test-cli.sh path/to/seerlog
# Prints one line per check and "N passed, N failed" last; exits non-zero if any check failed.

# `cond && ok ... || not_ok ...` is safe here: ok always succeeds.
# shellcheck disable=SC2015
set -uo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 path/to/seerlog" >&2
  exit 2
fi
SEERLOG=$1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-test-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
  failed=$((failed + 1))
  echo "FAIL $1"
  shift
  for line in "$@"; do echo "     $line"; done
}

# run ARGS...: runs seerlog with stdin from /dev/null; sets $rc, $out, $err.
run() {
  "$SEERLOG" "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  rc=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

# check NAME WANT_RC STREAM PATTERN -- ARGS...: runs seerlog ARGS and checks the exit code and that
# STREAM (out|err) contains the fixed string PATTERN (skipped when PATTERN is empty).
check() {
  local name=$1 want_rc=$2 stream=$3 pattern=$4
  shift 5
  run "$@"
  local text=$out
  [ "$stream" = err ] && text=$err
  if [ "$rc" -ne "$want_rc" ]; then
    not_ok "$name" "exit code $rc, want $want_rc" "stdout: ${out:0:300}" "stderr: ${err:0:300}"
  elif [ -n "$pattern" ] && [[ "$text" != *"$pattern"* ]]; then
    not_ok "$name" "std$stream lacks: $pattern" "stdout: ${out:0:300}" "stderr: ${err:0:300}"
  else
    ok "$name"
  fi
}

# A usage error is one "seerlog: ..." line plus one hint line, on stderr only.
check_usage_error() {
  local name=$1 pattern=$2 hint=$3
  shift 3
  check "$name" 2 err "$pattern" -- "$@"
  local lines
  lines=$(printf '%s\n' "$err" | wc -l)
  if [ "$rc" -eq 2 ] && [[ "$err" == "seerlog: "* ]] && [ "$lines" -eq 2 ] &&
    [[ "$err" == *"$hint" ]] && [ -z "$out" ]; then
    ok "$name: message format"
  else
    not_ok "$name: message format" "want 'seerlog: ...' then '$hint', nothing on stdout" \
      "stderr: $err" "stdout: ${out:0:200}"
  fi
}

# --- help and version ---
check "--help" 0 out "usage: seerlog SUBCOMMAND" -- --help
for cmd in publish tail schema config help; do
  [[ "$out" == *"  $cmd "* ]] && ok "--help lists $cmd" || not_ok "--help lists $cmd" "$out"
done
[[ "$out" == *"--bootstrap HOST:PORT"* && "$out" == *"-X KEY=VALUE"* && "$out" == *"--config FILE"* ]] &&
  ok "--help lists the common options" || not_ok "--help lists the common options" "$out"
check "-h" 0 out "usage: seerlog SUBCOMMAND" -- -h
check "help" 0 out "usage: seerlog SUBCOMMAND" -- help
check "--version" 0 out "seerlog 0.1.0" -- --version
[[ "$out" == *"librdkafka 2."* ]] && ok "--version shows librdkafka" || not_ok "--version shows librdkafka" "$out"
check "help publish" 0 out "usage: seerlog publish [--topic TOPIC]" -- help publish
[[ "$out" == *"--label KEY=VALUE"* && "$out" == *"-X KEY=VALUE"* && "$out" == *"issue 4"* ]] &&
  ok "help publish: own and common options, what comes later" ||
  not_ok "help publish: own and common options, what comes later" "$out"
check "publish --help" 0 out "usage: seerlog publish" -- publish --help
check "tail -h" 0 out "--from-beginning" -- tail -h
check "help tail" 0 out "--timeout-ms MS" -- help tail
check "help config lists the properties" 0 out "schema.id" -- help config
check "help schema" 0 out "usage: seerlog schema" -- help schema
check "help wins over later options" 0 out "usage: seerlog config" -- config --help --no-such-option

# --- usage errors: exit 2, one line and a hint ---
# Without a subcommand: the overview on stderr, then the error.
run
[ "$rc" -eq 2 ] && [[ "$err" == *"usage: seerlog SUBCOMMAND"*"seerlog: no subcommand given"* ]] && [ -z "$out" ] &&
  ok "no subcommand" || not_ok "no subcommand" "rc=$rc" "$err"
check_usage_error "unknown subcommand" "seerlog: unknown subcommand 'frobnicate'" \
  "(see 'seerlog --help')" frobnicate
check_usage_error "help of an unknown subcommand" "unknown subcommand 'frobnicate'" \
  "(see 'seerlog --help')" help frobnicate
check_usage_error "unknown option" "seerlog: config: unknown option '--frobnicate'" \
  "(see 'seerlog help config')" config --frobnicate
check_usage_error "unknown short option" "unknown option '-q'" "(see 'seerlog help tail')" \
  tail --topic t -q
check_usage_error "missing option argument" "option '--topic' needs an argument" \
  "(see 'seerlog help publish')" publish --topic
check_usage_error "missing -X argument" "option '-X' needs an argument" \
  "(see 'seerlog help config')" config -X
check_usage_error "ambiguous option" "ambiguous option '--t'" "(see 'seerlog help tail')" \
  tail --t x
check_usage_error "missing required option" "missing required option --topic" \
  "(see 'seerlog help tail')" tail
check_usage_error "unexpected argument" "unexpected argument 'extra'" \
  "(see 'seerlog help schema')" schema extra
check_usage_error "-X nonsense" "-X nonsense: expected KEY=VALUE" "(see 'seerlog help config')" \
  config -X nonsense
check_usage_error "-X unknown librdkafka property" 'No such configuration property: "no.such.property"' \
  "(see 'seerlog help config')" config -X no.such.property=1
check_usage_error "-X bad librdkafka value" "linger.ms=soon" "(see 'seerlog help config')" \
  config -X linger.ms=soon
check_usage_error "-X bad seerlog value" "schema.id=0: expected an integer from 1 to 2147483647" \
  "(see 'seerlog help config')" config -X schema.id=0
check_usage_error "--bootstrap empty" "--bootstrap: bootstrap.servers=: expected host:port" \
  "(see 'seerlog help config')" config --bootstrap ''
check_usage_error "--bootstrap not host:port" "bootstrap.servers=kafka: expected host:port" \
  "(see 'seerlog help tail')" tail --topic t --bootstrap kafka
check_usage_error "--registry not a URL" "registry.url=reg:8081: expected an http" \
  "(see 'seerlog help config')" config --registry reg:8081
check_usage_error "--config missing file" "$TMP/missing.properties: No such file or directory" \
  "(see 'seerlog help config')" config --config "$TMP/missing.properties"
check_usage_error "tail --count 0" "--count 0: expected an integer" "(see 'seerlog help tail')" \
  tail --topic t --count 0

# --- configuration files and precedence ---
cat >"$TMP/seerlog.properties" <<'EOF'
# a comment
! another comment

bootstrap.servers = k1:9092,k2:9092
registry.url: http://registry.example:8081
schema.id=42
kafka.linger.ms=5
client.id=from-file
EOF
check "config shows the file" 0 out "bootstrap.servers=k1:9092,k2:9092  # file $TMP/seerlog.properties:4" \
  -- config --config "$TMP/seerlog.properties"
for want in "registry.url=http://registry.example:8081  # file" "schema.id=42  # file" \
  "log.level=info  # default" "linger.ms=5  # file" "client.id=from-file  # file"; do
  [[ "$out" == *"$want"* ]] && ok "config shows: $want" || not_ok "config shows: $want" "$out"
done
# Flags win over the file whatever their order: here they come before --config.
check "-X overrides the file" 0 out "schema.id=7  # flag -X" -- \
  config -X schema.id=7 -X linger.ms=9 --registry https://flag.example --config "$TMP/seerlog.properties"
for want in "linger.ms=9  # flag -X" "registry.url=https://flag.example  # flag --registry" \
  "bootstrap.servers=k1:9092,k2:9092  # file" "client.id=from-file  # file"; do
  [[ "$out" == *"$want"* ]] && ok "override shows: $want" || not_ok "override shows: $want" "$out"
done
check "--bootstrap overrides the file" 0 out "bootstrap.servers=b:1  # flag --bootstrap" -- \
  config --config "$TMP/seerlog.properties" --bootstrap b:1
check "common options before the subcommand" 0 out "log.level=debug  # flag -X" -- \
  -X log.level=debug config
check "config defaults" 0 out "bootstrap.servers=127.0.0.1:9092  # default" -- config
check "passwords are not printed" 0 out "sasl.password=(redacted)" -- config -X sasl.password=hunter2
[[ "$out" != *hunter2* ]] && ok "password value absent" || not_ok "password value absent" "$out"

printf 'schema.id=1\nthis is not a property\n' >"$TMP/bad.properties"
check_usage_error "--config bad line" "$TMP/bad.properties:2: expected key=value" \
  "(see 'seerlog help config')" config --config "$TMP/bad.properties"
printf 'no.such.property=1\n' >"$TMP/unknown.properties"
check_usage_error "--config unknown property" "$TMP/unknown.properties:1: no.such.property=1" \
  "(see 'seerlog help config')" config --config "$TMP/unknown.properties"

check "config --markdown" 0 out "| \`bootstrap.servers\` |" -- config --markdown
[[ "$out" == "# seerlog configuration"* ]] && ok "markdown title" || not_ok "markdown title" "${out:0:200}"

# docs/configuration.md is generated; it must match the table in common/sl_conf.c.
DOC="$(cd "$(dirname "$0")/../.." && pwd)/docs/configuration.md"
run config --markdown
if [ -f "$DOC" ] && [ "$out" = "$(cat "$DOC")" ]; then
  ok "docs/configuration.md is up to date"
else
  not_ok "docs/configuration.md is up to date" "regenerate: seerlog config --markdown > docs/configuration.md"
fi

# --- schema ---
run schema
if [ "$rc" -eq 0 ] && printf '%s' "$out" | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["name"]=="NodeStateEvent"' 2>/dev/null; then
  ok "schema is JSON (NodeStateEvent)"
else
  not_ok "schema is JSON (NodeStateEvent)" "rc=$rc" "${out:0:200}" "$err"
fi

# --- publish: everything that fails before a broker is contacted ---
P=(publish --topic t --bootstrap 127.0.0.1:1 --node n1 --type seer --region eu)
check_usage_error "publish bad status" "--status sideways: expected one of unknown, up" \
  "(see 'seerlog help publish')" "${P[@]}" --status sideways
check_usage_error "publish bad kind" "--kind sideways: expected one of" \
  "(see 'seerlog help publish')" "${P[@]}" --kind sideways
check_usage_error "publish bad label" "--label nolabel: expected KEY=VALUE" \
  "(see 'seerlog help publish')" "${P[@]}" --label nolabel
check_usage_error "publish bad seq" "--seq -1: expected an integer" \
  "(see 'seerlog help publish')" "${P[@]}" --seq -1
check_usage_error "publish bad incarnation" "--incarnation 0: expected an integer" \
  "(see 'seerlog help publish')" "${P[@]}" --incarnation 0
check_usage_error "publish without node" "invalid event: " "(see 'seerlog help publish')" \
  publish --topic t --type seer --region eu
check_usage_error "publish empty topic" "--topic: expected a non-empty TOPIC" \
  "(see 'seerlog help publish')" publish --topic '' --node n1
check_usage_error "publish conflicting librdkafka properties" "enable.idempotence" \
  "(see 'seerlog help publish')" "${P[@]}" -X acks=1

# --json reads stdin
json_run() {
  printf '%s' "$1" | "$SEERLOG" publish --topic t --bootstrap 127.0.0.1:1 --json >"$TMP/out" 2>"$TMP/err"
  rc=$?
  err=$(cat "$TMP/err")
}
json_run 'not json'
[ "$rc" -eq 2 ] && [[ "$err" == *"--json: stdin"* ]] && ok "publish --json: not JSON" ||
  not_ok "publish --json: not JSON" "rc=$rc" "$err"
json_run '[1]'
[ "$rc" -eq 2 ] && [[ "$err" == *"expected a JSON object"* ]] && ok "publish --json: not an object" ||
  not_ok "publish --json: not an object" "rc=$rc" "$err"
json_run '{"node_id":"n1","node_type":"seer","region":"eu","status":"sideways"}'
[ "$rc" -eq 2 ] && [[ "$err" == *"status"* ]] && ok "publish --json: bad status" ||
  not_ok "publish --json: bad status" "rc=$rc" "$err"

# --- history: everything that fails before a broker is contacted ---
check "help history" 0 out "usage: seerlog history NODE" -- help history
[[ "$out" == *"murmur2"* && "$out" == *"--all-partitions"* && "$out" == *"[since, until)"* ]] &&
  ok "help history: the partition, --all-partitions, the half-open range" ||
  not_ok "help history: the partition, --all-partitions, the half-open range" "$out"
H=(history --bootstrap 127.0.0.1:1)
check_usage_error "history without NODE" "expected the node id" "(see 'seerlog help history')" \
  "${H[@]}"
check_usage_error "history: invalid node id" 'node id "a/b"' "(see 'seerlog help history')" \
  "${H[@]}" a/b
check_usage_error "history: two nodes" "unexpected argument 'n2'" "(see 'seerlog help history')" \
  "${H[@]}" n1 n2
check_usage_error "history -o yaml" "-o yaml: expected table or json" \
  "(see 'seerlog help history')" "${H[@]}" n1 -o yaml
check_usage_error "history: bad --since" "--since 'soonish'" "(see 'seerlog help history')" \
  "${H[@]}" n1 --since soonish
check_usage_error "history: inverted range" "the range is inverted" \
  "(see 'seerlog help history')" "${H[@]}" n1 --since 2026-01-02 --until 2026-01-01
check_usage_error "history: empty range" "the range is empty" "(see 'seerlog help history')" \
  "${H[@]}" n1 --since 2026-01-01 --until 2026-01-01T00:00:00Z
check_usage_error "history: bad --topics" "is not a regular expression" \
  "(see 'seerlog help history')" "${H[@]}" n1 --topics '('

# --- bridge: everything that fails before a broker is contacted ---
check "help bridge" 0 out "usage: seerlog bridge --inventory FILE" -- help bridge
[[ "$out" == *"NODE_ID TYPE REGION PROBE [KEY=VALUE ...]"* && "$out" == *"--native-from SOURCE"* &&
  "$out" == *"tcp://HOST:PORT"* && "$out" == *"SIGHUP"* && "$out" == *"topic.template"* ]] &&
  ok "help bridge: the inventory format, native detection, reload, the properties" ||
  not_ok "help bridge: the inventory format, native detection, reload, the properties" "$out"
check "--help lists bridge" 0 out "  bridge " -- --help
B=(bridge --bootstrap 127.0.0.1:1)
printf 'n1 seer eu-west http://127.0.0.1:1/healthz rack=r1\nn2 seer eu-west tcp://127.0.0.1:1\n' >"$TMP/inv.ok"
printf '# fleet\nn1 seer eu-west http://127.0.0.1:1/\nn2 seer eu-west udp://127.0.0.1:1\n' >"$TMP/inv.scheme"
printf 'n1 seer eu-west tcp://h:1\n\nn1 tns eu-west tcp://h:2\n' >"$TMP/inv.dup"
printf 'n1 seer eu-west\n' >"$TMP/inv.short"
check_usage_error "bridge without --inventory" "missing required option --inventory" \
  "(see 'seerlog help bridge')" "${B[@]}"
check_usage_error "bridge: inventory missing" "$TMP/missing.inv: No such file or directory" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/missing.inv"
check_usage_error "bridge: bad probe scheme names file:line" \
  "$TMP/inv.scheme:3: probe \"udp://127.0.0.1:1\": unknown scheme \"udp\"" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.scheme"
check_usage_error "bridge: duplicate node id names both lines" \
  "$TMP/inv.dup:3: node id \"n1\" is already on line 1" "(see 'seerlog help bridge')" \
  "${B[@]}" --inventory "$TMP/inv.dup"
check_usage_error "bridge: too few fields" "$TMP/inv.short:1: expected NODE_ID TYPE REGION PROBE" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.short"
check_usage_error "bridge: topic.template that no region fills" "unknown placeholder {zone}" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" -X 'topic.template=s.{zone}'
check_usage_error "bridge --native-from nonsense" "--native-from kafka: expected changelog, none" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" --native-from kafka
check_usage_error "bridge: changelog without a topic" "project.changelog.topic is empty" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" -X project.changelog.topic=
check_usage_error "bridge --http-error-status up" "--http-error-status up: expected degraded or down" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" --http-error-status up
check_usage_error "bridge --interval-ms 0" "--interval-ms 0: expected an integer" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" --interval-ms 0
check_usage_error "bridge --concurrency 0" "--concurrency 0: expected an integer" \
  "(see 'seerlog help bridge')" "${B[@]}" --inventory "$TMP/inv.ok" --concurrency 0

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
