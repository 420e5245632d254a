// The list of the peers built (bench/CMakeLists.txt defines KLDIV_BENCH_PEER_<NAME> for each).
#include "peers.hpp"

namespace bench {
namespace peer {
#define KLDIV_PEER(name) extern const Peer name;
#ifdef KLDIV_BENCH_PEER_LIBMVEC
KLDIV_PEER(libmvec)
#endif
#ifdef KLDIV_BENCH_PEER_SLEEF
KLDIV_PEER(sleef_u10)
KLDIV_PEER(sleef_u35)
#endif
#ifdef KLDIV_BENCH_PEER_HIGHWAY
KLDIV_PEER(highway)
#endif
#ifdef KLDIV_BENCH_PEER_XSIMD
KLDIV_PEER(xsimd_log)
#endif
#ifdef KLDIV_BENCH_PEER_EIGEN
KLDIV_PEER(eigen)
#endif
#undef KLDIV_PEER
}  // namespace peer

std::vector<Peer> peers() {
  std::vector<Peer> all;
#if defined(__x86_64__) && defined(__GNUC__)
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq") ||
      !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512vl"))
    return all;
#ifdef KLDIV_BENCH_PEER_HIGHWAY
  all.push_back(peer::highway);
#endif
#ifdef KLDIV_BENCH_PEER_SLEEF
  all.push_back(peer::sleef_u10);
  all.push_back(peer::sleef_u35);
#endif
#ifdef KLDIV_BENCH_PEER_XSIMD
  all.push_back(peer::xsimd_log);
#endif
#ifdef KLDIV_BENCH_PEER_LIBMVEC
  all.push_back(peer::libmvec);
#endif
#ifdef KLDIV_BENCH_PEER_EIGEN
  all.push_back(peer::eigen);
#endif
#endif
  return all;
}

const char* missing_peers() { return KLDIV_BENCH_PEERS_MISSING; }

}  // namespace bench
