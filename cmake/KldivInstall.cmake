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

# pkg-config: <libdir>/pkgconfig/kldiv.pc, for builds without CMake (a C program linked with gcc, say).
# kldiv is static, so its own dependencies go in Libs.private, which `pkg-config --static` adds: the C++
# runtime (this compiler's implicit link libraries, less what the C driver links anyway) and the OpenMP
# runtime found by find_package(OpenMP) (-lgomp -lpthread with GCC, -lomp with Clang), with -L for a
# runtime outside the linker's default directories.
function(kldiv_install_pkg_config)
  set(libs "")
  foreach(lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
    if(NOT lib MATCHES "^(c|gcc|gcc_s|gcc_eh)$")
      list(APPEND libs "-l${lib}")
    endif()
  endforeach()
  foreach(name IN LISTS OpenMP_CXX_LIB_NAMES)
    get_filename_component(dir "${OpenMP_${name}_LIBRARY}" DIRECTORY)
    if(dir AND NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES AND NOT dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      list(APPEND libs "-L${dir}")
    endif()
    list(APPEND libs "-l${name}")
  endforeach()
  list(REMOVE_DUPLICATES libs)
  list(JOIN libs " " KLDIV_PC_LIBS_PRIVATE)

  set(pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  if(IS_ABSOLUTE "${pcdir}")
    set(KLDIV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")  # an absolute libdir: no relocation
    set(KLDIV_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
    set(KLDIV_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
  else()
    file(RELATIVE_PATH up "/prefix/${pcdir}" "/prefix")  # ../.., or ../../.. for lib/<multiarch>
    string(REGEX REPLACE "/$" "" up "${up}")
    set(KLDIV_PC_PREFIX "\${pcfiledir}/${up}")
    set(KLDIV_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
    set(KLDIV_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
    if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
      set(KLDIV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
    endif()
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/kldiv.pc.in ${PROJECT_BINARY_DIR}/kldiv.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/kldiv.pc DESTINATION ${pcdir})
endfunction()
kldiv_install_pkg_config()
