# Dependencies of the header-only library itself (also looked up again by actConfig.cmake).
find_package(xsimd 8 REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(nlohmann_json 3 REQUIRED)
