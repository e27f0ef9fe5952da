#!/usr/bin/env bash
# Runs test_registry_interop.py (our registry and Avro encoding against confluent-kafka-python)
# with the Python of the virtualenv that scripts/python-env makes. Fails clearly, counting one
# failure, when that virtualenv is missing or out of date.
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR;
# SEERLOG_VENV as for scripts/python-env.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${SEERLOG_SOURCE_DIR:-$here/../..}
venv=$("$root/scripts/python-env" --path)
if ! why=$("$root/scripts/python-env" --check 2>&1 >/dev/null); then
  echo "FAIL the Python virtualenv of the interoperability tests is not ready: $why"
  echo "     run scripts/python-env first (it installs test/python-requirements.txt into $venv)"
  echo "0 passed, 1 failed"
  exit 1
fi
exec "$venv/bin/python" -u "$here/test_registry_interop.py"
