# One object library per instruction set, each from its own file in src/isa/ with its own flags, merged
# into kldiv.  Nothing else is compiled with ISA flags, so the library runs on any CPU of its
# architecture; dispatch.cpp picks the kernels at run time.
set(KLDIV_ISAS "" CACHE INTERNAL "")

function(kldiv_add_isa target name)
  set(obj kldiv_isa_${name})
  add_library(${obj} OBJECT ${PROJECT_SOURCE_DIR}/src/isa/${name}.cpp)
  target_link_libraries(${obj} PRIVATE xsimd)
  target_include_directories(${obj} PRIVATE ${PROJECT_SOURCE_DIR}/include)  # the element types
  target_compile_features(${obj} PRIVATE cxx_std_17)
  set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  kldiv_strict_fp(${obj})
  # Optimised even in Debug: inlining keeps xsimd's helpers out of the weak symbols that the
  # linker could otherwise pick from a wider ISA's object for a narrower one.
  target_compile_options(${obj} PRIVATE ${ARGN} $<$<CONFIG:Debug>:-O2>)
  target_sources(${target} PRIVATE $<TARGET_OBJECTS:${obj}>)
  string(TOUPPER ${name} upper)
  target_compile_definitions(${target} PRIVATE KLDIV_HAVE_${upper})
  set(KLDIV_ISAS ${KLDIV_ISAS} ${name} CACHE INTERNAL "")
endfunction()

# KLDIV_ISA_KERNELS narrows the set, for embedders who need a smaller library or a faster build (the
# TSan tree of .ci/sanitizers.sh); scalar, the fallback of every CPU, is always compiled.
set(KLDIV_ISA_KERNELS "" CACHE STRING
  "ISAs to compile kernels for, a ;-list (empty: every one of the target architecture; scalar always)")

function(kldiv_add_isa_kernels target)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(isas avx512 avx2 sse2 scalar)
    set(avx512_flags -mavx512f -mavx512cd -mavx512dq -mfma)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      list(APPEND avx512_flags -Wno-uninitialized)  # GCC 12 misreads the AVX-512 intrinsics' __Y
    endif()
    set(avx2_flags -mavx2 -mfma -mf16c)  # every AVX2 CPU has F16C; dispatch checks
    set(sse2_flags -msse2)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
    set(isas neon scalar)
  else()
    set(isas scalar)
  endif()
  foreach(name IN LISTS KLDIV_ISA_KERNELS)
    if(NOT name IN_LIST isas)
      message(FATAL_ERROR "KLDIV_ISA_KERNELS: '${name}' is not an ISA of ${CMAKE_SYSTEM_PROCESSOR} (${isas})")
    endif()
  endforeach()
  foreach(name IN LISTS isas)
    if(name STREQUAL "scalar" OR NOT KLDIV_ISA_KERNELS OR name IN_LIST KLDIV_ISA_KERNELS)
      kldiv_add_isa(${target} ${name} ${${name}_flags})
    endif()
  endforeach()
  message(STATUS "kldiv: kernels for ${KLDIV_ISAS}")
endfunction()
