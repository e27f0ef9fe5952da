# The producer library: names, routing, outbox, coalescing (librdkafka's mock cluster), lag.
if(TARGET sl_producer)
  sl_add_unit_test(test_producer ${CMAKE_CURRENT_LIST_DIR}/test_producer.c)
  target_link_libraries(test_producer PRIVATE sl_producer)
endif()
