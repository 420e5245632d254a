#!/usr/bin/env bash
# The main job (README): installs what is missing, builds kldiv in Release and runs the example, which
# prints the batchmean KL of a 64x32000 distillation batch, the ISA in use and its throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make g++ libxsimd-dev xtl-dev
build=${KLDIV_BUILD_DIR:-build-run}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DKLDIV_BUILD_TESTS=OFF -DKLDIV_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target kldiv_example kldiv_example_c >/dev/null
"$build/examples/kldiv_example"
"$build/examples/kldiv_example_c"
