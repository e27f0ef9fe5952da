# sl_sysinfo: what the node agent reads about its node (/proc, statfs, addresses, node files).
add_library(sl_sysinfo STATIC ${CMAKE_CURRENT_SOURCE_DIR}/sysinfo.c)
target_include_directories(sl_sysinfo PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(sl_sysinfo PUBLIC sl_common sl_event)
