// kldiv_peer_accuracy [STEP]: the error of each peer's log and of kldiv's (the active ISA's), in ulps,
// against std::log in double (exact enough for float), over every STEP-th positive normal float (default
// 7; 1 is exhaustive): the maximum, and the mean signed error over [2^-126, 1].  One line per log:
//   <name> max <ulp> mean <ulp>
// tools/bench_report.py puts these beside the peers' speed.  tests/test_math.cpp measures kldiv's log
// exhaustively on every ISA.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dispatch.hpp"
#include "peers.hpp"

namespace {

struct Error {
  double max = 0, sum = 0;
  std::uint64_t n = 0;
};

// got - want in ulps of want rounded to float.
double signed_ulps(float got, double want) {
  return (static_cast<double>(got) - want) / std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
}

}  // namespace

int main(int argc, char** argv) {
  const long step_arg = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 7;
  if (argc > 2 || step_arg < 1 || step_arg > 1000000) {
    std::fprintf(stderr, "usage: kldiv_peer_accuracy [STEP]   (STEP: 1 to 1000000, default 7)\n");
    return 2;
  }
  const auto step = static_cast<std::uint32_t>(step_arg);
  std::vector<bench::Peer> logs = bench::peers();
  logs.push_back({"kldiv", nullptr, kldiv::detail::active_kernels().f32.log});
  constexpr std::uint32_t lo = 0x00800000u, hi = 0x7f800000u, one = 0x3f800000u;  // [2^-126, inf)
  constexpr std::size_t kChunk = 1 << 16;
  const std::int64_t count = (hi - lo + step - 1) / step, chunks = (count + kChunk - 1) / kChunk;
  std::vector<std::vector<Error>> per_thread(omp_get_max_threads(), std::vector<Error>(logs.size()));
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::vector<Error>& err = per_thread[omp_get_thread_num()];
    std::vector<float> in, out(kChunk);
    std::vector<std::uint32_t> bits;
    for (std::int64_t i = c * kChunk; i < std::min<std::int64_t>(count, (c + 1) * kChunk); ++i) {
      bits.push_back(lo + static_cast<std::uint32_t>(i) * step);
      float v;
      std::memcpy(&v, &bits.back(), 4);
      in.push_back(v);
    }
    std::vector<double> want(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) want[i] = std::log(static_cast<double>(in[i]));
    for (std::size_t p = 0; p < logs.size(); ++p) {
      logs[p].log(in.data(), out.data(), in.size());
      for (std::size_t i = 0; i < in.size(); ++i) {
        if (bits[i] == one) {  // log 1 = 0 has no ulp; any other result is an error of its own size
          err[p].max = std::max(err[p].max, out[i] == 0 ? 0.0 : 1e9);
          continue;
        }
        const double e = signed_ulps(out[i], want[i]);
        err[p].max = std::max(err[p].max, std::fabs(e));
        if (bits[i] < one) {
          err[p].sum += e;
          ++err[p].n;
        }
      }
    }
  }
  for (std::size_t p = 0; p < logs.size(); ++p) {
    Error total;
    for (const auto& t : per_thread) {
      total.max = std::max(total.max, t[p].max);
      total.sum += t[p].sum;
      total.n += t[p].n;
    }
    std::printf("%s max %.3f mean %.5f\n", logs[p].name, total.max, total.sum / static_cast<double>(total.n));
  }
  return 0;
}
