// Helpers of the logits tests: the golden files' input generator and a high-precision reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "support.hpp"

namespace test {

// tools/gen_golden_logits.py's inputs, exactly: k / 2^20 - 8 for k = next() >> 40 (exact in float), -inf
// in both where (k_p & 127) < mask.  Row-major, rows * cols.
inline void golden_logits(std::size_t n, std::uint64_t seed_p, std::uint64_t seed_q, int mask, std::vector<double>& p,
                          std::vector<double>& q) {
  Random gp(seed_p), gq(seed_q);
  p.resize(n);
  q.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t kp = gp.next() >> 40, kq = gq.next() >> 40;
    if (static_cast<int>(kp & 127) < mask) {
      p[i] = q[i] = -std::numeric_limits<double>::infinity();
    } else {
      p[i] = static_cast<double>(kp) * 0x1p-20 - 8;
      q[i] = static_cast<double>(kq) * 0x1p-20 - 8;
    }
  }
}

// One row's divergence (0 KL, 1 reverse KL, 2 JSD) and gradient with respect to q, in long double,
// from the values as given (already in the dtype under test).
struct LogitsReference {
  long double value;
  // sum (P + Q) |q - p| / T: the kernels take each logit difference in the dtype computed in (float for
  // float inputs), rounded to u times its size, and where one side is concentrated on a logit hundreds
  // above the rest of its row, the value is a cancelling sum of differences that large.
  long double value_scale;
  std::vector<long double> grad;  // for an upstream gradient of 1, without T^2
  // The magnitude that a gradient's rounding scales with: max (P + Q) / T, and for reverse KL, whose
  // gradient is Q (log Q - log P - KL) / T, Q (1 + |log Q - log P| + |KL|) / T, since each log carries
  // a rounding error relative to its size.
  long double grad_scale;
};

template <class T>
LogitsReference logits_reference(const T* p, const T* q, std::size_t n, long double temperature, int divergence,
                                 long double beta) {
  using L = long double;
  const L ninf = -std::numeric_limits<L>::infinity();
  L mp = ninf, mq = ninf;
  for (std::size_t i = 0; i < n; ++i) mp = std::max(mp, L(p[i]) / temperature), mq = std::max(mq, L(q[i]) / temperature);
  L sp = 0, sq = 0;
  for (std::size_t i = 0; i < n; ++i) sp += std::exp(L(p[i]) / temperature - mp), sq += std::exp(L(q[i]) / temperature - mq);
  const L zp = mp + std::log(sp), zq = mq + std::log(sq);
  std::vector<L> lp(n), lq(n), lm(n);
  L v = 0, kl_qm = 0, scale = 0;
  for (std::size_t i = 0; i < n; ++i) {
    lp[i] = L(p[i]) / temperature - zp;
    lq[i] = L(q[i]) / temperature - zq;
    const L P = std::exp(lp[i]), Q = std::exp(lq[i]);
    lm[i] = std::log(beta * P + (1 - beta) * Q);
    if (divergence == 0 && P > 0) v += P * (lp[i] - lq[i]);
    if (divergence == 1 && Q > 0) v += Q * (lq[i] - lp[i]);
    if (divergence == 2) {
      if (P > 0) v += beta * P * (lp[i] - lm[i]);
      if (Q > 0) v += (1 - beta) * Q * (lq[i] - lm[i]), kl_qm += Q * (lq[i] - lm[i]);
    }
    if (P + Q > 0) scale += (P + Q) * std::fabs(L(q[i]) - L(p[i])) / temperature;
  }
  LogitsReference r{v, scale, std::vector<L>(n), 0};
  for (std::size_t i = 0; i < n; ++i) {
    const L P = std::exp(lp[i]), Q = std::exp(lq[i]);
    const L ratio = divergence == 1 && Q > 0 && std::isfinite(lp[i]) ? std::fabs(lq[i] - lp[i]) + std::fabs(v) : 0;
    r.grad_scale = std::max(r.grad_scale, (P + Q * (1 + ratio)) / temperature);
    L g = 0;
    if (divergence == 0) g = Q - P;
    if (divergence == 1 && Q > 0) g = Q * (lq[i] - lp[i] - v);
    if (divergence == 2 && Q > 0) g = (1 - beta) * Q * (lq[i] - lm[i] - kl_qm);
    r.grad[i] = g / temperature;
  }
  return r;
}

}  // namespace test
