#!/usr/bin/env bash
# Real consumers of kldiv, and its symbols, against a Release build (default: build/, as tools/test.sh
# leaves it):
#   (a) find_package(kldiv CONFIG REQUIRED) against an installed prefix: ctest's kldiv_find_package
#       (tests/find_package_test.cmake builds and runs examples/); here, in addition, the installed tree
#       must not mention xsimd (a build-time dependency only).
#   (b) add_subdirectory: tests/consumers/add_subdirectory, which also checks kldiv's options default off.
#       Built with Clang, so that the suite also sees a Release build by Clang 14 (GCC's is the native
#       one), and in a third of GCC's time on the always-inlined kernels.
#   (c) a C program compiled with gcc, including only kldiv/kldiv.h, linked with the static library
#       through the installed kldiv.pc: `pkg-config --static --libs kldiv`; and once more fully static.
#   (d) symbols (nm): libkldiv.a defines no global symbol outside namespace kldiv and the kldiv_ prefix,
#       except weak instantiations of std:: templates (from libstdc++'s headers, which any C++ code that
#       uses std::string instantiates identically) and DW.ref.* (hidden words of the exception-handling
#       tables); and no weak symbol of an ISA object (src/isa/) is defined in any other object, so the
#       linker can never pick an AVX-512 copy of a function for a generic caller.
#   .ci/consumers.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_missing.sh cmake make gcc g++ clang libomp-dev pkg-config binutils libxsimd-dev xtl-dev

build=${1:-${KLDIV_BUILD_DIR:-build}}
[ -f "$build/libkldiv.a" ] || { echo "consumers: no $build/libkldiv.a; run tools/test.sh first" >&2; exit 1; }
work=$PWD/$build/_consumers
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

fail() { echo "consumers: FAILED: $*" >&2; exit 1; }

# (a) find_package itself runs in ctest; the installed package must not need xsimd.
if grep -rIl -i xsimd "$prefix"; then fail "the installed tree mentions xsimd (above)"; fi
echo "consumers: (a) installed package is free of xsimd; find_package consumer: ctest kldiv_find_package"

# (b) add_subdirectory.
cmake -S tests/consumers/add_subdirectory -B "$work/add_subdirectory" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DKLDIV_SOURCE_DIR="$PWD" >/dev/null
cmake --build "$work/add_subdirectory" -j"$(nproc)" >/dev/null
"$work/add_subdirectory/consumer"
echo "consumers: (b) add_subdirectory consumer built and ran"

# (c) C, gcc, pkg-config --static.
pc=$(find "$prefix" -name kldiv.pc)
[ -n "$pc" ] || fail "no kldiv.pc installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
cflags=$(pkg-config --cflags kldiv)
libs=$(pkg-config --static --libs kldiv)
echo "consumers: pkg-config --static --libs kldiv: $libs"
for want in -lkldiv -lstdc++ -lm; do
  grep -qw -- "$want" <<<"$libs" || fail "pkg-config --static --libs lacks $want"
done
grep -qE -- '-l(gomp|omp|iomp5)\b|-fopenmp' <<<"$libs" || fail "pkg-config --static --libs lacks the OpenMP runtime"
src=tests/consumers/pkg_config/main.c
[ "$(grep -c '#include <kldiv' "$src")" = 1 ] && grep -q '#include <kldiv/kldiv.h>' "$src" || fail "$src must include only kldiv/kldiv.h"
# shellcheck disable=SC2086  # the flags are word lists
gcc -std=c99 -Wall -Wextra -pedantic -Werror $cflags "$src" $libs -o "$work/c_consumer"
"$work/c_consumer"
# shellcheck disable=SC2086
gcc -std=c99 -static $cflags "$src" $libs -o "$work/c_consumer_static" 2>"$work/static.log" ||
  { cat "$work/static.log" >&2; fail "fully static link"; }
file "$work/c_consumer_static" | grep -q "statically linked" || fail "c_consumer_static is not statically linked"
"$work/c_consumer_static"
echo "consumers: (c) C program linked through pkg-config --static, also fully static (-static)"

# (d) Symbols.
lib=$build/libkldiv.a
# member, type, name of every defined global symbol
nm -A -g --defined-only "$lib" | sed -E 's/^[^:]*:([^:]*):[0-9a-fA-F]* ([A-Za-z]) (.*)$/\1 \2 \3/' >"$work/symbols"
[ -s "$work/symbols" ] || fail "nm listed no symbols"
kldiv_re='^(kldiv_|_Z(T[ISVTHW]|GV|Z|GVZ)?N[KVr]*5kldiv)'
std_re='^_Z(T[ISVTHW]|GV|Z|GVZ)?(N[KVr]*)?(St|Sa|Sb|Ss|9__gnu_cxx)'
bad=$(awk -v k="$kldiv_re" -v s="$std_re" '
  $3 ~ k { next }                        # namespace kldiv, or the C ABI
  $3 ~ /^DW\.ref\./ { next }             # hidden EH words
  $3 ~ s && $2 ~ /^[WVu]$/ { next }      # weak std:: template instantiations
  { print }' "$work/symbols")
if [ -n "$bad" ]; then
  echo "consumers: symbols outside namespace kldiv and the kldiv_ prefix:" >&2
  while read -r member type name; do echo "  $member $type $name  ($(c++filt "$name"))" >&2; done <<<"$bad"
  fail "foreign symbols in libkldiv.a"
fi
shared=$(awk '
  $2 ~ /^[WVu]$/ && $3 !~ /^DW\.ref\./ { where[$3] = where[$3] " " $1; count[$3]++
                                         if ($1 ~ /^(avx512|avx2|sse2|neon|scalar)\.cpp\.o$/) isa[$3] = 1 }
  END { for (s in isa) if (count[s] > 1) print s ":" where[s] }' "$work/symbols")
if [ -n "$shared" ]; then
  echo "consumers: weak symbols of an ISA object also defined elsewhere:" >&2
  while IFS=: read -r name where; do echo "  $(c++filt "$name"):$where" >&2; done <<<"$shared"
  fail "weak symbols shared with ISA objects"
fi
echo "consumers: (d) symbols: $(wc -l <"$work/symbols") global definitions, all in kldiv/kldiv_ or weak std::;" \
  "no weak symbol shared by an ISA object"
