// xsimd's log on its AVX-512 batch (the library kldiv's vector vocabulary is built on).
#include <xsimd/xsimd.hpp>

#include "loop.hpp"

namespace bench::peer {
struct Xsimd {
  static __m512 f(__m512 v) { return xsimd::log(xsimd::batch<float, xsimd::avx512f>(v)); }
};
extern const Peer xsimd_log = make<Xsimd>("xsimd");
}  // namespace bench::peer
