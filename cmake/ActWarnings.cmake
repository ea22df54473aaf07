# Warnings for the project's own executables (tests, benchmarks, examples); not exported.
add_library(act_warnings INTERFACE)
target_compile_options(act_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wno-sign-conversion -Werror=return-type)
if(ACT_SANITIZE)
  target_compile_options(act_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(act_warnings INTERFACE -fsanitize=address,undefined)
endif()
