# Installs the headers and one export file per component, so that find_package(act COMPONENTS ...)
# loads only the targets (and looks up only the dependencies) a consumer asks for.
include(CMakePackageConfigHelpers)
install(DIRECTORY include/act DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(act_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/act)
install(TARGETS act act_native EXPORT actTargets)
install(EXPORT actTargets NAMESPACE act:: DESTINATION ${act_cmake_dir})
foreach(component IN LISTS ACT_COMPONENTS)
  install(TARGETS act_${component} EXPORT act_${component}Targets)
  install(EXPORT act_${component}Targets NAMESPACE act:: DESTINATION ${act_cmake_dir})
endforeach()
configure_package_config_file(cmake/actConfig.cmake.in ${PROJECT_BINARY_DIR}/actConfig.cmake
  INSTALL_DESTINATION ${act_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/actConfigVersion.cmake COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/actConfig.cmake ${PROJECT_BINARY_DIR}/actConfigVersion.cmake
  DESTINATION ${act_cmake_dir})
