// Every bad input of the logits API, through the C ABI and the C++ API: the matching status or
// exception, a message, and outputs untouched.
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kldiv/kldiv.h"
#include "support.hpp"

namespace {

struct Call {
  std::vector<float> p = std::vector<float>(12, 0.5f), q = std::vector<float>(12, 0.25f);
  kldiv_rows pr{nullptr, KLDIV_DTYPE_F32, 3, 4, 4}, qr{nullptr, KLDIV_DTYPE_F32, 3, 4, 4};
  kldiv_logits_options o{};
  double go[3] = {1, 1, 1};
  const double* grad_output = go;
  bool null_p = false, null_q = false, null_options = false, null_out = false, null_grad = false;
  std::int64_t grad_stride = 4;
  Call() {
    kldiv_logits_options_init(&o);
    o.reduction = KLDIV_REDUCTION_NONE;
  }
};

struct BadCase {
  const char* what;
  kldiv_status status;
  std::function<void(Call&)> make;
};

template <class E>
void set_enum(E& e, int v) {
  std::memcpy(&e, &v, sizeof v);  // as a C caller may pass any int
}

const std::vector<BadCase>& bad_cases() {
  static const std::vector<BadCase> cases = {
      {"p is null", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.null_p = true; }},
      {"q is null", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.null_q = true; }},
      {"options is null", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.null_options = true; }},
      {"p's data", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.p.clear(); }},
      {"q's data", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.q.clear(); }},
      {"out", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.null_out = true; }},
      {"grad_output", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.grad_output = nullptr; }},
      {"grad_q", KLDIV_ERROR_NULL_POINTER, [](Call& c) { c.null_grad = true; }},
      {"rows differ", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.qr.rows = 2; }},
      {"cols differ", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.qr.cols = 3, c.qr.stride = 4; }},
      {"negative rows", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.pr.rows = c.qr.rows = -1; }},
      {"negative cols", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.pr.cols = c.qr.cols = -2; }},
      {"cols 0 with rows", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.pr.cols = c.qr.cols = 0; }},
      {"stride below cols", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.qr.stride = 3; }},
      {"grad_stride below cols", KLDIV_ERROR_INVALID_SHAPE, [](Call& c) { c.grad_stride = 3; }},
      {"size overflows", KLDIV_ERROR_INVALID_SHAPE,
       [](Call& c) { c.pr.rows = c.qr.rows = std::int64_t(1) << 62, c.o.reduction = KLDIV_REDUCTION_SUM; }},
      {"stride overflows", KLDIV_ERROR_INVALID_SHAPE,
       [](Call& c) { c.pr.stride = std::numeric_limits<std::int64_t>::max(); }},
      {"unknown dtype", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { set_enum(c.pr.dtype, 7); }},
      {"negative dtype", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { set_enum(c.qr.dtype, -1); }},
      {"F64 with F32", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.pr.dtype = KLDIV_DTYPE_F64; }},
      {"unknown divergence", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { set_enum(c.o.divergence, 3); }},
      {"T = 0", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.temperature = 0; }},
      {"T < 0", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.temperature = -1; }},
      {"T = inf", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.temperature = std::numeric_limits<double>::infinity(); }},
      {"T = NaN", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.temperature = std::nan(""); }},
      {"beta = 0", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.divergence = KLDIV_JSD, c.o.beta = 0; }},
      {"beta = 1", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.divergence = KLDIV_JSD, c.o.beta = 1; }},
      {"beta = NaN", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.divergence = KLDIV_JSD, c.o.beta = std::nan(""); }},
      {"unknown reduction", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { set_enum(c.o.reduction, 9); }},
      {"num_threads < 0", KLDIV_ERROR_INVALID_ARGUMENT, [](Call& c) { c.o.num_threads = -1; }},
  };
  return cases;
}

