# seerlog snapshot against third-party readers: snapshot_fill builds a store, seerlog exports it,
# fastavro (scripts/python-env) reads the file. No broker: labelled unit.
if(TARGET sl_snapshot)
  add_executable(snapshot_fill ${CMAKE_CURRENT_LIST_DIR}/snapshot_fill.c)
  target_link_libraries(snapshot_fill PRIVATE sl_store)
  sl_add_integration_script(test_snapshot_interop test-snapshot-interop.sh NO_FIXTURE)
  set_tests_properties(test_snapshot_interop PROPERTIES LABELS unit TIMEOUT 120)
endif()
