# Shared by the integration test scripts (sourced): pass/fail counters and free ports.
# shellcheck shell=bash disable=SC2034

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
  failed=$((failed + 1)); echo "FAIL $1"; shift
  for line in "$@"; do echo "     $line"; done
}

# finish: prints the counts and exits 0 if no check failed, 1 otherwise.
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
  exit $?
}

# python_venv ROOT: sets PY to the Python of the project's virtualenv (scripts/python-env), or
# counts a failure and finishes when it is missing or out of date.
python_venv() {
  local why
  if ! why=$("$1/scripts/python-env" --check 2>&1 >/dev/null); then
    not_ok "the Python virtualenv is not ready: $why (run scripts/python-env)"
    finish
  fi
  PY=$("$1/scripts/python-env" --path)/bin/python
}

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
  [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]] &&
    ! timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# free_port_pair START: the first PORT >= START, in steps of 2, with PORT and PORT+1 free (a
# broker and its controller). Test ports stay below Linux's ephemeral range (32768-60999), so
# no client socket of another test can be holding them.
free_port_pair() {
  local port=$1
  while ! { port_free "$port" && port_free $((port + 1)); }; do port=$((port + 2)); done
  echo "$port"
}

# start_registry NAME: a `seerlog registry` of the test's own on a free port, over its own
# topic (_schemas_NAME_$UNIQ), log in $TMP/registry.log; sets REG (its URL) and REG_PID (the
# caller's cleanup kills it). Needs SEERLOG, BOOTSTRAP, UNIQ, TMP. Returns 1 if it does not
# answer within 30 s.
start_registry() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  REG=http://127.0.0.1:$port
  "$SEERLOG" registry --listen "127.0.0.1:$port" --bootstrap "$BOOTSTRAP" \
    -X "registry.topic=_schemas_$1_$UNIQ" -X "registry.group.id=reg-$1-$UNIQ" \
    >"$TMP/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 300); do
    curl -sf "$REG/" >/dev/null 2>&1 && return 0
    kill -0 "$REG_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# api_port ERRFILE PID: waits (up to 10 s) for the projector PID to print the port of its HTTP
# API ("HTTP API on port N") to ERRFILE, and prints the port (nothing if it did not).
api_port() {
  local port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*HTTP API on port \([0-9]*\).*/\1/p' "$1")
    [[ -n $port ]] && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "$port"
}
