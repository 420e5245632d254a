#!/usr/bin/env bash
# The main job (README): installs what is missing, then runs the benchmark report, which builds the
# suite in Release, compares kldiv on every ISA with the memory roofline, the machine's compute ceiling,
# a scalar loop, PyTorch (libtorch) and the peers (loops over SLEEF, Highway, Eigen, xsimd and libmvec
# logs: bench/peers/), prints the table and writes bench/results/{report.md,bench.json,throughput.png}.
# Arguments go to tools/bench_report.py (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make g++ python3 libxsimd-dev xtl-dev libbenchmark-dev gnuplot-nox libtorch-dev \
  libsleef-dev libhwy-dev libeigen3-dev
exec python3 tools/bench_report.py "$@"
