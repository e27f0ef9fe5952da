#!/usr/bin/env bash
# scripts/valgrind against the fixture's broker, on this build (see valgrind.cmake).
# Environment (set by CTest): SEERLOG_TEST_KAFKA_FILE, SEERLOG_SOURCE_DIR, SEERLOG_BINARY_DIR;
# SEERLOG_VALGRIND_FULL=1 adds every unit test binary (scripts/valgrind --full).
exec "${SEERLOG_SOURCE_DIR:?}/scripts/valgrind" --build-dir "${SEERLOG_BINARY_DIR:?}" \
  --bootstrap "${SEERLOG_TEST_BOOTSTRAP:-$(cat "${SEERLOG_TEST_KAFKA_FILE:?}")}" \
  ${SEERLOG_VALGRIND_FULL:+--full}
