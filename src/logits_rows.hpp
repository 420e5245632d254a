// The logits engine's internal entry, for commands built on the library (kldiv-eval) that need more of
// each row than the public API returns.  Signature (kept stable):
//
//   void kldiv::detail::logits_rows(const Rows& p, const Rows& q, const LogitsOptions& options,
//                                   std::int64_t begin, std::int64_t end, double* values,
//                                   const RowExtras& extras = {});
//
// - p, q and options are validated as by logits_forward (throws kldiv errors, writes nothing); options'
//   reduction is ignored (use Reduction::none to be safe); 0 <= begin <= end <= p.rows, or invalid_argument.
// - values[i] (i = r - begin, for rows r in [begin, end)) is row r's divergence exactly as logits_forward
//   with Reduction::none gives it (T^2 applied, 0 for a masked row, NaN per the edge table).  values
//   must not be null when begin < end.
// - Each non-null pointer of extras gets one value per row of the range:
//     lse_p[i], lse_q[i]: log sum_j exp(p_rj / T) and the same for q, in double (NaN for a NaN row or a
//                         masked one, -inf for a row all -inf);
//     argmax_p[i], argmax_q[i]: the first index of the largest logit of the row (-1 for a NaN row or a
//                         masked one, and for a row all -inf).
//   Computing the argmaxes costs a scan of a chunk whenever the running maximum grows; with those
//   pointers null nothing is paid.
// - Rows are split between options.num_threads threads (0: the global setting); each row's results have
//   the same bits for any thread count, range split and ISA with FMA.
#pragma once

#include <cstdint>

#include "kldiv/logits.hpp"

namespace kldiv::detail {

struct RowExtras {
  double* lse_p = nullptr;
  double* lse_q = nullptr;
  std::int64_t* argmax_p = nullptr;
  std::int64_t* argmax_q = nullptr;
};

void logits_rows(const Rows& p, const Rows& q, const LogitsOptions& options, std::int64_t begin, std::int64_t end,
                 double* values, const RowExtras& extras = {});

}  // namespace kldiv::detail
