# Debian bookworm packages: librabbitmq-dev, libmbedtls-dev, libcjson-dev (and their :arm64 /
# :armhf variants for cross builds). Found with find_library/find_path so cross builds pick the
# multiarch directory through CMAKE_LIBRARY_ARCHITECTURE set by the toolchain file.
#
# librabbitmq is linked from the static archive librabbitmq-dev ships (EDGE_STATIC_RABBITMQ,
# default ON); mbedTLS and cJSON stay shared. Why:
#   - Debian's librabbitmq.so.4 links OpenSSL (libssl3, libcrypto3) for rabbitmq-c's own TLS
#     socket, which the agent never uses (TLS is mbedTLS, port/net). A process mapping
#     librabbitmq.so maps OpenSSL too: ~1.4 MiB of the agent's resident memory, and a package
#     dependency on libssl3. From the archive the linker takes only the objects the agent
#     references (~60 KiB); amqp_openssl.o is not one of them.
#   - armhf: librabbitmq4:armhf cannot be co-installed on an amd64 build machine whenever the
#     security archive's armhf index lags amd64's libssl3 (multiarch wants equal versions); the
#     archive from librabbitmq-dev:armhf needs no libssl3:armhf at all.
#   - mbedTLS stays shared on purpose: TLS fixes then reach gateways with Debian's security
#     updates, without a rebuild of edge-agent. (Static mbedTLS would add ~500 KiB to the binary
#     for ~0.3 MiB less resident memory.)
# The price: a fix to librabbitmq needs a rebuild of edge-agent; the package records the version
# it was built from (Built-Using, cmake/Packaging.cmake).
# EDGE_RABBITMQ_STATIC_LIBRARY: path of a librabbitmq.a outside the multiarch directory (the armhf
# one can be taken from its .deb when the package cannot be installed).
find_package(Threads REQUIRED)
option(EDGE_STATIC_RABBITMQ "Link Debian's librabbitmq.a instead of librabbitmq.so" ON)

function(edge_find_library target header)
  find_library(${target}_LIBRARY NAMES ${ARGN} REQUIRED)
  find_path(${target}_INCLUDE_DIR NAMES ${header} REQUIRED)
  add_library(${target} UNKNOWN IMPORTED GLOBAL)
  set_target_properties(${target} PROPERTIES IMPORTED_LOCATION "${${target}_LIBRARY}"
                                             INTERFACE_INCLUDE_DIRECTORIES "${${target}_INCLUDE_DIR}")
endfunction()

set(EDGE_RABBITMQ_STATIC_LIBRARY "" CACHE FILEPATH "librabbitmq.a to link (default: found)")
if(EDGE_RABBITMQ_STATIC_LIBRARY)
  set(edge_dep_rabbitmq_LIBRARY ${EDGE_RABBITMQ_STATIC_LIBRARY} CACHE FILEPATH "" FORCE)
endif()
if(EDGE_STATIC_RABBITMQ)
  edge_find_library(edge_dep_rabbitmq amqp.h librabbitmq.a)
  # The archive uses pthread (rabbitmq-c's library lock); the shared library carried that itself.
  set_property(TARGET edge_dep_rabbitmq PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
else()
  edge_find_library(edge_dep_rabbitmq amqp.h rabbitmq)  # 0.11: amqp.h, tcp_socket.h at top level
endif()
edge_find_library(edge_dep_mbedtls mbedtls/ssl.h mbedtls)
edge_find_library(edge_dep_mbedx509 mbedtls/x509_crt.h mbedx509)
edge_find_library(edge_dep_mbedcrypto mbedtls/ctr_drbg.h mbedcrypto)
edge_find_library(edge_dep_cjson cjson/cJSON.h cjson)

add_library(edge_dep_mbedtls_all INTERFACE)
target_link_libraries(edge_dep_mbedtls_all INTERFACE edge_dep_mbedtls edge_dep_mbedx509 edge_dep_mbedcrypto)
