# The schema registry client against a canned libmicrohttpd server in the test process.
if(TARGET sl_registry_client)
  if(NOT TARGET PkgConfig::MHD)
    pkg_check_modules(MHD REQUIRED IMPORTED_TARGET GLOBAL libmicrohttpd)
  endif()
  sl_add_unit_test(test_registry_client ${CMAKE_CURRENT_LIST_DIR}/test_registry_client.c)
  target_link_libraries(test_registry_client PRIVATE sl_registry_client PkgConfig::MHD)
endif()