// Runs a case through the C ABI (forward and forward_backward) or the C++ API; checks nothing changed.
void run(const BadCase& b, bool c_abi) {
  CAPTURE(b.what);
  CAPTURE(c_abi);
  for (bool backward : {false, true}) {
    CAPTURE(backward);
    Call c;
    b.make(c);
    c.pr.data = c.p.empty() ? nullptr : c.p.data();
    c.qr.data = c.q.empty() ? nullptr : c.q.data();
    double out[3] = {-7, -7, -7};
    std::vector<float> grad(12, -9.0f);
    // Forward has no gradient arguments to get wrong.
    const bool gradient_only = b.what == std::string("grad_output") || b.what == std::string("grad_q") ||
                               b.what == std::string("grad_stride below cols");
    if (!backward && gradient_only) continue;
    double* o = c.null_out ? nullptr : out;
    void* g = c.null_grad ? nullptr : grad.data();
    if (c_abi) {
      const kldiv_rows* p = c.null_p ? nullptr : &c.pr;
      const kldiv_rows* q = c.null_q ? nullptr : &c.qr;
      const kldiv_logits_options* op = c.null_options ? nullptr : &c.o;
      const kldiv_status s = backward ? kldiv_logits_forward_backward(p, q, op, c.grad_output, o, g, c.grad_stride)
                                      : kldiv_logits_forward(p, q, op, o);
      CHECK(s == b.status);
      CHECK(std::strlen(kldiv_last_error()) > 0);
    } else {
      if (c.null_p || c.null_q || c.null_options) continue;  // no pointers to these in C++
      int dp, dq, dv, rd;
      std::memcpy(&dp, &c.pr.dtype, sizeof dp);
      std::memcpy(&dq, &c.qr.dtype, sizeof dq);
      std::memcpy(&dv, &c.o.divergence, sizeof dv);
      std::memcpy(&rd, &c.o.reduction, sizeof rd);
      const kldiv::Rows p(c.pr.data, static_cast<kldiv::Dtype>(dp), c.pr.rows, c.pr.cols, c.pr.stride);
      const kldiv::Rows q(c.qr.data, static_cast<kldiv::Dtype>(dq), c.qr.rows, c.qr.cols, c.qr.stride);
      kldiv::LogitsOptions op;
      op.divergence = static_cast<kldiv::Divergence>(dv);
      op.beta = c.o.beta;
      op.temperature = c.o.temperature;
      op.reduction = static_cast<kldiv::Reduction>(rd);
      op.num_threads = c.o.num_threads;
      const auto call = [&] {
        if (backward) kldiv::logits_forward_backward(p, q, op, c.grad_output, o, g, c.grad_stride);
        else kldiv::logits_forward(p, q, op, o);
      };
      switch (b.status) {
        case KLDIV_ERROR_NULL_POINTER: CHECK_THROWS_AS(call(), kldiv::null_pointer); break;
        case KLDIV_ERROR_INVALID_SHAPE: CHECK_THROWS_AS(call(), kldiv::invalid_shape); break;
        default: CHECK_THROWS_AS(call(), kldiv::invalid_argument); break;
      }
    }
    CHECK((out[0] == -7 && out[1] == -7 && out[2] == -7));
    for (float x : grad) CHECK(x == -9.0f);
  }
}

}  // namespace

TEST_CASE("logits errors: every bad input, through the C ABI and the C++ API, writes nothing") {
  // The valid call these cases start from succeeds.
  Call c;
  c.pr.data = c.p.data();
  c.qr.data = c.q.data();
  double out[3];
  std::vector<float> grad(12);
  CHECK(kldiv_logits_forward_backward(&c.pr, &c.qr, &c.o, c.go, out, grad.data(), 4) == KLDIV_OK);
  for (const BadCase& b : bad_cases()) {
    run(b, true);
    run(b, false);
  }
}

TEST_CASE("logits errors: what is valid at the edges") {
  kldiv_logits_options o;
  kldiv_logits_options_init(&o);
  CHECK((o.divergence == KLDIV_KL && o.beta == 0.5 && o.temperature == 1 && o.temperature_squared == 0 &&
         o.reduction == KLDIV_REDUCTION_BATCHMEAN && o.labels == nullptr && o.ignore_index == -100 && o.num_threads == 0));
  // No rows: data and (for none) out may be null; beta is ignored outside JSD.
  const kldiv_rows empty{nullptr, KLDIV_DTYPE_F32, 0, 5, 5};
  o.reduction = KLDIV_REDUCTION_NONE;
  o.beta = 7;
  CHECK(kldiv_logits_forward(&empty, &empty, &o, nullptr) == KLDIV_OK);
  CHECK(kldiv_logits_forward_backward(&empty, &empty, &o, nullptr, nullptr, nullptr, 5) == KLDIV_OK);
  o.reduction = KLDIV_REDUCTION_SUM;
  double out = -1;
  CHECK(kldiv_logits_forward(&empty, &empty, &o, &out) == KLDIV_OK);
  CHECK(out == 0);
  // In place: the gradient over q itself.
  std::vector<float> p = {1, 2, 3, 4}, q = {4, 3, 2, 1}, g(4);
  const kldiv_rows pr{p.data(), KLDIV_DTYPE_F32, 1, 4, 4}, qr{q.data(), KLDIV_DTYPE_F32, 1, 4, 4};
  const double one = 1;
  CHECK(kldiv_logits_forward_backward(&pr, &qr, &o, &one, &out, g.data(), 4) == KLDIV_OK);
  CHECK(kldiv_logits_forward_backward(&pr, &qr, &o, &one, &out, q.data(), 4) == KLDIV_OK);
  CHECK(q == g);
}
