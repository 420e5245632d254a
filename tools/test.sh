#!/usr/bin/env bash
# The test command (README; .ci/run calls it): installs what is missing on Debian 12, builds kldiv with
# its tests and examples in Release, and runs every test with ctest.  CC/CXX choose the compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_missing.sh cmake make g++ pkg-config libxsimd-dev xtl-dev doctest-dev

build=${KLDIV_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKLDIV_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure
