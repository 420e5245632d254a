// The C ABI: each entry point calls the C++ API and turns its exceptions into a status and a message.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include "kldiv/kldiv.h"
#include "kldiv/kldiv.hpp"
#include "c_guard.hpp"

namespace kldiv::detail {

// A fixed buffer: recording an error must not allocate, or it could throw on the way out.
thread_local char g_last_error[512] = "";

kldiv_status fail(kldiv_status status, const char* message) noexcept {
  std::snprintf(g_last_error, sizeof g_last_error, "%s", message);
  return status;
}

}  // namespace kldiv::detail

namespace {

using kldiv::detail::guarded;
using kldiv::detail::raw;

kldiv::Options options_of(int reduction, int log_target) {
  kldiv::Options options;
  options.reduction = static_cast<kldiv::Reduction>(reduction);  // any int: kldiv::Reduction is `: int`
  options.log_target = log_target != 0;
  return options;
}

template <class T>
kldiv_status forward(const T* input, const T* target, const int64_t* shape, int ndim, int reduction,
                     int log_target, T* out) noexcept {
  return guarded(
      [&] { kldiv::forward(input, target, kldiv::Shape(shape, ndim), options_of(reduction, log_target), out); });
}

template <class T>
kldiv_status backward(const T* grad_output, const T* input, const T* target, const int64_t* shape, int ndim,
                      int reduction, int log_target, T* grad_input, T* grad_target) noexcept {
  return guarded([&] {
    kldiv::backward(grad_output, input, target, kldiv::Shape(shape, ndim), options_of(reduction, log_target),
                    grad_input, grad_target);
  });
}

template <class T>
kldiv_status forward_backward(const T* input, const T* target, const int64_t* shape, int ndim, int reduction,
                              int log_target, T grad_output, T* loss, T* grad_input, T* grad_target) noexcept {
  return guarded([&] {
    if (!loss) throw kldiv::null_pointer("loss is null");
    const T value = kldiv::forward_backward(input, target, kldiv::Shape(shape, ndim),
                                            options_of(reduction, log_target), grad_input, grad_target, grad_output);
    *loss = value;
  });
}

// f(E{}) for the element type E of a kldiv_dtype (read as an int, as raw() explains); an unknown one is an
// invalid argument, before anything is written.
template <class F>
void with_dtype(int dtype, F&& f) {
  switch (dtype) {
    case KLDIV_DTYPE_F32: return f(float{});
    case KLDIV_DTYPE_F64: return f(double{});
    case KLDIV_DTYPE_BF16: return f(kldiv::bf16{});
    case KLDIV_DTYPE_F16: return f(kldiv::f16{});
  }
  throw kldiv::invalid_argument("unknown dtype " + std::to_string(dtype) +
                                "; expected KLDIV_DTYPE_F32 (0), _F64 (1), _BF16 (2) or _F16 (3)");
}

double as_double(float v) { return v; }
double as_double(double v) { return v; }
double as_double(kldiv::bf16 v) { return kldiv::to_float(v); }
double as_double(kldiv::f16 v) { return kldiv::to_float(v); }

kldiv::Rows rows_of(const kldiv_rows* m, const char* name) {
  if (!m) throw kldiv::null_pointer(std::string(name) + " is null");
  return kldiv::detail::rows_of(*m);
}

kldiv::LogitsOptions logits_options_of(const kldiv_logits_options* o) {
  if (!o) throw kldiv::null_pointer("options is null (kldiv_logits_options_init gives the defaults)");
  kldiv::LogitsOptions r;
  r.divergence = static_cast<kldiv::Divergence>(raw(o->divergence));  // any int: validated as such
  r.beta = o->beta;
  r.temperature = o->temperature;
  r.temperature_squared = o->temperature_squared != 0;
  r.reduction = static_cast<kldiv::Reduction>(raw(o->reduction));
  r.labels = o->labels;
  r.ignore_index = o->ignore_index;
  r.num_threads = o->num_threads;
  return r;
}

}  // namespace

