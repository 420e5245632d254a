#!/usr/bin/env bash
# The test command (README; .ci/run calls it): installs what is missing on Debian 12, builds kldiv with
# its tests and examples in Release, and runs every test with ctest.  CC/CXX choose the compiler.
# Then the checks in .ci/ (each installs what it needs), in this order:
#   consumers   find_package / add_subdirectory / gcc + pkg-config --static consumers, nm symbol checks
#   aarch64     the suite cross-built for aarch64 and run under qemu (neon, scalar)
#   sanitizers  the suite under ASan+UBSan (GCC) and TSan (Clang, libomp + Archer)
#   fuzz        the C ABI under libFuzzer for 60 s
# KLDIV_TEST_STEPS lists the ones to run (default: all four; "none" for the native suite alone).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install_missing.sh cmake make g++ pkg-config libxsimd-dev xtl-dev doctest-dev python3 python3-numpy

start=$SECONDS
build=${KLDIV_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKLDIV_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure
times="native $((SECONDS - start)) s"

for step in ${KLDIV_TEST_STEPS:-consumers aarch64 sanitizers fuzz}; do
  [ "$step" = none ] && continue
  start=$SECONDS
  case $step in
    consumers) .ci/consumers.sh "$build" ;;
    aarch64 | sanitizers | fuzz) ".ci/$step.sh" ;;
    *) echo "test.sh: unknown step '$step' in KLDIV_TEST_STEPS" >&2; exit 1 ;;
  esac
  times+=", $step $((SECONDS - start)) s"
done
echo "test.sh: all passed ($times)"
