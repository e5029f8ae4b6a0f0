# Shared part of the Debian cross toolchains. Expects EDGE_TRIPLE and EDGE_QEMU.
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
# Run cross-built programs (tests) under qemu user mode; -L points it at the target's loader.
set(CMAKE_CROSSCOMPILING_EMULATOR ${EDGE_QEMU} -L /usr/${EDGE_TRIPLE})
