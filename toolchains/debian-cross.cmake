# Shared part of the Debian cross toolchains. Expects EDGE_TRIPLE, EDGE_DEB_ARCH and EDGE_QEMU.
set(CMAKE_C_COMPILER ${EDGE_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${EDGE_TRIPLE}-g++)
# Debian multiarch: libraries live in /usr/lib/<triple>, headers in /usr/include; this makes
# find_library and find_package look in the triple's directory first.
set(CMAKE_LIBRARY_ARCHITECTURE ${EDGE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH /usr/${EDGE_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${EDGE_TRIPLE}/pkgconfig:/usr/share/pkgconfig)
# The multiarch libraries pull in further libraries (libssl for librabbitmq): let the linker
# find those in the triple's directory too.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,-rpath-link,/usr/lib/${EDGE_TRIPLE} -Wl,-rpath-link,/lib/${EDGE_TRIPLE}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-Wl,-rpath-link,/usr/lib/${EDGE_TRIPLE} -Wl,-rpath-link,/lib/${EDGE_TRIPLE}")

# Run cross-built programs (tests) under qemu user mode, with the target's Debian multiarch
# runtime (libc6:<arch>, libstdc++6:<arch>), exactly what a Debian gateway runs: the program's
# loader is /lib/ld-linux-*.so.*, libraries come from /lib/<triple> and /usr/lib/<triple>.
#
# Deliberately NOT `-L /usr/<triple>`: that prefix gives the program the cross toolchain's
# loader (libc6-<arch>-cross, 2.36-8cross1) while the loader's search path still finds the
# multiarch libc.so.6 (libc6:<arch>, a later bookworm point release) that the :<arch> -dev
# packages pull in. ld.so and libc.so.6 from different glibc builds disagree on the layout of
# their private shared state (_rtld_global): the first pthread_create then loops forever walking
# the thread-stack cache list. That was the "qemu-user hangs creating a thread" seen on CI; it
# is not a qemu or kernel bug, and with a matching pair every threaded suite runs under qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGE_QEMU})
foreach(edge_runtime_file ${EDGE_LOADER} /usr/lib/${EDGE_TRIPLE}/libstdc++.so.6)
  if(NOT EXISTS ${edge_runtime_file})
    message(FATAL_ERROR "cross build for ${EDGE_TRIPLE}: ${edge_runtime_file} is missing, so "
      "cross-built tests cannot run under ${EDGE_QEMU}; install the target's runtime: "
      "apt-get install libc6:${EDGE_DEB_ARCH} libstdc++6:${EDGE_DEB_ARCH} "
      "(scripts/install-deps.sh does)")
  endif()
endforeach()
