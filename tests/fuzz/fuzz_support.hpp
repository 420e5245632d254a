// What the parts of the fuzz target share (fuzz_c_abi.cpp calls the parts): the expectation macro, raw
// enum values, value and shape generators, and the logits API's layout rule.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#define EXPECT(cond)                                                                        \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: expectation failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)

namespace fuzz {

template <class E>
void set_raw(E& e, int v) {
  std::memcpy(&e, &v, sizeof v);  // an int the enum may not name, as C allows
}

// A double mixing NaN, +-inf and any value with mostly moderate logits.
inline double consume_value(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return std::nan("");
    case 1: return std::numeric_limits<double>::infinity();
    case 2: case 3: return -std::numeric_limits<double>::infinity();
    case 4: return in.ConsumeFloatingPoint<double>();
    default: return in.ConsumeFloatingPointInRange<double>(-30, 30);
  }
}

// a + d (a small step), saturating instead of overflowing: extents may be INT64_MAX or near it.
inline std::int64_t plus(std::int64_t a, std::int64_t d) {
  if (d > 0 && a > std::numeric_limits<std::int64_t>::max() - d) return std::numeric_limits<std::int64_t>::max();
  if (d < 0 && a < std::numeric_limits<std::int64_t>::min() - d) return std::numeric_limits<std::int64_t>::min();
  return a + d;
}

inline std::size_t element_size(int dtype) { return dtype == 1 ? 8 : dtype == 0 ? 4 : 2; }

// kldiv.h's rule for rows x cols at a stride, elements of es bytes; span: the elements from the first to
// the last one used.
inline bool shape_valid(std::int64_t rows, std::int64_t cols, std::int64_t stride, std::size_t es, std::size_t& span) {
  if (rows < 0 || cols < 0 || (cols == 0 && rows > 0) || stride < cols) return false;
  if (rows == 0 || cols == 0) return span = 0, true;
  const auto limit = static_cast<unsigned long long>(std::numeric_limits<std::ptrdiff_t>::max()) / es;
  const auto r = static_cast<unsigned long long>(rows - 1), s = static_cast<unsigned long long>(stride);
  if (r != 0 && s > limit / r) return false;
  if (r * s > limit - static_cast<unsigned long long>(cols)) return false;
  span = static_cast<std::size_t>(r * s + static_cast<unsigned long long>(cols));
  return true;
}

}  // namespace fuzz

void fuzz_logits(FuzzedDataProvider& in);      // fuzz_logits.cpp
void fuzz_eval(FuzzedDataProvider& in);        // fuzz_eval.cpp: the eval C ABI
void fuzz_eval_files(FuzzedDataProvider& in);  // fuzz_eval.cpp: the llama.cpp and .npy readers
