// Bad input, through both APIs: the right exception or status, a message, and an untouched output.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kldiv/kldiv.h"
#include "support.hpp"

namespace {

constexpr float kSentinel = 12345.0f;

struct Case {
  const char* what;
  const float* x;
  const float* t;
  const std::int64_t* shape;
  int ndim;
  int reduction;
  kldiv_status status;
  const char* message;  // a part of the expected message
};

const float kData[6] = {-1, -2, -3, 0.5f, 0.25f, 0.25f};
const std::int64_t kShape2[2] = {2, 3};
const std::int64_t kNegative[2] = {2, -3};
const std::int64_t kOverflow[3] = {std::int64_t(1) << 40, std::int64_t(1) << 40, 4};
const std::int64_t kMaxSizes[2] = {std::numeric_limits<std::int64_t>::max(), 2};

const Case kCases[] = {
    {"null input", nullptr, kData, kShape2, 2, KLDIV_REDUCTION_SUM, KLDIV_ERROR_NULL_POINTER, "input is null"},
    {"null target", kData, nullptr, kShape2, 2, KLDIV_REDUCTION_SUM, KLDIV_ERROR_NULL_POINTER, "target is null"},
    {"null shape", kData, kData, nullptr, 2, KLDIV_REDUCTION_SUM, KLDIV_ERROR_NULL_POINTER, "shape is null"},
    {"negative ndim", kData, kData, kShape2, -1, KLDIV_REDUCTION_SUM, KLDIV_ERROR_INVALID_SHAPE, "ndim must be >= 0"},
    {"negative size", kData, kData, kNegative, 2, KLDIV_REDUCTION_NONE, KLDIV_ERROR_INVALID_SHAPE, "is negative"},
    {"overflowing numel", kData, kData, kOverflow, 3, KLDIV_REDUCTION_SUM, KLDIV_ERROR_INVALID_SHAPE, "overflows"},
    {"int64 max size", kData, kData, kMaxSizes, 2, KLDIV_REDUCTION_MEAN, KLDIV_ERROR_INVALID_SHAPE, "overflows"},
    {"unknown reduction", kData, kData, kShape2, 2, 7, KLDIV_ERROR_INVALID_ARGUMENT, "7 is not a valid value for reduction"},
    {"negative reduction", kData, kData, kShape2, 2, -1, KLDIV_ERROR_INVALID_ARGUMENT, "-1 is not a valid value for reduction"},
};

}  // namespace

TEST_CASE("errors: the C ABI returns the status, sets the message and writes nothing") {
  for (const Case& c : kCases) {
    CAPTURE(c.what);
    float out[6];
    std::fill(out, out + 6, kSentinel);
    const auto status = kldiv_forward_f32(c.x, c.t, c.shape, c.ndim, static_cast<kldiv_reduction>(c.reduction), 0, out);
    CHECK(status == c.status);
    CHECK(std::string(kldiv_last_error()).find(c.message) != std::string::npos);
    for (float v : out) CHECK(v == kSentinel);
    double out64[6];
    std::fill(out64, out64 + 6, kSentinel);
    const double x64[6] = {-1, -2, -3, 0.5, 0.25, 0.25};
    const auto status64 = kldiv_forward_f64(c.x ? x64 : nullptr, c.t ? x64 : nullptr, c.shape, c.ndim,
                                            static_cast<kldiv_reduction>(c.reduction), 1, out64);
    CHECK(status64 == c.status);
    for (double v : out64) CHECK(v == kSentinel);
  }
  // A null output, where one is needed.
  CHECK(kldiv_forward_f32(kData, kData, kShape2, 2, KLDIV_REDUCTION_NONE, 0, nullptr) == KLDIV_ERROR_NULL_POINTER);
  CHECK(kldiv_forward_f32(kData, kData, kShape2, 2, KLDIV_REDUCTION_SUM, 0, nullptr) == KLDIV_ERROR_NULL_POINTER);
  CHECK(std::string(kldiv_last_error()) == "out is null");
  // Empty inputs need no data, and for none no output either.
  const std::int64_t empty[2] = {0, 4};
  CHECK(kldiv_forward_f32(nullptr, nullptr, empty, 2, KLDIV_REDUCTION_NONE, 0, nullptr) == KLDIV_OK);
  float sum = kSentinel;
  CHECK(kldiv_forward_f32(nullptr, nullptr, empty, 2, KLDIV_REDUCTION_SUM, 0, &sum) == KLDIV_OK);
  CHECK(sum == 0);
  CHECK(std::string(kldiv_status_string(KLDIV_ERROR_INVALID_SHAPE)) == "invalid shape");
}

