# The producer library (sl_producer.h): routing, outbox (LMDB), idempotent production,
# coalescing, control-topic lag.
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)

set(SL_CONTROL_SCHEMA_SRC ${PROJECT_SOURCE_DIR}/schemas/control.avsc)
set(SL_CONTROL_SCHEMA_C ${CMAKE_CURRENT_BINARY_DIR}/control_avsc.c)
add_custom_command(
  OUTPUT ${SL_CONTROL_SCHEMA_C}
  COMMAND ${CMAKE_COMMAND} -DIN=${SL_CONTROL_SCHEMA_SRC} -DOUT=${SL_CONTROL_SCHEMA_C}
          -DNAME=sl_control_avsc -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
  DEPENDS ${SL_CONTROL_SCHEMA_SRC} ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
  COMMENT "Embedding schemas/control.avsc")

add_library(
  sl_producer STATIC
  ${CMAKE_CURRENT_LIST_DIR}/producer.c ${CMAKE_CURRENT_LIST_DIR}/outbox.c
  ${CMAKE_CURRENT_LIST_DIR}/route.c ${CMAKE_CURRENT_LIST_DIR}/control.c ${SL_CONTROL_SCHEMA_C})
target_include_directories(sl_producer PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(sl_producer PUBLIC sl_event sl_registry_client sl_common PkgConfig::RDKAFKA
                      PRIVATE PkgConfig::LMDB)
