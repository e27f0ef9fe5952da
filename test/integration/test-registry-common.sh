#!/usr/bin/env bash
# Runs one of the registry's Python integration tests (test_registry_*.py, python3 standard
# library only) and makes sure no registry it started survives it: the test keeps the pids of
# its running registries in $SEERLOG_TEST_PIDFILE and the trap kills those. On failure, prints
# the end of each registry's log.
# Usage (from a test-registry-*.sh wrapper): test-registry-common.sh test_registry_X.py
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE (or SEERLOG_TEST_BOOTSTRAP),
# SEERLOG_BINARY_DIR.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test=${1:?usage: test-registry-common.sh test_registry_X.py}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/seerlog-${test%.py}.XXXXXX")
export SEERLOG_TEST_PIDFILE=$TMP/pids SEERLOG_TEST_TMP=$TMP

# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local pid
  if [[ -f $TMP/pids ]]; then
    while read -r pid; do
      [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
    done <"$TMP/pids"
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$here${PYTHONPATH:+:$PYTHONPATH} python3 -u "$here/$test"
rc=$?
if ((rc != 0)); then
  for log in "$TMP"/*.log; do
    [[ -f $log ]] || continue
    echo "---- last lines of $(basename "$log")"
    tail -n 25 "$log"
  done
fi
exit "$rc"
