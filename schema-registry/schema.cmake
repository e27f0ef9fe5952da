# sl_schema: Avro schemas parsed and validated with jansson, their identity, normalized and
# canonical forms, and the compatibility checker (Confluent's levels over Avro resolution rules).
add_library(sl_schema STATIC ${CMAKE_CURRENT_SOURCE_DIR}/schema.c
                             ${CMAKE_CURRENT_SOURCE_DIR}/compat.c)
target_include_directories(sl_schema PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sl_schema PUBLIC sl_common PkgConfig::JANSSON)
