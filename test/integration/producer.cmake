# The producer library against real brokers: kill -9 mid-stream and restart (the fixture's
# broker), and the broker stopped for 30 s mid-stream (its own broker, NO_FIXTURE).
if(TARGET sl_producer)
  add_executable(producer_driver ${CMAKE_CURRENT_LIST_DIR}/producer_driver.c)
  target_link_libraries(producer_driver PRIVATE sl_producer PkgConfig::RDKAFKA)
  sl_add_integration_script(test_producer_crash test-producer-crash.sh)
  sl_add_integration_script(test_producer_broker_down test-producer-broker-down.sh NO_FIXTURE)
  # A 30 s broker outage: fault injection, timing-bound rather than memory-bound, so labelled
  # like the fault suite (scripts/test runs it under ASan only with --long).
  set_tests_properties(test_producer_broker_down PROPERTIES TIMEOUT 420
                       LABELS "integration;faults")
endif()
