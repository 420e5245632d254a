// Eigen's array log, written as an Eigen user would: an expression over mapped arrays, summed by Eigen,
// 4096 elements at a time into a double.
#include <Eigen/Core>

#include <algorithm>

#include "peers.hpp"

namespace bench::peer {
namespace {
using Array = Eigen::Map<const Eigen::ArrayXf>;
double sum(const float* x, const float* t, std::size_t n) {
  double total = 0;
  for (std::size_t begin = 0; begin < n; begin += 4096) {
    const auto len = static_cast<Eigen::Index>(std::min<std::size_t>(4096, n - begin));
    const Array tv(t + begin, len), xv(x + begin, len);
    total += static_cast<double>((tv * (tv.log() - xv)).sum());
  }
  return total;
}
void log(const float* in, float* out, std::size_t n) {
  const auto len = static_cast<Eigen::Index>(n);
  Eigen::Map<Eigen::ArrayXf>(out, len) = Array(in, len).log();
}
}  // namespace
extern const Peer eigen = {"eigen", &sum, &log};
}  // namespace bench::peer
