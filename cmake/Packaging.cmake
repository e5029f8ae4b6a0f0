# Debian packages (.deb) for amd64, arm64 and armhf with CPack; scripts/package.sh builds them
# from the respective build directories, tests/package checks the amd64 one installed.
#
# The package is laid out for Debian, and the systemd unit names these paths:
#   /usr/bin/edge-agent                    the binary (stripped)
#   /etc/edge-agent/agent.json             the default config, a conffile (config/package/)
#   /lib/systemd/system/edge-agent.service config/systemd/edge-agent.service
#   /usr/share/man/man1/edge-agent.1.gz    made from `edge-agent --help` at build time
#   /usr/share/doc/edge-agent/             README.md, examples, copyright
#   /var/lib/edge-agent                    the state directory, made by postinst (user edge-agent)
# The /etc and /lib paths are absolute install destinations: `cmake --install` without DESTDIR
# writes them to the running system, as the package would.
#
# Depends are declared by hand, the same package names on all three architectures in bookworm;
# tests/package/package_install_test.sh checks them against what the binary really links.

set(EDGE_DEB_ARCH "")
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(EDGE_DEB_ARCH amd64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(EDGE_DEB_ARCH arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm")
  set(EDGE_DEB_ARCH armhf)
endif()
if(NOT EDGE_DEB_ARCH)
  message(STATUS "packaging: no Debian architecture for ${CMAKE_SYSTEM_PROCESSOR}; no package")
  return()
endif()

set(pkg_dir ${PROJECT_SOURCE_DIR}/config/package)
install(FILES ${pkg_dir}/agent.json DESTINATION /etc/edge-agent COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/config/systemd/edge-agent.service
        DESTINATION /lib/systemd/system COMPONENT agent)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${pkg_dir}/copyright
        DESTINATION share/doc/edge-agent COMPONENT agent)
# Debian wants a changelog.Debian.gz in every package's doc directory.
set(changelog ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
add_custom_command(OUTPUT ${changelog}
  COMMAND gzip -9n -c ${pkg_dir}/changelog > ${changelog}
  DEPENDS ${pkg_dir}/changelog COMMENT "changelog.Debian.gz")
add_custom_target(edge_agent_changelog ALL DEPENDS ${changelog})
install(FILES ${changelog} DESTINATION share/doc/edge-agent COMPONENT agent)
# What is linked in statically, with the exact Debian version (Debian's Built-Using field, which
# CPack cannot write): a librabbitmq security update means rebuilding edge-agent against it.
if(EDGE_STATIC_RABBITMQ)
  execute_process(COMMAND dpkg-query -W "-f=\${source:Package} (= \${source:Version})"
                          librabbitmq-dev:${EDGE_DEB_ARCH}
                  OUTPUT_VARIABLE edge_built_using RESULT_VARIABLE rc ERROR_QUIET)
  # An archive unpacked from the .deb instead (scripts/armhf-deps.sh) has the version in a file
  # "built-using" at the top of the unpacked tree: <root>/usr/lib/<triple>/librabbitmq.a.
  if((NOT rc EQUAL 0 OR NOT edge_built_using) AND EDGE_RABBITMQ_STATIC_LIBRARY)
    get_filename_component(edge_unpacked_root "${EDGE_RABBITMQ_STATIC_LIBRARY}/../../../.." ABSOLUTE)
    if(EXISTS ${edge_unpacked_root}/built-using)
      file(STRINGS ${edge_unpacked_root}/built-using edge_built_using LIMIT_COUNT 1)
      set(rc 0)
    endif()
  endif()
  if(NOT rc EQUAL 0 OR NOT edge_built_using)
    set(edge_built_using "librabbitmq (version unknown: librabbitmq-dev:${EDGE_DEB_ARCH} not installed)")
  endif()
  if(EDGE_STATIC_LIBSTDCXX AND NOT EDGE_SANITIZE AND NOT EDGE_FUZZ)
    # Cross builds take libstdc++.a from the cross toolchain's package (an amd64 package).
    set(edge_libstdcxx_pkg libstdc++-12-dev:${EDGE_DEB_ARCH})
    if(CMAKE_CROSSCOMPILING)
      set(edge_libstdcxx_pkg libstdc++-12-dev-${EDGE_DEB_ARCH}-cross)
    endif()
    execute_process(COMMAND dpkg-query -W "-f=\${source:Package} (= \${source:Version})"
                            ${edge_libstdcxx_pkg}
                    OUTPUT_VARIABLE edge_built_using_gcc RESULT_VARIABLE rc ERROR_QUIET)
    if(NOT rc EQUAL 0 OR NOT edge_built_using_gcc)
      set(edge_built_using_gcc "gcc-12 (version unknown: ${edge_libstdcxx_pkg} not installed)")
    endif()
    string(APPEND edge_built_using ", ${edge_built_using_gcc}")
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/built-using
       "edge-agent links these Debian packages statically (Built-Using):\n${edge_built_using}\n")
  install(FILES ${CMAKE_BINARY_DIR}/built-using DESTINATION share/doc/edge-agent COMPONENT agent)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/config/examples/
        DESTINATION share/doc/edge-agent/examples COMPONENT agent)

