// The peers: what a C++ user who wants speed writes instead of kldiv, a hand-written loop
// sum t*(log t - x) over a vectorized log from a well-kept library (issue 12).  Each is optional, built
// when its Debian package is found (bench/CMakeLists.txt), and AVX-512 only: each file is compiled for
// AVX-512 (never -march=native: Highway 1.0.3 rejects Zen 5's), and peers() lists them only where the
// CPU has it.
#pragma once

#include <cstddef>
#include <vector>

namespace bench {

struct Peer {
  const char* name;
  // sum over i < n of t[i] * (log t[i] - x[i]); every t > 0.
  double (*sum)(const float* x, const float* t, std::size_t n);
  // out[i] = log in[i], to measure the log's error (kldiv_peer_accuracy).
  void (*log)(const float* in, float* out, std::size_t n);
};

// The peers built here that this CPU can run.
std::vector<Peer> peers();
// Those not built, each with the package that would build it ("" if none is missing).
const char* missing_peers();

}  // namespace bench
