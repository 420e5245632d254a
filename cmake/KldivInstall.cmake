# install + export: find_package(kldiv CONFIG) after `cmake --install`.
include(CMakePackageConfigHelpers)

install(TARGETS kldiv EXPORT kldivTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/kldiv DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT kldivTargets NAMESPACE kldiv:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kldiv)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kldivConfig.cmake.in
  ${PROJECT_BINARY_DIR}/kldivConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kldiv)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kldivConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kldivConfig.cmake ${PROJECT_BINARY_DIR}/kldivConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/kldiv)
