# Unit tests of sl_sysinfo (the node agent's view of its node): /proc parsers, node files.
sl_add_unit_test(test_sysinfo test_sysinfo.c)
target_link_libraries(test_sysinfo PRIVATE sl_sysinfo)
