# Installs the built kldiv into a prefix, then builds and runs examples/ against it as an outside
# project would: find_package(kldiv CONFIG REQUIRED).
#   cmake -DBUILD=<build dir> -DSOURCE=<source dir> -DCC=<C compiler> -DCXX=<C++ compiler>
#         [-DTOOLCHAIN=<file> -DLIBDIR=<CMAKE_INSTALL_LIBDIR> -DEMULATOR=<command, | between words>]
#         -P find_package_test.cmake
# The consumer uses kldiv's compilers: their OpenMP runtimes differ (libgomp, libomp).  Cross-built, it
# also uses kldiv's toolchain file, finds kldiv by kldiv_DIR (the toolchain confines package searches
# to its sysroot), and its examples run under the emulator.
set(prefix ${BUILD}/_install)
set(consumer ${BUILD}/_consumer)
file(REMOVE_RECURSE ${prefix} ${consumer})
set(configure "${CMAKE_COMMAND};-S;${SOURCE}/examples;-B;${consumer};-DCMAKE_PREFIX_PATH=${prefix};-DCMAKE_BUILD_TYPE=Release;-DCMAKE_C_COMPILER=${CC};-DCMAKE_CXX_COMPILER=${CXX}")
if(TOOLCHAIN)
  list(APPEND configure "-DCMAKE_TOOLCHAIN_FILE=${TOOLCHAIN}" "-Dkldiv_DIR=${prefix}/${LIBDIR}/cmake/kldiv")
endif()
set(run "")
if(EMULATOR)
  string(REPLACE "|" ";" run "${EMULATOR};")
endif()
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD};--prefix;${prefix}"
    "${configure}"
    "${CMAKE_COMMAND};--build;${consumer}"
    "${run}${consumer}/kldiv_example_c"
    "${run}${consumer}/kldiv_example")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${step}")
  endif()
endforeach()
