// kldiv-eval's C ABI (eval.h): each entry point calls the C++ API in eval.hpp.
#include <new>

#include "c_guard.hpp"
#include "kldiv/eval.h"
#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"

struct kldiv_eval {
  kldiv::eval::Accumulator accumulator;
};

namespace {

using kldiv::detail::guarded;
using kldiv::detail::raw;

kldiv::eval::Rows rows_of(const kldiv_eval_rows* r, const char* name) {
  if (!r) throw kldiv::null_pointer(std::string(name) + " is null");
  return {static_cast<kldiv::eval::Source>(raw(r->source)), kldiv::detail::rows_of(r->rows)};
}

}  // namespace

extern "C" {

void kldiv_eval_options_init(kldiv_eval_options* options) {
  if (!options) return;
  const kldiv::eval::Options defaults;
  options->divergence = static_cast<kldiv_divergence>(defaults.divergence);
  options->beta = defaults.beta;
  options->temperature = defaults.temperature;
  options->num_threads = defaults.num_threads;
}

kldiv_status kldiv_eval_create(int64_t n_vocab, const kldiv_eval_options* options, kldiv_eval** out) {
  return guarded([&] {
    if (!out) throw kldiv::null_pointer("out is null");
    kldiv::eval::Options o;
    if (options) {
      o.divergence = static_cast<kldiv::Divergence>(raw(options->divergence));
      o.beta = options->beta;
      o.temperature = options->temperature;
      o.num_threads = options->num_threads;
    }
    *out = new kldiv_eval{kldiv::eval::Accumulator(n_vocab, o)};
  });
}

void kldiv_eval_destroy(kldiv_eval* eval) { delete eval; }

kldiv_status kldiv_eval_add(kldiv_eval* eval, const kldiv_eval_rows* base, const kldiv_eval_rows* candidate,
                            const int64_t* tokens) {
  return guarded([&] {
    if (!eval) throw kldiv::null_pointer("eval is null");
    eval->accumulator.add(rows_of(base, "base"), rows_of(candidate, "candidate"), tokens);
  });
}

kldiv_status kldiv_eval_merge(kldiv_eval* into, const kldiv_eval* from) {
  return guarded([&] {
    if (!into || !from) throw kldiv::null_pointer("into or from is null");
    into->accumulator.merge(from->accumulator);
  });
}

kldiv_status kldiv_eval_finish(const kldiv_eval* eval, kldiv_eval_result* out) {
  return guarded([&] {
    if (!eval || !out) throw kldiv::null_pointer("eval or out is null");
    *out = eval->accumulator.finish();
  });
}

int64_t kldiv_llama_row_size(int64_t n_vocab) { return kldiv::eval::llama_row_size(n_vocab); }

kldiv_status kldiv_llama_quantize_row(const float* logits, int64_t n_vocab, uint16_t* row) {
  return guarded([&] { kldiv::eval::quantize_llama_row(logits, n_vocab, row); });
}

}  // extern "C"
