# Cross build for 32-bit ARM gateways (armhf: Raspberry Pi OS 32-bit, older boards).
# 64-bit file offsets are forced by the build (cmake/EdgeDefaults.cmake); the ring's on-disk
# format is encoded byte by byte, so a ring written here reads the same on arm64 and amd64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(EDGE_TRIPLE arm-linux-gnueabihf)
set(EDGE_DEB_ARCH armhf)
set(EDGE_LOADER /lib/ld-linux-armhf.so.3)
set(EDGE_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
