// Distillation-style use: the KL divergence between a teacher's and a student's distributions over a
// vocabulary, per batch row (batchmean), on whichever ISA the CPU has best.
#include <kldiv/kldiv.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

int main() {
  const std::int64_t batch = 64, vocab = 32000;
  std::vector<float> student_log_probs(batch * vocab), teacher_probs(batch * vocab);
  for (std::int64_t r = 0; r < batch; ++r) {
    float zs = 0, zt = 0;
    for (std::int64_t i = 0; i < vocab; ++i) {
      const float ls = std::sin(0.001f * i + r), lt = std::sin(0.0011f * i + r);
      student_log_probs[r * vocab + i] = ls;
      teacher_probs[r * vocab + i] = std::exp(lt);
      zs += std::exp(ls);
      zt += std::exp(lt);
    }
    for (std::int64_t i = 0; i < vocab; ++i) {
      student_log_probs[r * vocab + i] -= std::log(zs);
      teacher_probs[r * vocab + i] /= zt;
    }
  }

  kldiv::Options options;
  options.reduction = kldiv::Reduction::batchmean;  // the true KL(teacher || student) per row
  float kl = 0;
  std::vector<double> times;  // the median of warm calls: the first one also starts OpenMP's threads
  for (int call = 0; call < 11; ++call) {
    const auto start = std::chrono::steady_clock::now();
    kl = kldiv::loss(student_log_probs.data(), teacher_probs.data(), {batch, vocab}, options);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double seconds = times[times.size() / 2];
  std::printf("kldiv %s, ISA %s: KL = %.9g over %lldx%lld in %.3f ms (%.2f Gelem/s)\n", kldiv::version(),
              kldiv::isa(), kl, static_cast<long long>(batch), static_cast<long long>(vocab), seconds * 1e3,
              batch * vocab / seconds * 1e-9);
  return std::isfinite(kl) ? 0 : 1;
}
