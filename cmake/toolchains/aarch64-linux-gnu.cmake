# Cross-compiling kldiv for 64-bit Arm Linux on a Debian x86-64 host, and running its tests under qemu:
#
#   tools/install_missing.sh g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#   cmake -S . -B build-aarch64 --toolchain cmake/toolchains/aarch64-linux-gnu.cmake -DKLDIV_INSTALL=OFF
#   cmake --build build-aarch64 -j && ctest --test-dir build-aarch64     (.ci/aarch64.sh does this)
#
# Compilers, C library, libstdc++ and libgomp (OpenMP) all come from Debian's cross toolchain, rooted in
# /usr/aarch64-linux-gnu; nothing is looked up among the host's libraries.  xsimd, xtl and doctest are
# header-only and architecture-independent, so the host's copies are used, but only those: their CMake
# package files are copied into the build tree next to an include directory that holds just their three
# header trees (a plain -isystem /usr/include would also put the host's x86-64 C headers in front of the
# cross ones).  ctest runs every test executable through CMAKE_CROSSCOMPILING_EMULATOR.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(KLDIV_CROSS_TRIPLE aarch64-linux-gnu)
set(KLDIV_CROSS_SYSROOT /usr/${KLDIV_CROSS_TRIPLE})
set(CMAKE_C_COMPILER ${KLDIV_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${KLDIV_CROSS_TRIPLE}-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L ${KLDIV_CROSS_SYSROOT})

# Programs from the host; libraries, headers and packages from the cross root only.
set(CMAKE_FIND_ROOT_PATH ${KLDIV_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# The header-only packages.  Each package directory is copied to the same path under a staging prefix,
# so that its relocatable targets file computes the staging prefix, whose include/ has only these headers.
# (Copied, not linked: the package files resolve links and would return to /usr.)
get_property(_kldiv_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT _kldiv_in_try_compile)
  set(_kldiv_stage ${CMAKE_BINARY_DIR}/_host_header_packages)
  foreach(_kldiv_pkg xsimd xtl doctest)
    file(GLOB _kldiv_config LIST_DIRECTORIES false
      /usr/lib/*/cmake/${_kldiv_pkg}/${_kldiv_pkg}Config.cmake
      /usr/lib/cmake/${_kldiv_pkg}/${_kldiv_pkg}Config.cmake
      /usr/share/cmake/${_kldiv_pkg}/${_kldiv_pkg}Config.cmake)
    if(NOT _kldiv_config OR NOT IS_DIRECTORY /usr/include/${_kldiv_pkg})
      message(FATAL_ERROR "aarch64 toolchain: the host's ${_kldiv_pkg} package (CMake files and /usr/include/${_kldiv_pkg}) "
                          "is missing; install libxsimd-dev xtl-dev doctest-dev")
    endif()
    list(GET _kldiv_config 0 _kldiv_config)
    get_filename_component(_kldiv_dir ${_kldiv_config} DIRECTORY)
    file(COPY ${_kldiv_dir}/ DESTINATION ${_kldiv_stage}${_kldiv_dir})
    file(MAKE_DIRECTORY ${_kldiv_stage}/usr/include)
    file(CREATE_LINK /usr/include/${_kldiv_pkg} ${_kldiv_stage}/usr/include/${_kldiv_pkg} SYMBOLIC)
    set(${_kldiv_pkg}_DIR ${_kldiv_stage}${_kldiv_dir} CACHE PATH "host's header-only ${_kldiv_pkg}, staged" FORCE)
  endforeach()
endif()