# The man page is the --help text, so the two cannot disagree (and the README's command list
# is checked against --help too: scripts/update-readme-usage.sh). Cross builds run the binary
# under the emulator: printing help starts no thread, so qemu user mode copes.
set(man_page ${CMAKE_BINARY_DIR}/edge-agent.1.gz)
string(REPLACE ";" " " emulator "${CMAKE_CROSSCOMPILING_EMULATOR}")
add_custom_command(OUTPUT ${man_page}
  COMMAND ${CMAKE_COMMAND} "-DAGENT=$<TARGET_FILE:edge-agent>"
          "-DEMULATOR=${emulator}" -DVERSION=${PROJECT_VERSION}
          -DOUT=${man_page} -P ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
  DEPENDS edge-agent ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
  COMMENT "edge-agent.1 from --help" VERBATIM)
add_custom_target(edge_agent_man_page ALL DEPENDS ${man_page})
install(FILES ${man_page} DESTINATION share/man/man1 COMPONENT agent)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edge-agent)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "power-loss-safe forwarding of gateway payloads to RabbitMQ")
set(CPACK_PACKAGE_CONTACT "edge-agent maintainers <edge-agent@example.org>")
# CPack writes CPACK_PACKAGE_DESCRIPTION_SUMMARY as the synopsis; this is the extended part
# (lines under 80 columns, as Debian asks).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "edge-agent keeps every payload local programs hand it over a Unix socket
in a bounded on-disk ring that survives power loss, and forwards the ring
to RabbitMQ over TLS AMQP with publisher confirms, re-sending whatever was
not confirmed after any reconnect. The same binary can run a work-queue
worker. Configure /etc/edge-agent/agent.json, then run
systemctl enable --now edge-agent.")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${EDGE_DEB_ARCH})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/edge-agent/edge-agent")
# Debian bookworm's runtime packages for what the binary links (ldd: libmbedtls.so.14,
# libmbedx509.so.1, libmbedcrypto.so.7, libcjson.so.1, libc; with EDGE_STATIC_LIBSTDCXX=OFF also
# libstdc++, libgcc_s, libm); adduser for postinst (runuser comes from util-linux, which is
# essential). librabbitmq is linked from its static archive (cmake/EdgeDependencies.cmake says
# why), so no librabbitmq4 and no OpenSSL; the C++ runtime too by default (agent/cli/CMakeLists.txt).
set(edge_deb_cxx_runtime "")
if(NOT EDGE_STATIC_LIBSTDCXX OR EDGE_SANITIZE OR EDGE_FUZZ)
  set(edge_deb_cxx_runtime "libgcc-s1 (>= 3.0), libstdc++6 (>= 12), ")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.34), ${edge_deb_cxx_runtime}libmbedtls14 (>= 2.28.0), libmbedx509-1 (>= 2.28.0), libmbedcrypto7 (>= 2.28.0), libcjson1 (>= 1.7.15), adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "ca-certificates, rabbitmq-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pkg_dir}/conffiles ${pkg_dir}/postinst ${pkg_dir}/prerm ${pkg_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
