# Dependencies of the header-only library itself (also looked up again by actConfig.cmake).
# Debian's xsimd 8 package names `xtl` as a link dependency without looking it up; finding xtl
# first turns that name into its (header-only) target instead of a missing -lxtl.
find_package(xtl QUIET)
find_package(xsimd 8 REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3 REQUIRED)