extern "C" {

kldiv_status kldiv_forward(kldiv_dtype dtype, const void* input, const void* target, const int64_t* shape, int ndim,
                           kldiv_reduction reduction, int log_target, void* out) {
  return guarded([&] {
    with_dtype(raw(dtype), [&](auto e) {
      using E = decltype(e);
      kldiv::forward(static_cast<const E*>(input), static_cast<const E*>(target), kldiv::Shape(shape, ndim),
                     options_of(raw(reduction), log_target), static_cast<E*>(out));
    });
  });
}

kldiv_status kldiv_backward(kldiv_dtype dtype, const void* grad_output, const void* input, const void* target,
                            const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                            void* grad_input, void* grad_target) {
  return guarded([&] {
    with_dtype(raw(dtype), [&](auto e) {
      using E = decltype(e);
      kldiv::backward(static_cast<const E*>(grad_output), static_cast<const E*>(input), static_cast<const E*>(target),
                      kldiv::Shape(shape, ndim), options_of(raw(reduction), log_target), static_cast<E*>(grad_input),
                      static_cast<E*>(grad_target));
    });
  });
}

kldiv_status kldiv_forward_backward(kldiv_dtype dtype, const void* input, const void* target, const int64_t* shape,
                                    int ndim, kldiv_reduction reduction, int log_target, double grad_output,
                                    double* loss, void* grad_input, void* grad_target) {
  return guarded([&] {
    with_dtype(raw(dtype), [&](auto e) {
      using E = decltype(e);
      using G = std::conditional_t<std::is_same_v<E, double>, double, float>;  // the computing type
      if (!loss) throw kldiv::null_pointer("loss is null");
      const E value = kldiv::forward_backward(static_cast<const E*>(input), static_cast<const E*>(target),
                                              kldiv::Shape(shape, ndim), options_of(raw(reduction), log_target),
                                              static_cast<E*>(grad_input), static_cast<E*>(grad_target),
                                              static_cast<G>(grad_output));
      *loss = as_double(value);
    });
  });
}

void kldiv_logits_options_init(kldiv_logits_options* options) {
  if (!options) return;
  const kldiv::LogitsOptions d;
  options->divergence = KLDIV_KL;
  options->beta = d.beta;
  options->temperature = d.temperature;
  options->temperature_squared = 0;
  options->reduction = KLDIV_REDUCTION_BATCHMEAN;
  options->labels = nullptr;
  options->ignore_index = d.ignore_index;
  options->num_threads = 0;
}

kldiv_status kldiv_logits_forward(const kldiv_rows* p, const kldiv_rows* q, const kldiv_logits_options* options,
                                  double* out) {
  return guarded([&] { kldiv::logits_forward(rows_of(p, "p"), rows_of(q, "q"), logits_options_of(options), out); });
}

kldiv_status kldiv_logits_forward_backward(const kldiv_rows* p, const kldiv_rows* q,
                                           const kldiv_logits_options* options, const double* grad_output,
                                           double* out, void* grad_q, int64_t grad_stride) {
  return guarded([&] {
    kldiv::logits_forward_backward(rows_of(p, "p"), rows_of(q, "q"), logits_options_of(options), grad_output, out,
                                   grad_q, grad_stride);
  });
}

kldiv_status kldiv_forward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, float* out) {
  return forward(input, target, shape, ndim, raw(reduction), log_target, out);
}

kldiv_status kldiv_forward_f64(const double* input, const double* target, const int64_t* shape, int ndim,
                               kldiv_reduction reduction, int log_target, double* out) {
  return forward(input, target, shape, ndim, raw(reduction), log_target, out);
}

kldiv_status kldiv_backward_f32(const float* grad_output, const float* input, const float* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                float* grad_input, float* grad_target) {
  return backward(grad_output, input, target, shape, ndim, raw(reduction), log_target, grad_input, grad_target);
}

kldiv_status kldiv_backward_f64(const double* grad_output, const double* input, const double* target,
                                const int64_t* shape, int ndim, kldiv_reduction reduction, int log_target,
                                double* grad_input, double* grad_target) {
  return backward(grad_output, input, target, shape, ndim, raw(reduction), log_target, grad_input, grad_target);
}

kldiv_status kldiv_forward_backward_f32(const float* input, const float* target, const int64_t* shape, int ndim,
                                        kldiv_reduction reduction, int log_target, float grad_output, float* loss,
                                        float* grad_input, float* grad_target) {
  return forward_backward(input, target, shape, ndim, raw(reduction), log_target, grad_output, loss, grad_input,
                          grad_target);
}

kldiv_status kldiv_forward_backward_f64(const double* input, const double* target, const int64_t* shape,
                                        int ndim, kldiv_reduction reduction, int log_target, double grad_output,
                                        double* loss, double* grad_input, double* grad_target) {
  return forward_backward(input, target, shape, ndim, raw(reduction), log_target, grad_output, loss, grad_input,
                          grad_target);
}

const char* kldiv_status_string(kldiv_status status) {
  switch (raw(status)) {
    case KLDIV_OK: return "ok";
    case KLDIV_ERROR_NULL_POINTER: return "null pointer";
    case KLDIV_ERROR_INVALID_SHAPE: return "invalid shape";
    case KLDIV_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case KLDIV_ERROR_UNSUPPORTED_ISA: return "unsupported ISA";
  }
  return "unknown status";
}

const char* kldiv_last_error(void) { return kldiv::detail::g_last_error; }

const char* kldiv_isa(void) {
  const char* name = "";
  guarded([&] { name = kldiv::isa(); });
  return name;
}

kldiv_status kldiv_set_isa(const char* name) {
  return guarded([&] { kldiv::set_isa(name ? name : "auto"); });
}

void kldiv_set_num_threads(int n) { kldiv::set_num_threads(n); }

const char* kldiv_version(void) { return kldiv::version(); }

}  // extern "C"
