# Installs the built kldiv into a prefix, then builds and runs examples/ against it as an outside
# project would: find_package(kldiv CONFIG REQUIRED).
#   cmake -DBUILD=<build dir> -DSOURCE=<source dir> -DCC=<C compiler> -DCXX=<C++ compiler> -P find_package_test.cmake
# The consumer uses kldiv's compilers: their OpenMP runtimes differ (libgomp, libomp).
set(prefix ${BUILD}/_install)
set(consumer ${BUILD}/_consumer)
file(REMOVE_RECURSE ${prefix} ${consumer})
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD};--prefix;${prefix}"
    "${CMAKE_COMMAND};-S;${SOURCE}/examples;-B;${consumer};-DCMAKE_PREFIX_PATH=${prefix};-DCMAKE_BUILD_TYPE=Release;-DCMAKE_C_COMPILER=${CC};-DCMAKE_CXX_COMPILER=${CXX}"
    "${CMAKE_COMMAND};--build;${consumer}"
    "${consumer}/kldiv_example_c"
    "${consumer}/kldiv_example")
  execute_process(COMMAND ${step} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${step}")
  endif()
endforeach()
