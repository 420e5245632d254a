#!/usr/bin/env bash
# The test command (README; .ci/run calls it): installs what is missing on Debian 12, builds kldiv with
# its tests and examples in Release, and runs every test with ctest.  CC/CXX choose the compiler.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ pkg-config libxsimd-dev xtl-dev doctest-dev)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

build=${KLDIV_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKLDIV_BUILD_BENCHMARKS=OFF
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure
