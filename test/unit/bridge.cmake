# The bridge's inventory parser (cmd/bridge_inventory.h): good files, bad lines, duplicates.
if(TARGET sl_bridge_inventory)
  sl_add_unit_test(test_bridge_inventory ${CMAKE_CURRENT_LIST_DIR}/test_bridge_inventory.c)
  target_link_libraries(test_bridge_inventory PRIVATE sl_bridge_inventory)
endif()
