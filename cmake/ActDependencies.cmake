# Finding dependencies. Each missing one stops configure with one line that names the Debian
# package providing it (tools/install_deps.sh installs them all), instead of a link error later.

# act_find_required(<package> <debian-package> [find_package arguments...])
macro(act_find_required package debian)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR "act: ${package} not found: install the Debian package '${debian}' "
                        "(tools/install_deps.sh installs every package the build needs)")
  endif()
endmacro()

# The engine library: xsimd, and OpenMP unless ACT_WITH_OPENMP is off. Debian's xsimd 8 config names
# `xtl` as a link library without looking it up; finding xtl first makes that name its header-only
# target instead of a missing -lxtl at link time.
act_find_required(xtl xtl-dev)
act_find_required(xsimd libxsimd-dev 8)
if(ACT_WITH_OPENMP)
  act_find_required(OpenMP "libgomp1 (with g++) or libomp-dev (with clang)" COMPONENTS CXX)
endif()

# JSON head sets and everything above them (act::heads, act::llama, act::eval). Optional for a
# consumer that only wants act::act; required for the project's own tests, examples and tools.
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND AND (ACT_BUILD_TESTS OR ACT_BUILD_EXAMPLES OR ACT_BUILD_FUZZERS))
  act_find_required(nlohmann_json nlohmann-json3-dev 3)
endif()
