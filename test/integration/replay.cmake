# seerlog replay and seerlog verify against the real broker: the fleet as of a time equals a
# projection made then; verify matches untouched projections (one still being written too)
# and finds a tampered one (store_tamper alters a store behind the projector's back).
if(TARGET sl_store)
  add_executable(store_tamper ${CMAKE_CURRENT_LIST_DIR}/store_tamper.c)
  target_link_libraries(store_tamper PRIVATE sl_store)
  sl_add_integration_script(test_replay test-replay.sh)
endif()
