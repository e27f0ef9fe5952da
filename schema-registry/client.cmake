# The schema registry client (sl_registry.h): libcurl for HTTP, jansson for JSON.
# GLOBAL so that every directory linking sl_registry_client (cmd/, test/) sees the target; the
# server's cmake may look libcurl up as well, hence the guard.
if(NOT TARGET PkgConfig::CURL)
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET GLOBAL libcurl)
endif()
find_package(Threads REQUIRED)

add_library(sl_registry_client STATIC ${CMAKE_CURRENT_LIST_DIR}/client.c)
target_include_directories(sl_registry_client PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(sl_registry_client PUBLIC sl_common sl_event PkgConfig::JANSSON
                      PRIVATE PkgConfig::CURL Threads::Threads)
