# xsimd (build-time only: it never appears in kldiv's public headers) and OpenMP.
include(GNUInstallDirs)

# Debian's xsimd 8.1 config links a bare `xtl` target; defining it first avoids "cannot find -lxtl".
find_package(xtl QUIET)
find_package(xsimd REQUIRED)
# The package version file is SameMajorVersion, so a version request would reject xsimd 13 and 14.
if(xsimd_VERSION VERSION_LESS 8.1)
  message(FATAL_ERROR "kldiv needs xsimd >= 8.1, found ${xsimd_VERSION}")
endif()

find_package(OpenMP REQUIRED COMPONENTS CXX)

# IEEE arithmetic exactly as written: no contraction into FMA behind our back (explicit FMAs only), so
# every target computes the same bits; never -ffast-math, which would also set FTZ/DAZ process-wide.
function(kldiv_strict_fp target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang,AppleClang>:-ffp-contract=off -fno-fast-math>
    $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang,AppleClang>:-Wall -Wextra>)
endfunction()
