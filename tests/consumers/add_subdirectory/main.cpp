// Uses kldiv's C++ API from a project that builds it with add_subdirectory; checks a result.
#include <kldiv/kldiv.hpp>

#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::int64_t batch = 4, vocab = 1000;
  std::vector<float> log_q(batch * vocab), p(batch * vocab);
  double want = 0;
  for (std::int64_t i = 0; i < batch * vocab; ++i) {
    p[i] = static_cast<float>((i % 7 + 1) / 4000.0);
    log_q[i] = static_cast<float>(std::log((i % 11 + 1) / 6000.0));
    want += p[i] * std::log(static_cast<double>(p[i])) - static_cast<double>(p[i]) * log_q[i];
  }
  want /= batch;
  kldiv::Options options;
  options.reduction = kldiv::Reduction::batchmean;
  const float got = kldiv::loss(log_q.data(), p.data(), {batch, vocab}, options);
  std::printf("add_subdirectory consumer: kldiv %s (%s): batchmean %.7g, expected %.7g\n", kldiv::version(),
              kldiv::isa(), got, want);
  return std::fabs(got - want) <= 1e-5 * std::fabs(want) ? 0 : 1;
}
