# Debian bookworm packages: librabbitmq-dev, libmbedtls-dev, libcjson-dev (and their :arm64 /
# :armhf variants for cross builds). Found with find_library/find_path so cross builds pick the
# multiarch directory through CMAKE_LIBRARY_ARCHITECTURE set by the toolchain file.
find_package(Threads REQUIRED)

function(edge_find_library target lib header)
  find_library(${target}_LIBRARY NAMES ${lib} REQUIRED)
  find_path(${target}_INCLUDE_DIR NAMES ${header} REQUIRED)
  add_library(${target} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${${target}_LIBRARY}"
                                             INTERFACE_INCLUDE_DIRECTORIES "${${target}_INCLUDE_DIR}")
endfunction()

edge_find_library(edge_dep_rabbitmq rabbitmq amqp.h)  # 0.11 installs amqp.h, tcp_socket.h at top level
edge_find_library(edge_dep_mbedtls mbedtls mbedtls/ssl.h)
edge_find_library(edge_dep_mbedx509 mbedx509 mbedtls/x509_crt.h)
edge_find_library(edge_dep_mbedcrypto mbedcrypto mbedtls/ctr_drbg.h)
edge_find_library(edge_dep_cjson cjson cjson/cJSON.h)

add_library(edge_dep_mbedtls_all INTERFACE)
target_link_libraries(edge_dep_mbedtls_all INTERFACE edge_dep_mbedtls edge_dep_mbedx509 edge_dep_mbedcrypto)
