// The baselines kldiv is measured against, each in its own translation unit so that its compiler flags
// stay its own: roofline.cpp (-march=native), scalar.cpp (-O3, no ISA flags), torch_baseline.cpp (libtorch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kldiv/kldiv.hpp"

namespace bench {

// The threads a pass of n elements uses when offered `threads`: below 32768 elements per thread, the
// fork costs more than it saves.  kldiv uses the same rule, so "same threads" means the same thing.
int useful_threads(std::size_t n, int threads) noexcept;

// Roofline: the least any KL pass must do.  Reads x and t once (sum of x[i] + t[i], returned so that
// nothing is optimised away) or, for reduction none, also writes one array (out[i] = x[i] + t[i]).  The
// read-write pass (read two arrays, write one) is also the bound of forward_backward (x, t -> grad_input).
double roofline_read(const float* x, const float* t, std::size_t n, int threads) noexcept;
double roofline_read(const double* x, const double* t, std::size_t n, int threads) noexcept;
void roofline_read_write(const float* x, const float* t, float* out, std::size_t n, int threads) noexcept;
void roofline_read_write(const double* x, const double* t, double* out, std::size_t n, int threads) noexcept;

// What a user writes by hand: l = (t > 0 ? t*log(t) : 0) - t*x (or exp(t)*(t - x)), std::log, one plain
// loop (an OpenMP parallel for when threads > 1).  Returns the reduced value (for none, writes out and
// returns 0).
double scalar_forward(const float* x, const float* t, float* out, std::int64_t rows, std::size_t n,
                      kldiv::Reduction reduction, bool log_target, int threads) noexcept;
double scalar_forward(const double* x, const double* t, double* out, std::int64_t rows, std::size_t n,
                      kldiv::Reduction reduction, bool log_target, int threads) noexcept;

// PyTorch's torch::kl_div on tensors of x and t's dtype that wrap them (no copy; kldiv::bf16 and f16 have
// the bits of torch's BFloat16 and Half), batchmean as F.kl_div does it.
class TorchKlDiv {
 public:
  TorchKlDiv(const void* x, const void* t, kldiv::Dtype dtype, std::int64_t rows, std::int64_t cols,
             kldiv::Reduction reduction, bool log_target);
  ~TorchKlDiv();
  static void set_threads(int n);  // at::set_num_threads
  static const char* version();
  void run();         // one timed call
  double checksum();  // the loss (for none, the sum of the output), to check the result
 private:
  friend class TorchKlDivGrad;  // which calls the same forward
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// PyTorch's forward plus backward, as a training step does it: x (wrapping the benchmark's buffer)
// requires grad, loss = torch::kl_div(...) as TorchKlDiv computes it, loss.backward().  Each run starts
// with x.grad reset to undefined (zero_grad(set_to_none=True)), so autograd allocates a fresh gradient
// rather than accumulating into the old one.  Reduced losses only (here: batchmean).
class TorchKlDivGrad {
 public:
  TorchKlDivGrad(const void* x, const void* t, kldiv::Dtype dtype, std::int64_t rows, std::int64_t cols,
                 kldiv::Reduction reduction, bool log_target);
  ~TorchKlDivGrad();
  void run();                // one timed forward + backward
  double loss();             // of the last run
  const void* grad_input();  // x.grad of the last run: rows*cols contiguous values of x's dtype
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The logits baselines (bench_logits.cpp).  A scalar loop written the way llama.cpp's per-token KL is
// described: per row the max, a double sum of exp for each normaliser, then one fused loop over expf;
// batchmean of KL(P || Q) for logits p, q divided by T.
double scalar_logits_kl(const float* p, const float* q, std::int64_t rows, std::int64_t cols, double temperature) noexcept;

// libtorch's composition: log_softmax(p/T), log_softmax(q/T), kl_div(log_target) (TRL's formula for
// JSD, divergence 2), batchmean; with backward, q requires grad and each run calls loss.backward().
class TorchLogits {
 public:
  TorchLogits(const float* p, const float* q, std::int64_t rows, std::int64_t cols, int divergence, double temperature,
              double beta, bool backward);
  ~TorchLogits();
  double run();  // one timed call; returns the loss

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool backward_;
};

}  // namespace bench
