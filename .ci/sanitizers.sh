#!/usr/bin/env bash
# The test suite under the sanitizers; each run must be clean (any report fails it):
#   asan: AddressSanitizer + UndefinedBehaviorSanitizer (leaks included: .ci/lsan.supp ignores only blocks
#         that libomp's own allocator leaves at exit), Clang with LLVM's libomp.  (GCC 12
#         takes 2 to 7 minutes per ISA file with -fsanitize=address on the always-inlined kernels; Clang
#         is faster, though its ISA files now take 2 to 3 minutes each too (docs/ci-time.md).  GCC's own
#         build is the native one, and Clang's ASan+UBSan also runs in .ci/fuzz.sh.)
#   tsan: ThreadSanitizer, Clang with LLVM's libomp and its Archer tool, which tells TSan about OpenMP's
#         barriers, tasks and locks (GCC's libgomp is not instrumented, so TSan would report its
#         synchronisation as races: false positives).  TSAN_OPTIONS ignore_noninstrumented_modules=1, as
#         Archer's documentation prescribes, drops races *inside* the uninstrumented runtime only; every
#         access from kldiv's and the tests' code is checked.
#   .ci/sanitizers.sh [asan] [tsan]        (default: both; build dirs build-fuzz, build-tsan)
# The float sweeps of tests/test_math.cpp and test_half.cpp are subsampled (KLDIV_TEST_SWEEP_STEP, default
# here 997); asan runs everything else in full.  tsan runs the cases that call the library from several
# threads or at several thread counts (KLDIV_TSAN_CASES, doctest wildcards; "*" for all): races live in
# the OpenMP regions, which those cases drive on every entry point, and the full suite under TSan would
# take CI's time budget twice over.  For the same reason its tree compiles the scalar kernels only
# (KLDIV_ISA_KERNELS): the threading code does not depend on the ISA, and the SIMD files are most of the
# build.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make clang libclang-rt-14-dev libomp-dev libxsimd-dev xtl-dev doctest-dev

# -gline-tables-only: enough for TSan's stack traces, and a fifth less build than -g (docs/ci-time.md).
lines="-O2 -gline-tables-only -DNDEBUG"
common=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS_RELWITHDEBINFO=$lines" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$lines"
  -DKLDIV_BUILD_BENCHMARKS=OFF -DKLDIV_BUILD_EXAMPLES=OFF -DKLDIV_INSTALL=OFF)

# The ASan+UBSan suite is built in the fuzzer's tree (tests/fuzz, KLDIV_BUILD_TESTS=ON: the same
# sanitizers, plus coverage counters that cost the tests little), so .ci/fuzz.sh finds it built: one
# instrumented build of the library instead of two, about five minutes less on a 2-core machine.
asan() {
  local build=${KLDIV_FUZZ_BUILD_DIR:-build-fuzz}
  cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DKLDIV_BUILD_TESTS=ON \
    -DKLDIV_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1:strict_init_order=1 \
  LSAN_OPTIONS=suppressions=$PWD/.ci/lsan.supp:print_suppressions=1:fast_unwind_on_malloc=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  KLDIV_TEST_SWEEP_STEP=${KLDIV_ASAN_SWEEP_STEP:-997} \
    ctest --test-dir "$build/kldiv" --output-on-failure
}

tsan() {
  local flags="-fsanitize=thread -fno-omit-frame-pointer"
  cmake -S . -B build-tsan "${common[@]}" -DKLDIV_ISA_KERNELS=scalar -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread"
  cmake --build build-tsan -j"$(nproc)"
  # libarcher.so sits next to Clang's libomp.so (Debian: /usr/lib/llvm-14/lib).
  local archer
  archer=$(dirname "$(readlink -f "$(command -v clang++)")")/../lib/libarcher.so
  [ -f "$archer" ] || { echo "tsan: Archer not found at $archer (libomp-dev)" >&2; exit 1; }
  # Check that Archer really loads: it says so with verbose=1.
  local probe
  probe=$(OMP_TOOL_LIBRARIES=$archer ARCHER_OPTIONS=verbose=1 build-tsan/tests/kldiv_tests \
    --test-case='thread control*' 2>&1 || true)
  grep -q "Archer detected OpenMP application with TSan" <<<"$probe" || {
    echo "tsan: Archer did not load:" >&2
    echo "$probe" >&2
    exit 1
  }
  OMP_TOOL_LIBRARIES=$archer \
  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 ignore_noninstrumented_modules=1" \
  KLDIV_TEST_SWEEP_STEP=${KLDIV_TSAN_SWEEP_STEP:-997} \
    build-tsan/tests/kldiv_tests --test-case="${KLDIV_TSAN_CASES:-*thread*,*concurren*,*bits*,*split*}"
}

for run in "${@:-asan tsan}"; do
  for r in $run; do
    start=$SECONDS
    "$r"
    echo "sanitizers: $r clean in $((SECONDS - start)) s"
  done
done
