# Unit tests of sl_schema, and the oracle that holds the same compatibility pairs to python3-avro.
sl_add_unit_test(test_schema test_schema.c)
target_link_libraries(test_schema PRIVATE sl_schema)
target_compile_definitions(
  test_schema PRIVATE SL_COMPAT_PAIRS_JSON="${CMAKE_CURRENT_SOURCE_DIR}/compat_pairs.json"
                      SL_NODE_STATE_AVSC="${PROJECT_SOURCE_DIR}/schemas/node_state.avsc")

add_test(NAME compat_oracle COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/compat_oracle.py
                                    ${CMAKE_CURRENT_SOURCE_DIR}/compat_pairs.json)
set_tests_properties(compat_oracle PROPERTIES LABELS unit TIMEOUT 120)