TEST_CASE("errors: the C++ API throws the matching exception, derived from std::invalid_argument") {
  for (const Case& c : kCases) {
    CAPTURE(c.what);
    float out[6];
    std::fill(out, out + 6, kSentinel);
    kldiv::Options o;
    o.reduction = static_cast<kldiv::Reduction>(c.reduction);
    const auto call = [&] { kldiv::forward(c.x, c.t, kldiv::Shape(c.shape, c.ndim), o, out); };
    switch (c.status) {
      case KLDIV_ERROR_NULL_POINTER: CHECK_THROWS_AS(call(), kldiv::null_pointer); break;
      case KLDIV_ERROR_INVALID_SHAPE: CHECK_THROWS_AS(call(), kldiv::invalid_shape); break;
      case KLDIV_ERROR_INVALID_ARGUMENT: CHECK_THROWS_AS(call(), kldiv::invalid_argument); break;
      default: FAIL("unexpected status");
    }
    CHECK_THROWS_AS(call(), std::invalid_argument);
    CHECK_THROWS_WITH(call(), doctest::Contains(c.message));
    for (float v : out) CHECK(v == kSentinel);
  }
  kldiv::Options o;
  o.num_threads = -2;
  float out = kSentinel;
  CHECK_THROWS_AS(kldiv::forward(kData, kData, {2, 3}, o, &out), kldiv::invalid_argument);
  CHECK(out == kSentinel);
  CHECK_THROWS_AS(kldiv::loss(kData, kData, {2, 3}, {kldiv::Reduction::none}), kldiv::invalid_argument);
  o.num_threads = 0;
  CHECK_THROWS_WITH_AS(kldiv::forward(kData, kData, {1, 1, 1, 1, 1, 1, 1, 1, 1}, o, &out),
                       doctest::Contains("braced shape"), kldiv::invalid_shape);
  // Any negative ndim, including the one a braced list once used as its marker, is reported as such.
  const std::int64_t dims[1] = {1};
  CHECK(kldiv_forward_f32(kData, kData, dims, -9, KLDIV_REDUCTION_SUM, 0, &out) == KLDIV_ERROR_INVALID_SHAPE);
  CHECK(std::string(kldiv_last_error()) == "ndim must be >= 0, got -9");
  CHECK_THROWS_WITH(kldiv::parse_reduction("foo"), "foo is not a valid value for reduction");
  CHECK(kldiv::parse_reduction("batchmean") == kldiv::Reduction::batchmean);
  CHECK(kldiv::output_size({4, 5}, kldiv::Reduction::none) == 20);
  CHECK(kldiv::output_size({4, 5}, kldiv::Reduction::mean) == 1);
}

TEST_CASE("errors: ISA names") {
  const std::string before = kldiv::isa();
  CHECK_THROWS_AS(kldiv::set_isa("avx1024"), kldiv::unsupported_isa);
  CHECK(kldiv::isa() == before);  // a failed set_isa changes nothing
  CHECK(kldiv_set_isa("avx1024") == KLDIV_ERROR_UNSUPPORTED_ISA);
  CHECK(std::string(kldiv_last_error()).find("unknown ISA 'avx1024'") != std::string::npos);
  // Every known name that is not available here is an error, never a silent fallback.
  const auto available = kldiv::available_isas();
  for (const char* name : {"avx512", "avx2", "sse2", "neon", "scalar"}) {
    CAPTURE(name);
    const bool here = std::find(available.begin(), available.end(), name) != available.end();
    CHECK((kldiv_set_isa(name) == KLDIV_OK) == here);
    if (here) CHECK(std::string(kldiv_isa()) == name);
  }
  // NULL, "" (an unset variable's value, as KLDIV_ISA= is) and "auto" all return to the best.
  for (const char* automatic : {"scalar", "", "scalar", "auto", "scalar"}) {
    CHECK(kldiv_set_isa(automatic) == KLDIV_OK);
    CHECK(std::string(kldiv_isa()) == (std::string(automatic) == "scalar" ? "scalar" : available.front()));
  }
  CHECK(kldiv_set_isa(nullptr) == KLDIV_OK);
  CHECK(std::string(kldiv_isa()) == available.front());
  CHECK(std::string(kldiv::isa()) == available.front());
}

// Run by ctest in processes of their own, with KLDIV_ISA set (tests/CMakeLists.txt).
TEST_SUITE("environment" * doctest::skip()) {
  TEST_CASE("environment: KLDIV_ISA selects the kernels, and a bad value is an error, not a fallback") {
    const char* env = std::getenv("KLDIV_ISA");
    REQUIRE(env != nullptr);
    const auto available = kldiv::available_isas();
    const float x = -1, t = 0.5f;
    float out = kSentinel;
    if (std::find(available.begin(), available.end(), env) != available.end()) {
      CHECK(std::string(kldiv::isa()) == env);
      CHECK(kldiv_forward_f32(&x, &t, nullptr, 0, KLDIV_REDUCTION_SUM, 0, &out) == KLDIV_OK);
      CHECK(out != kSentinel);
    } else {
      CHECK_THROWS_AS(kldiv::loss(&x, &t, {}, {kldiv::Reduction::sum}), kldiv::unsupported_isa);
      CHECK(kldiv_forward_f32(&x, &t, nullptr, 0, KLDIV_REDUCTION_SUM, 0, &out) == KLDIV_ERROR_UNSUPPORTED_ISA);
      CHECK(out == kSentinel);
      CHECK(std::string(kldiv_last_error()).find("KLDIV_ISA") != std::string::npos);
      CHECK(std::string(kldiv_isa()).empty());
      kldiv::set_isa("auto");  // an explicit choice overrides the environment
      CHECK(kldiv_forward_f32(&x, &t, nullptr, 0, KLDIV_REDUCTION_SUM, 0, &out) == KLDIV_OK);
    }
  }
}
