# Warnings for the project's own executables (tests, benchmarks, examples); not exported.
add_library(act_warnings INTERFACE)
target_compile_options(act_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
  -Wno-sign-conversion -Werror=return-type)
if(ACT_SANITIZE)
  # GCC's `undefined` group leaves out float-cast-overflow (a double too large for the integer it is
  # converted to); both compilers accept it by name.
  set(act_sanitizers -fsanitize=address,undefined,float-cast-overflow)
  target_compile_options(act_warnings INTERFACE ${act_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(act_warnings INTERFACE ${act_sanitizers})
endif()
