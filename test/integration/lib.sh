# Shared by the integration test scripts (sourced): pass/fail counters and free ports.
# shellcheck shell=bash disable=SC2034

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
not_ok() {
  failed=$((failed + 1)); echo "FAIL $1"; shift
  for line in "$@"; do echo "     $line"; done
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
