# Cross build for 64-bit ARM gateways (Raspberry Pi 3/4/5 with a 64-bit OS) with Debian's cross
# compiler and the :arm64 multiarch -dev packages (scripts/install-deps.sh installs both).
# ctest runs the cross-built tests under qemu user mode through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(EDGE_TRIPLE aarch64-linux-gnu)
set(EDGE_DEB_ARCH arm64)
set(EDGE_LOADER /lib/ld-linux-aarch64.so.1)
set(EDGE_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
