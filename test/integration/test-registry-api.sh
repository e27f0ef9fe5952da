#!/usr/bin/env bash
# seerlog registry: see test_registry_api.py.
exec bash "$(dirname "${BASH_SOURCE[0]}")/test-registry-common.sh" test_registry_api.py
