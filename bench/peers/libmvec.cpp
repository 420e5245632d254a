// glibc's libmvec: its AVX-512 logf, called by its vector-ABI name.  GCC reaches it from a plain loop
// over logf only under -ffast-math or a `declare simd` declaration; the direct call is what either
// produces, without depending on the vectorizer.
#include "loop.hpp"

extern "C" __m512 _ZGVeN16v_logf(__m512);

namespace bench::peer {
struct Libmvec {
  static __m512 f(__m512 v) { return _ZGVeN16v_logf(v); }
};
extern const Peer libmvec = make<Libmvec>("libmvec");
}  // namespace bench::peer
