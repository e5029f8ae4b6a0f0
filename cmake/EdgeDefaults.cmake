# Per-target defaults: warnings as errors on our own code only, sanitizers when asked for.
function(edge_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter)
  target_compile_definitions(${target} PRIVATE _FILE_OFFSET_BITS=64)
  if(EDGE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

if(EDGE_SANITIZE AND CMAKE_CROSSCOMPILING)
  message(FATAL_ERROR "EDGE_SANITIZE is for native builds: sanitizers do not start under qemu user mode")
endif()

# 32-bit armhf: 64-bit file offsets everywhere (rings can exceed 2 GiB) and 64-bit time_t.
add_compile_definitions(_FILE_OFFSET_BITS=64)
