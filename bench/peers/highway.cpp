// Highway's hwy::Log, on its static target only (HWY_COMPILE_ONLY_STATIC, set by bench/CMakeLists.txt):
// this file is compiled for AVX-512, which makes the target AVX3.
#include <hwy/highway.h>
#include <hwy/contrib/math/math-inl.h>

#include "loop.hpp"

namespace bench::peer {
namespace hn = hwy::HWY_NAMESPACE;
struct Highway {
  static __m512 f(__m512 v) {
    const hn::Full512<float> d;
    hn::Vec512<float> w;
    w.raw = v;
    return hn::Log(d, w).raw;
  }
};
extern const Peer highway = make<Highway>("highway");
}  // namespace bench::peer
