// The PyTorch baseline of the logits benchmarks (bench_logits.cpp): the composition a user writes,
// log_softmax twice then kl_div with log_target (TRL's formula for JSD), and autograd for the gradient.
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/types.h>

#include "baselines.hpp"

namespace bench {

struct TorchLogits::Impl {
  torch::Tensor p, q;
  int divergence;
  double temperature, beta;
  torch::Tensor call() {
    const torch::Tensor lp = torch::log_softmax(p / temperature, -1), lq = torch::log_softmax(q / temperature, -1);
    const auto sum = at::Reduction::Sum;
    torch::Tensor loss;
    if (divergence == 0) {
      loss = torch::kl_div(lq, lp, sum, true);
    } else if (divergence == 1) {
      loss = torch::kl_div(lp, lq, sum, true);
    } else {
      const torch::Tensor lm = torch::logsumexp(torch::stack({lq + std::log(1 - beta), lp + std::log(beta)}), 0);
      loss = beta * torch::kl_div(lm, lp, sum, true) + (1 - beta) * torch::kl_div(lm, lq, sum, true);
    }
    return loss / p.size(0);  // batchmean
  }
};

TorchLogits::TorchLogits(const float* p, const float* q, std::int64_t rows, std::int64_t cols, int divergence,
                         double temperature, double beta, bool backward)
    : impl_(new Impl), backward_(backward) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32);
  impl_->p = torch::from_blob(const_cast<float*>(p), {rows, cols}, options);
  impl_->q = torch::from_blob(const_cast<float*>(q), {rows, cols}, options);
  if (backward) impl_->q.requires_grad_(true);
  impl_->divergence = divergence;
  impl_->temperature = temperature;
  impl_->beta = beta;
}

TorchLogits::~TorchLogits() = default;

double TorchLogits::run() {
  if (!backward_) {
    torch::NoGradGuard no_grad;
    return impl_->call().item<double>();
  }
  impl_->q.mutable_grad() = torch::Tensor();
  torch::Tensor loss = impl_->call();
  loss.backward();
  return loss.item<double>();
}

}  // namespace bench
