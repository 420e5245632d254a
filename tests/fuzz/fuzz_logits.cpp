// The logits entry points of the C ABI under the fuzzer (called from fuzz_c_abi.cpp): kldiv_logits_forward
// and kldiv_logits_forward_backward with arbitrary dtypes, divergences, reductions (any int, as a C caller
// may pass), temperatures, betas, labels, thread counts, shapes and strides (negative, zero, huge,
// overflowing), NULL pointers and data mixing NaN, inf, -inf (masked) and ordinary logits.
//
// It asserts: the status is KLDIV_OK exactly when the call is valid by kldiv.h's rules, else one of the
// errors that apply; a failed call leaves every output byte untouched and sets a message; a valid call
// writes every output value, and gives the same bits again with another thread count (any NaN for any NaN).
#include <vector>

#include "fuzz_support.hpp"
#include "kldiv/kldiv.h"

namespace {

using fuzz::consume_value;
using fuzz::element_size;
using fuzz::set_raw;
using fuzz::shape_valid;

constexpr std::int64_t kMaxElements = std::int64_t(1) << 17;  // larger valid shapes get NULL data

std::int64_t consume_extent(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return 0;
    case 1: return -in.ConsumeIntegralInRange<std::int64_t>(1, 3);
    case 2: return std::numeric_limits<std::int64_t>::max();
    case 3: return std::int64_t(1) << in.ConsumeIntegralInRange<int>(30, 62);
    case 4: return in.ConsumeIntegralInRange<std::int64_t>(1, 20000);
    default: return in.ConsumeIntegralInRange<std::int64_t>(1, 40);
  }
}

// A matrix's buffer: valid shapes up to kMaxElements get data (random fill, the same in both copies).
struct Matrix {
  kldiv_rows rows{};
  std::vector<unsigned char> bytes;
  int dtype = 0;
  bool shape_ok = false;
  std::size_t span = 0;  // elements from the first to the last used one
};

void fill(FuzzedDataProvider& in, Matrix& m) {
  const std::size_t es = element_size(m.dtype);
  m.bytes.resize(m.span * es);
  const bool raw = in.ConsumeBool();
  for (std::size_t i = 0; i < m.span; ++i) {
    const double v = raw ? in.ConsumeFloatingPoint<double>() : consume_value(in);
    if (m.dtype == 1) std::memcpy(&m.bytes[i * 8], &v, 8);
    else if (m.dtype == 0) { const float f = static_cast<float>(v); std::memcpy(&m.bytes[i * 4], &f, 4); }
    else { const std::uint16_t h = in.ConsumeIntegral<std::uint16_t>(); std::memcpy(&m.bytes[i * 2], &h, 2); }
  }
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && std::memcmp(&a[i], &b[i], sizeof(double)) != 0) return false;
  return true;
}

}  // namespace

