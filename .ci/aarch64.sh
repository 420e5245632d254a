#!/usr/bin/env bash
# The test suite for aarch64: built with Debian's cross g++ (cmake/toolchains/aarch64-linux-gnu.cmake) and
# run by ctest under qemu-user, two entries side by side (tests/CMakeLists.txt): the cases that compare
# bits on neon and scalar, the rest on neon.  Under emulation the sweeps of test_math.cpp are subsampled
# (KLDIV_TEST_SWEEP_STEP=997) and the large-input accuracy case does not run.  The platform-bits test
# checks the same committed hashes as on x86-64.
#   .ci/aarch64.sh            (build dir: build-aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user \
  libxsimd-dev xtl-dev doctest-dev

build=${KLDIV_AARCH64_BUILD_DIR:-build-aarch64}
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DKLDIV_BUILD_BENCHMARKS=OFF -DKLDIV_BUILD_EXAMPLES=OFF -DKLDIV_INSTALL=OFF
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j2
