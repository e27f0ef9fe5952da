# The fault suite (issue 9), reduced (test/faults/run --quick, about 3 minutes): broker killed
# and frozen, projector and agents killed, registry killed, the store's disk full. It runs a
# broker of its own (it kills and freezes it), on ports 29700-29749, so no fixture.
# `test/faults/run` (default) and `--long` are the full runs, for people.
# SEERLOG_FAULTS_MODE in the environment (--long, or empty for the default run) replaces --quick:
# scripts/test --long sets it.
add_test(NAME test_faults
         COMMAND bash -c "exec \"$0\" \${SEERLOG_FAULTS_MODE---quick} --build \"$1\""
                 ${CMAKE_SOURCE_DIR}/test/faults/run ${CMAKE_BINARY_DIR})
set_tests_properties(
  test_faults PROPERTIES LABELS "integration;faults" TIMEOUT 1800
                         ENVIRONMENT "SEERLOG_SOURCE_DIR=${CMAKE_SOURCE_DIR};SEERLOG_BINARY_DIR=${CMAKE_BINARY_DIR}")
