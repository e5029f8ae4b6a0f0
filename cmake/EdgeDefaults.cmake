# Per-target defaults: warnings as errors on our own code only, sanitizers when asked for.
function(edge_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter)
  target_compile_definitions(${target} PRIVATE _FILE_OFFSET_BITS=64)
  if(EDGE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
  if(EDGE_FUZZ)
    # Coverage for libFuzzer in every edge library, not only the fuzz target's own file; UB
    # aborts (it would only be printed otherwise) so the fuzzer keeps the input.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                             -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

if(EDGE_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "EDGE_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                      "-DCMAKE_C_COMPILER=clang")
endif()
if(EDGE_FUZZ AND CMAKE_CROSSCOMPILING)
  message(FATAL_ERROR "EDGE_FUZZ is for native builds: fuzzers do not run under qemu user mode")
endif()

if(EDGE_SANITIZE AND CMAKE_CROSSCOMPILING)
  message(FATAL_ERROR "EDGE_SANITIZE is for native builds: sanitizers do not start under qemu user mode")
endif()

# 32-bit armhf: 64-bit file offsets everywhere (rings can exceed 2 GiB). time_t stays 32-bit:
# Debian bookworm builds its armhf libraries that way and the ABI must match; the on-disk format
# keeps every time in 64-bit fields (agent/ring/format.h), so only the clock itself ends in 2038.
add_compile_definitions(_FILE_OFFSET_BITS=64)
