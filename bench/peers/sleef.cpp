// SLEEF's AVX-512 logf, 1.0-ulp (u10) and 3.5-ulp (u35) variants.  Its functions are declared const, so
// they are wrapped rather than passed as template arguments.
#include <sleef.h>

#include "loop.hpp"

namespace bench::peer {
struct SleefU10 {
  static __m512 f(__m512 v) { return Sleef_logf16_u10avx512f(v); }
};
struct SleefU35 {
  static __m512 f(__m512 v) { return Sleef_logf16_u35avx512f(v); }
};
extern const Peer sleef_u10 = make<SleefU10>("sleef_u10");
extern const Peer sleef_u35 = make<SleefU35>("sleef_u35");
}  // namespace bench::peer
