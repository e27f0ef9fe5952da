# The main binaries and the quick unit tests under valgrind against the fixture's broker
# (scripts/valgrind; docs/reliability.md). Label "valgrind" only, so that `ctest -L
# integration` does not take its minutes: run it with `ctest -L valgrind` (the kafka fixture
# comes with it). Not in sanitizer builds: valgrind cannot run ASan binaries.
if(NOT SEERLOG_SANITIZE AND NOT SEERLOG_FUZZ)
  sl_add_integration_script(test_valgrind test-valgrind.sh)
  set_tests_properties(test_valgrind PROPERTIES LABELS valgrind TIMEOUT 900)
endif()