void fuzz_logits(FuzzedDataProvider& in) {
  Matrix p, q;
  const bool backward = in.ConsumeBool();
  const auto dtype = [&] { return in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegralInRange<int>(-2, 6) : in.ConsumeIntegralInRange<int>(0, 3); };
  p.dtype = dtype();
  q.dtype = in.ConsumeIntegralInRange<int>(0, 3) == 0 ? dtype() : p.dtype;
  const std::int64_t rows = consume_extent(in), cols = consume_extent(in);
  p.rows = {nullptr, KLDIV_DTYPE_F32, rows, cols, fuzz::plus(cols, in.ConsumeIntegralInRange<std::int64_t>(-1, 3))};
  q.rows = {nullptr, KLDIV_DTYPE_F32, in.ConsumeIntegralInRange<int>(0, 15) == 0 ? consume_extent(in) : rows,
            in.ConsumeIntegralInRange<int>(0, 15) == 0 ? consume_extent(in) : cols, 0};
  q.rows.stride = fuzz::plus(q.rows.cols, in.ConsumeIntegralInRange<std::int64_t>(-1, 3));
  set_raw(p.rows.dtype, p.dtype);
  set_raw(q.rows.dtype, q.dtype);
  kldiv_logits_options o;
  kldiv_logits_options_init(&o);
  const int divergence = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 2);
  const int reduction = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 3);
  set_raw(o.divergence, divergence);
  set_raw(o.reduction, reduction);
  o.beta = in.ConsumeBool() ? 0.5 : consume_value(in);
  o.temperature = in.ConsumeBool() ? in.ConsumeFloatingPointInRange<double>(0.1, 5) : consume_value(in);
  o.temperature_squared = in.ConsumeIntegral<int>();
  o.num_threads = in.ConsumeIntegralInRange<int>(-1, 4);
  const std::int64_t grad_stride = fuzz::plus(cols, in.ConsumeIntegralInRange<std::int64_t>(-1, 3));

  // What the rules say.
  const bool dtypes_ok = p.dtype >= 0 && p.dtype <= 3 && q.dtype >= 0 && q.dtype <= 3 && ((p.dtype == 1) == (q.dtype == 1));
  const bool options_ok = divergence >= 0 && divergence <= 2 && reduction >= 0 && reduction <= 3 && o.num_threads >= 0 &&
                          std::isfinite(o.temperature) && o.temperature > 0 && (divergence != 2 || (o.beta > 0 && o.beta < 1));
  p.shape_ok = dtypes_ok && shape_valid(rows, cols, p.rows.stride, element_size(p.dtype), p.span);
  q.shape_ok = dtypes_ok && shape_valid(q.rows.rows, q.rows.cols, q.rows.stride, element_size(q.dtype), q.span);
  const bool same = q.rows.rows == rows && q.rows.cols == cols;
  std::size_t grad_span = 0;
  const bool grad_ok = !backward || (dtypes_ok && shape_valid(rows, cols, grad_stride, element_size(q.dtype), grad_span));
  const bool small = p.shape_ok && q.shape_ok && same && grad_ok && rows * std::max<std::int64_t>(cols, 1) <= kMaxElements &&
                     p.span <= static_cast<std::size_t>(kMaxElements) * 5 && grad_span <= static_cast<std::size_t>(kMaxElements) * 5;
  if (small && rows > 0 && in.ConsumeIntegralInRange<int>(0, 15) != 0) {
    fill(in, p);
    fill(in, q);
    p.rows.data = p.bytes.data();
    q.rows.data = q.bytes.data();
  }
  std::vector<std::int64_t> labels;
  if (small && in.ConsumeBool()) {
    labels.resize(static_cast<std::size_t>(rows));
    for (auto& l : labels) l = in.ConsumeBool() ? -100 : in.ConsumeIntegralInRange<std::int64_t>(-101, 5);
    o.labels = labels.data();
  }
  const bool none = reduction == 0;
  const std::size_t n_out = none && rows > 0 ? static_cast<std::size_t>(small ? rows : 1) : 1;
  const bool null_out = in.ConsumeIntegralInRange<int>(0, 15) == 0 || (none && !small);
  const bool null_go = backward && (in.ConsumeIntegralInRange<int>(0, 15) == 0 || (none && !small));
  const bool null_grad = backward && (in.ConsumeIntegralInRange<int>(0, 15) == 0 || !small);
  std::vector<double> out(n_out, -3.0), out2(n_out, -5.0), go(n_out, 1.0);
  for (auto& g : go) g = in.ConsumeBool() ? 1.0 : consume_value(in);
  // Only small valid shapes get a gradient buffer (null_grad is set otherwise).
  const std::size_t grad_bytes = small ? grad_span * element_size(q.dtype) : 0;
  std::vector<unsigned char> grad(grad_bytes, 0xA5), grad2(grad_bytes, 0x5A);

  const bool has_values = rows > 0 || !none;
  const bool valid = dtypes_ok && options_ok && p.shape_ok && q.shape_ok && same && grad_ok &&
                     (rows == 0 || (p.rows.data && q.rows.data)) && (!has_values || !null_out) &&
                     (!backward || ((!has_values || !null_go) && (rows == 0 || !null_grad)));
  const auto call = [&](std::vector<double>& o_, std::vector<unsigned char>& g_, int threads) {
    kldiv_logits_options oo = o;
    oo.num_threads = o.num_threads >= 0 ? threads : o.num_threads;
    double* op = null_out ? nullptr : o_.data();
    if (!backward) return kldiv_logits_forward(&p.rows, &q.rows, &oo, op);
    return kldiv_logits_forward_backward(&p.rows, &q.rows, &oo, null_go ? nullptr : go.data(), op,
                                         null_grad ? nullptr : g_.data(), grad_stride);
  };
  const kldiv_status s = call(out, grad, o.num_threads);
  if (!valid) {
    EXPECT(s != KLDIV_OK);
    EXPECT(std::strlen(kldiv_last_error()) > 0);
    for (double v : out) EXPECT(v == -3.0);
    for (unsigned char b : grad) EXPECT(b == 0xA5);
    return;
  }
  EXPECT(s == KLDIV_OK);
  if (!has_values) return;
  for (double v : out) EXPECT(v != -3.0);
  // Another thread count, other fill patterns: the same values, every one written.
  EXPECT(call(out2, grad2, o.num_threads == 1 ? 3 : 1) == KLDIV_OK);
  EXPECT(same_bits(out, out2));
  if (backward && rows > 0) {
    const std::size_t es = element_size(q.dtype);
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t j = 0; j < cols; ++j) {
        const std::size_t at = static_cast<std::size_t>(r * grad_stride + j) * es;
        const unsigned char* a = &grad[at];
        const unsigned char* b = &grad2[at];
        if (es == 8) {
          double x, y;
          std::memcpy(&x, a, 8), std::memcpy(&y, b, 8);
          EXPECT((std::isnan(x) && std::isnan(y)) || std::memcmp(a, b, 8) == 0);
        } else if (es == 4) {
          float x, y;
          std::memcpy(&x, a, 4), std::memcpy(&y, b, 4);
          EXPECT((std::isnan(x) && std::isnan(y)) || std::memcmp(a, b, 4) == 0);
        }
      }
  }
}
