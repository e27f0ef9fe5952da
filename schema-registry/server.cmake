# The registry server (sl_registry_server.h), run by `seerlog registry`: libmicrohttpd for HTTP(S),
# librdkafka for the topic, the election and the transactional writes, libcurl to forward writes
# to the leader.
if(NOT TARGET PkgConfig::CURL)
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET GLOBAL libcurl)
endif()
find_package(Threads REQUIRED)

add_library(
  sl_registry_server STATIC
  ${CMAKE_CURRENT_LIST_DIR}/server.c ${CMAKE_CURRENT_LIST_DIR}/store.c ${CMAKE_CURRENT_LIST_DIR}/map.c
  ${CMAKE_CURRENT_LIST_DIR}/reader.c ${CMAKE_CURRENT_LIST_DIR}/election.c
  ${CMAKE_CURRENT_LIST_DIR}/forward.c ${CMAKE_CURRENT_LIST_DIR}/http.c ${CMAKE_CURRENT_LIST_DIR}/api.c)
target_include_directories(sl_registry_server PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(
  sl_registry_server
  PUBLIC sl_common PkgConfig::RDKAFKA
  PRIVATE sl_schema sl_http PkgConfig::JANSSON PkgConfig::MHD PkgConfig::CURL Threads::Threads)
