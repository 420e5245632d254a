#!/usr/bin/env bash
# Fuzzes the C ABI, kldiv-eval's included, and its file readers with libFuzzer (tests/fuzz/fuzz_c_abi.cpp;
# Clang, -fsanitize=fuzzer,address,undefined, leak detection on).  Any crash, sanitizer report, leak or
# failed expectation fails the run; the input that caused it is left in build-fuzz/ (crash-*, leak-*, ...)
# and printed in base64.
#   .ci/fuzz.sh                    60 s (KLDIV_FUZZ_SECONDS)
#   KLDIV_FUZZ_RUNS=1000000 .ci/fuzz.sh      a fixed number of executions instead
# The corpus (build-fuzz/corpus) is kept between runs of the same build tree.  .ci/sanitizers.sh asan
# builds the ASan+UBSan suite in this same tree, so after it the build here has nothing left to do.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make clang libclang-rt-14-dev libomp-dev libxsimd-dev xtl-dev

build=${KLDIV_FUZZ_BUILD_DIR:-build-fuzz}
cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j"$(nproc)"
mkdir -p "$build/corpus"

if [ -n "${KLDIV_FUZZ_RUNS:-}" ]; then
  limit=(-runs="$KLDIV_FUZZ_RUNS")
else
  limit=(-max_total_time="${KLDIV_FUZZ_SECONDS:-60}")
fi
# One process, one job: the library's OpenMP threads already use the cores.  -timeout: one input may run
# for at most 20 s; -rss_limit_mb: memory per process; -len_control=0: inputs of any length from the
# start, since an eval program (rows of a vocabulary, a file) needs hundreds of bytes to go deep.
root=$PWD
cd "$build"
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$root/.ci/lsan.supp:fast_unwind_on_malloc=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ./kldiv_fuzz_c_abi "${limit[@]}" -timeout=20 -rss_limit_mb=4096 -len_control=0 -print_final_stats=1 \
  -artifact_prefix=./ corpus 2>fuzz.log || {
  tail -60 fuzz.log >&2
  echo "fuzz: FAILED (log: $build/fuzz.log)" >&2
  exit 1
}
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz.log)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' fuzz.log)
echo "fuzz: clean: $runs executions ($rate per second), corpus of $(ls corpus | wc -l) inputs"
