include(CMakePackageConfigHelpers)
install(TARGETS act EXPORT actTargets)
install(DIRECTORY include/act DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT actTargets NAMESPACE act:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/act)
configure_package_config_file(cmake/actConfig.cmake.in ${PROJECT_BINARY_DIR}/actConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/act)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/actConfigVersion.cmake COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/actConfig.cmake ${PROJECT_BINARY_DIR}/actConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/act)
