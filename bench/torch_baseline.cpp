// The PyTorch baseline, through libtorch (built only when find_package(Torch) succeeds).
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/types.h>
#include <torch/version.h>

#include "baselines.hpp"

namespace bench {

struct TorchKlDiv::Impl {
  torch::Tensor x, t;
  std::int64_t reduction;  // at::Reduction: none 0, mean 1, sum 2 (kldiv's enum has the same values)
  bool batchmean, log_target;
  torch::Tensor call() {
    // F.kl_div's batchmean: the ATen sum, then one division by the batch size.  torch::kl_div is called
    // directly rather than through torch::nn::functional, whose 'mean' prints a warning on every call.
    torch::Tensor r = torch::kl_div(x, t, reduction, log_target);
    return batchmean ? r / x.size(0) : r;
  }
};

namespace {
torch::ScalarType scalar_type(kldiv::Dtype dtype) {
  switch (dtype) {
    case kldiv::Dtype::f64: return torch::kFloat64;
    case kldiv::Dtype::bf16: return torch::kBFloat16;
    case kldiv::Dtype::f16: return torch::kFloat16;
    default: return torch::kFloat32;
  }
}
}  // namespace

TorchKlDiv::TorchKlDiv(const void* x, const void* t, kldiv::Dtype dtype, std::int64_t rows, std::int64_t cols,
                       kldiv::Reduction reduction, bool log_target)
    : impl_(new Impl) {
  const auto options = torch::TensorOptions().dtype(scalar_type(dtype));
  // from_blob does not copy; the benchmark's buffers outlive this object.
  impl_->x = torch::from_blob(const_cast<void*>(x), {rows, cols}, options);
  impl_->t = torch::from_blob(const_cast<void*>(t), {rows, cols}, options);
  impl_->batchmean = reduction == kldiv::Reduction::batchmean;
  impl_->reduction = impl_->batchmean ? std::int64_t{at::Reduction::Sum} : static_cast<std::int64_t>(reduction);
  impl_->log_target = log_target;
}

TorchKlDiv::~TorchKlDiv() = default;

void TorchKlDiv::set_threads(int n) { at::set_num_threads(n); }

const char* TorchKlDiv::version() { return TORCH_VERSION; }

void TorchKlDiv::run() { impl_->call(); }  // the result tensor is discarded, as a loss value would be

double TorchKlDiv::checksum() { return impl_->call().to(torch::kFloat64).sum().item<double>(); }

struct TorchKlDivGrad::Impl {
  TorchKlDiv::Impl f;  // the same forward call
  torch::Tensor loss, grad;
};

TorchKlDivGrad::TorchKlDivGrad(const void* x, const void* t, kldiv::Dtype dtype, std::int64_t rows, std::int64_t cols,
                               kldiv::Reduction reduction, bool log_target)
    : impl_(new Impl) {
  TorchKlDiv forward(x, t, dtype, rows, cols, reduction, log_target);
  impl_->f = *forward.impl_;
  impl_->f.x.requires_grad_(true);  // a leaf: its gradient lands in x.grad
}

TorchKlDivGrad::~TorchKlDivGrad() = default;

void TorchKlDivGrad::run() {
  Impl& m = *impl_;
  m.f.x.mutable_grad() = torch::Tensor();  // fresh gradient: set_to_none
  m.loss = m.f.call();
  m.loss.backward();
}

double TorchKlDivGrad::loss() { return impl_->loss.to(torch::kFloat64).item<double>(); }

const void* TorchKlDivGrad::grad_input() {
  impl_->grad = impl_->f.x.grad().contiguous();
  return impl_->grad.data_ptr();
}

}  // namespace bench
