// libFuzzer target for the whole C ABI (include/kldiv/kldiv.h), built with
// clang -fsanitize=fuzzer,address,undefined by .ci/fuzz.sh.  Each input is a short program of calls:
//
// - forward, backward and forward_backward: the _f32 / _f64 functions, and the typed kldiv_forward,
//   kldiv_backward and kldiv_forward_backward in every dtype and with unknown dtypes; with arbitrary ndim,
//   shapes (zero, negative, huge, overflowing sizes), reductions and dtypes (any int, passed as a C caller
//   would: tests/fuzz/c_calls.c),
//   log_target (any int), each pointer NULL or an exactly-sized heap buffer (so AddressSanitizer sees any
//   read or write past it), and data from the input's raw bytes or a generator mixing NaN, inf, zeros,
//   subnormals, negatives and huge values;
// - the logits entry points (fuzz_logits.cpp, which states what it checks);
// - kldiv-eval's C ABI and its file readers (fuzz_eval.cpp, which states what it checks);
// - kldiv_set_isa with NULL, known names, near misses and arbitrary strings; kldiv_set_num_threads with
//   any int; kldiv_status_string with any int; kldiv_isa, kldiv_version, kldiv_last_error.
//
// It asserts, besides the sanitizers' own checks:
// - the status is KLDIV_OK exactly when the call is valid by the rules of kldiv.h and README.md, and
//   otherwise one of the errors that apply;
// - a failed call leaves every output byte untouched and sets a message;
// - a valid call gives the same bits again with another thread count, and writes every output element
//   (two calls with different fill patterns); forward_backward gives the values of forward and backward
//   (the same bits, except that any NaN may stand for any NaN); a typed F32 or F64 call gives exactly the
//   bits of the _f32 / _f64 function;
// - a failed kldiv_set_isa changes nothing, a valid one selects that ISA.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "c_calls.h"
#include "fuzz_support.hpp"
#include "kldiv/dtype.hpp"
#include "kldiv/kldiv.h"

namespace {

// Valid shapes above this many elements get NULL data (which the library must reject): nothing bigger is
// allocated.  2^17 elements still run on 4 threads (32768 per thread, src/parallel.cpp).
constexpr std::uint64_t kMaxElements = std::uint64_t(1) << 17;
constexpr int kMaxShapeArray = 16;  // a larger ndim gets a NULL shape

const char* const kIsaNames[] = {"avx512", "avx2", "sse2", "neon", "scalar"};
bool g_available[5];
std::string g_best;
int g_threads = 0;  // what kldiv_set_num_threads was last given, clamped as documented

void init() {
  static bool done = false;
  if (done) return;
  done = true;
  for (int i = 0; i < 5; ++i) g_available[i] = kldiv_set_isa(kIsaNames[i]) == KLDIV_OK;
  EXPECT(kldiv_set_isa(nullptr) == KLDIV_OK);
  g_best = kldiv_isa();
}

// An exactly-sized heap array, or NULL; or a view of another Buffer's array.
template <class T>
struct Buffer {
  std::unique_ptr<T[]> owned;
  T* ptr = nullptr;
  std::size_t size = 0;
  T* get() const { return ptr; }
  void allocate(std::size_t n) {
    owned.reset(new T[n > 0 ? n : 1]);  // a zero-element buffer is still a valid non-null pointer
    ptr = owned.get();
    size = n;
  }
  void view(const Buffer& other) {
    ptr = other.ptr;
    size = other.size;
  }
  void allocate_like(const Buffer& other) {  // a fresh array of other's size, or NULL
    if (other.ptr)
      allocate(other.size);
    else
      reset();
  }
  void copy(const Buffer& other) {  // a fresh array with other's values, or NULL
    allocate_like(other);
    if (ptr) std::memcpy(ptr, other.ptr, size * sizeof(T));
  }
  void reset() {
    owned.reset();
    ptr = nullptr;
    size = 0;
  }
  void fill(unsigned char byte) {
    if (ptr) std::memset(ptr, byte, size * sizeof(T));
  }
  bool all(unsigned char byte) const {
    const auto* p = reinterpret_cast<const unsigned char*>(ptr);
    for (std::size_t i = 0; ptr && i < size * sizeof(T); ++i)
      if (p[i] != byte) return false;
    return true;
  }
};

// double to T without undefined behaviour: out-of-range values become infinities.
template <class T>
T narrow(double v) {
  if (v > static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::infinity();
  if (v < -static_cast<double>(std::numeric_limits<T>::max())) return -std::numeric_limits<T>::infinity();
  return static_cast<T>(v);
}

// What the fuzzer needs of an element type: its kldiv_dtype, the type it is computed in, its extremes, and
// exact widening to double and rounding from double (a half through float).
template <class T>
struct Elem {
  static constexpr int dtype = std::is_same_v<T, double> ? KLDIV_DTYPE_F64 : KLDIV_DTYPE_F32;
  using compute = T;
  static constexpr double max = std::numeric_limits<T>::max(), min = std::numeric_limits<T>::min(),
                          denorm_min = std::numeric_limits<T>::denorm_min();
  static double widen(T v) { return v; }
  static T from(double v) { return narrow<T>(v); }
};
template <>
struct Elem<kldiv::bf16> {
  static constexpr int dtype = KLDIV_DTYPE_BF16;
  using compute = float;
  static constexpr double max = 0x1.fep127, min = 0x1p-126, denorm_min = 0x1p-133;
  static double widen(kldiv::bf16 v) { return kldiv::to_float(v); }
  static kldiv::bf16 from(double v) { return kldiv::to_bf16(narrow<float>(v)); }
};
template <>
struct Elem<kldiv::f16> {
  static constexpr int dtype = KLDIV_DTYPE_F16;
  using compute = float;
  static constexpr double max = 65504, min = 0x1p-14, denorm_min = 0x1p-24;
  static double widen(kldiv::f16 v) { return kldiv::to_float(v); }
  static kldiv::f16 from(double v) { return kldiv::to_f16(narrow<float>(v)); }
};

template <class T>
bool is_nan(T v) {
  const double d = Elem<T>::widen(v);
  return d != d;
}

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Data: the first elements from the input's raw bytes (any bit pattern), the rest generated.  The
// specials include each type's extremes and the values where exp or t log t leave f16 and f32.
template <class T>
void fill_data(FuzzedDataProvider& in, Buffer<T>& b) {
  if (!b.get()) return;
  using E = Elem<T>;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const double specials[] = {nan,    -nan,  inf,   -inf,         0.0,     -0.0,   E::denorm_min, -E::denorm_min,
                             E::min, E::max, -E::max, 1,         -1,      0.5,    88.72,         -104,
                             709.79, -745.2, 1e-40, -0.25,       3e38,    65504,  65520,         11.09,
                             6e-8};
  std::size_t raw = std::min<std::size_t>(b.size, in.ConsumeIntegralInRange<std::size_t>(0, 64));
  raw = std::min(raw, in.remaining_bytes() / sizeof(T));
  if (raw > 0) {
    const std::vector<std::uint8_t> bytes = in.ConsumeBytes<std::uint8_t>(raw * sizeof(T));
    std::memcpy(b.get(), bytes.data(), bytes.size());
  }
  std::uint64_t state = in.ConsumeIntegral<std::uint64_t>();
  const unsigned special_per_256 = in.ConsumeIntegral<std::uint8_t>();
  const bool log_scale = in.ConsumeBool();
  for (std::size_t i = raw; i < b.size; ++i) {
    const std::uint64_t r = splitmix(state);
    const double u = static_cast<double>(r >> 11) * 0x1p-53;
    if ((r & 255) < special_per_256)
      b.get()[i] = E::from(specials[(r >> 8) % (sizeof specials / sizeof specials[0])]);
    else
      b.get()[i] = E::from(log_scale ? -40 * u : u);
  }
}

int64_t consume_size(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return 0;
    case 1: return -in.ConsumeIntegralInRange<std::int64_t>(1, 3);
    case 2: return std::numeric_limits<std::int64_t>::min();
    case 3: return std::numeric_limits<std::int64_t>::max();
    case 4: return std::int64_t(1) << in.ConsumeIntegralInRange<int>(20, 62);
    case 5: return in.ConsumeIntegral<std::int64_t>();
    case 6: return in.ConsumeIntegralInRange<std::int64_t>(1, 70000);
    default: return in.ConsumeIntegralInRange<std::int64_t>(1, 40);
  }
}

int consume_ndim(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 9)) {
    case 0: return in.ConsumeIntegral<int>();
    case 1: return in.ConsumeIntegralInRange<int>(-10, -1);
    case 2: return in.ConsumeIntegralInRange<int>(5, 20);
    default: return in.ConsumeIntegralInRange<int>(0, 4);
  }
}

int consume_reduction(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return in.ConsumeIntegral<int>();
    case 1: return in.ConsumeIntegralInRange<int>(-3, 8);
    default: return in.ConsumeIntegralInRange<int>(0, 3);
  }
}

// A dtype int that names no kldiv_dtype.
int consume_unknown_dtype(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: return -1;
    case 1: return 4;
    case 2: return std::numeric_limits<int>::min();
    default: {
      const int d = in.ConsumeIntegral<int>();
      return d >= 0 && d <= 3 ? d + 4 : d;
    }
  }
}

// The set of statuses a call may return; empty means valid (KLDIV_OK).
struct Expect {
  unsigned errors = 0;
  void add(kldiv_status s) { errors |= 1u << s; }
  bool valid() const { return errors == 0; }
  bool allows(int s) const { return s >= 0 && s < 32 && (errors >> s) & 1u; }
};

// Shape validity by the documented rules; numel is set when the shape itself is valid.
template <class T>
void check_shape(const std::int64_t* shape, int ndim, Expect& e, std::uint64_t& numel, bool& shape_ok) {
  shape_ok = false;
  numel = 0;
  if (ndim < 0) return e.add(KLDIV_ERROR_INVALID_SHAPE);
  if (ndim > 0 && !shape) return e.add(KLDIV_ERROR_NULL_POINTER);
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T);
  std::uint64_t n = 1;
  bool zero = false, overflow = false;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] < 0) return e.add(KLDIV_ERROR_INVALID_SHAPE);
    const auto s = static_cast<std::uint64_t>(shape[d]);
    if (s == 0)
      zero = true;
    else if (s > limit / n)
      overflow = true;
    else
      n *= s;
  }
  if (!zero && overflow) return e.add(KLDIV_ERROR_INVALID_SHAPE);
  numel = zero ? 0 : n;
  shape_ok = true;
}

enum class Entry { forward, backward, forward_backward };

template <class T>
struct Call {
  Entry entry;
  bool typed = false;          // kldiv_forward(dtype, ...) and the other typed functions, else _f32 / _f64
  int dtype = Elem<T>::dtype;  // what the typed functions get: T's dtype, or an unknown one
  int ndim = 0, reduction = 0, log_target = 0;
  std::vector<std::int64_t> shape_storage;
  const std::int64_t* shape = nullptr;
  Buffer<T> x, t, g, out, gi, gt;  // out: forward's out, or the _f32 / _f64 forward_backward's loss
  Buffer<double> loss;             // the typed forward_backward's loss
  double g_scalar = 1;             // forward_backward's grad_output (a T value for _f32 / _f64)

  int invoke() {
    if (typed) {
      switch (entry) {
        case Entry::forward: return fuzz_forward(dtype, x.get(), t.get(), shape, ndim, reduction, log_target, out.get());
        case Entry::backward:
          return fuzz_backward(dtype, g.get(), x.get(), t.get(), shape, ndim, reduction, log_target, gi.get(), gt.get());
        case Entry::forward_backward:
          return fuzz_forward_backward(dtype, x.get(), t.get(), shape, ndim, reduction, log_target, g_scalar,
                                       loss.get(), gi.get(), gt.get());
      }
    } else if constexpr (std::is_same_v<T, float>) {
      switch (entry) {
        case Entry::forward: return fuzz_forward_f32(x.get(), t.get(), shape, ndim, reduction, log_target, out.get());
        case Entry::backward:
          return fuzz_backward_f32(g.get(), x.get(), t.get(), shape, ndim, reduction, log_target, gi.get(), gt.get());
        case Entry::forward_backward:
          return fuzz_forward_backward_f32(x.get(), t.get(), shape, ndim, reduction, log_target,
                                           static_cast<float>(g_scalar), out.get(), gi.get(), gt.get());
      }
    } else if constexpr (std::is_same_v<T, double>) {
      switch (entry) {
        case Entry::forward: return fuzz_forward_f64(x.get(), t.get(), shape, ndim, reduction, log_target, out.get());
        case Entry::backward:
          return fuzz_backward_f64(g.get(), x.get(), t.get(), shape, ndim, reduction, log_target, gi.get(), gt.get());
        case Entry::forward_backward:
          return fuzz_forward_backward_f64(x.get(), t.get(), shape, ndim, reduction, log_target, g_scalar, out.get(),
                                           gi.get(), gt.get());
      }
    }
    EXPECT(!"halves have only the typed entry points");
    return -1;
  }

  // forward_backward's loss as a double (for _f32 / _f64 and forward, out's one value widened).
  double loss_value() const { return typed && entry == Entry::forward_backward ? loss.get()[0] : Elem<T>::widen(out.get()[0]); }

  void fill_outputs(unsigned char byte) {
    out.fill(byte);
    loss.fill(byte);
    gi.fill(byte);
    gt.fill(byte);
  }
  bool outputs_all(unsigned char byte) const {
    return out.all(byte) && loss.all(byte) && gi.all(byte) && gt.all(byte);
  }
};

// The same value bit for bit, except that any NaN matches any NaN: which NaN (sign, payload) an operation
// on NaNs returns is unspecified, and two compiled copies of a formula (the fused kernel's, or the
// speculative and the checked one) may order a product's operands differently.
template <class V>
bool same_value(const V* a, const V* b) {
  return std::memcmp(a, b, sizeof(V)) == 0 || (is_nan(*a) && is_nan(*b));
}

// Whether two outputs hold the same values (exactly the same bits if `exact`); if not, prints the first
// that differs, with its inputs.
template <class T, class V>
bool same_values(const char* what, const Call<T>& c, const Buffer<V>& a, const Buffer<V>& b, bool exact = false) {
  if (!a.get() || !b.get()) return !a.get() && !b.get();
  if (a.size != b.size) return false;
  for (std::size_t i = 0; i < a.size; ++i) {
    if (exact ? std::memcmp(a.get() + i, b.get() + i, sizeof(V)) == 0 : same_value(a.get() + i, b.get() + i)) continue;
    const bool has_inputs = c.x.get() && c.t.get() && i < c.x.size;
    std::fprintf(stderr,
                 "%s differs at %zu of %zu (dtype %d, %s, reduction %d, log_target %d, g %a): x %a t %a: %a vs %a\n",
                 what, i, a.size, Elem<T>::dtype, c.typed ? "typed" : "_f32/_f64", c.reduction, c.log_target,
                 c.g_scalar, has_inputs ? Elem<T>::widen(c.x.get()[i]) : 0.0,
                 has_inputs ? Elem<T>::widen(c.t.get()[i]) : 0.0, Elem<V>::widen(a.get()[i]),
                 Elem<V>::widen(b.get()[i]));
    return false;
  }
  return true;
}

// NULL with probability about 1/8, else an exactly-sized buffer of n elements.
template <class T>
void maybe_allocate(FuzzedDataProvider& in, Buffer<T>& b, std::size_t n) {
  if (in.ConsumeIntegralInRange<int>(0, 7) != 0) b.allocate(n);
}

// A call like c (the same inputs, as views) through the same or the other functions, with fresh outputs
// of c's sizes; forward_backward's loss where the function puts it.
template <class T>
Call<T> like(const Call<T>& c, Entry entry, bool typed) {
  Call<T> f;
  f.entry = entry;
  f.typed = typed;
  f.dtype = c.dtype;
  f.ndim = c.ndim;
  f.reduction = c.reduction;
  f.log_target = c.log_target;
  f.shape = c.shape;
  f.g_scalar = c.g_scalar;
  f.x.view(c.x);
  f.t.view(c.t);
  if (entry == Entry::forward) {
    if (c.entry == Entry::forward)
      f.out.allocate_like(c.out);
    else
      f.out.allocate(1);  // forward_backward's reduction
  }
  if (entry == Entry::forward_backward) (typed ? f.loss.allocate(1) : f.out.allocate(1));
  if (entry != Entry::forward) {
    f.gi.allocate_like(c.gi);
    f.gt.allocate_like(c.gt);
  }
  return f;
}

template <class T>
void fuzz_call(FuzzedDataProvider& in) {
  using E = Elem<T>;
  constexpr bool half = !std::is_floating_point_v<T>;
  Call<T> c;
  c.entry = static_cast<Entry>(in.ConsumeIntegralInRange<int>(0, 2));
  c.typed = half || in.ConsumeBool();  // halves have only the typed functions
  if (c.typed && in.ConsumeIntegralInRange<int>(0, 7) == 0) c.dtype = consume_unknown_dtype(in);
  c.ndim = consume_ndim(in);
  c.reduction = consume_reduction(in);
  c.log_target = in.ConsumeBool() ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 1);
  // grad_output: the typed forward_backward takes any double and computes with it rounded to float (f32
  // and the halves) or as it is (f64); the others take a T.
  switch (in.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: c.g_scalar = std::numeric_limits<double>::quiet_NaN(); break;
    case 1: c.g_scalar = -std::numeric_limits<double>::infinity(); break;
    case 2: c.g_scalar = in.ConsumeFloatingPoint<double>(); break;
    case 3: c.g_scalar = E::widen(E::from(in.ConsumeFloatingPoint<double>())); break;  // a T value
    default: c.g_scalar = 1; break;
  }
  if (!c.typed) c.g_scalar = E::widen(E::from(c.g_scalar));
  // The shape: an array of exactly ndim sizes (ASan catches any read past it), or NULL.
  const bool null_shape = in.ConsumeIntegralInRange<int>(0, 15) == 0 || c.ndim > kMaxShapeArray;
  if (!null_shape) {
    c.shape_storage.resize(c.ndim > 0 ? static_cast<std::size_t>(c.ndim) : 0);
    for (auto& s : c.shape_storage) s = consume_size(in);
    // A fresh heap array of exactly ndim sizes (one for ndim <= 0, never read).
    auto* exact = new std::int64_t[c.shape_storage.empty() ? 1 : c.shape_storage.size()];
    std::copy(c.shape_storage.begin(), c.shape_storage.end(), exact);
    c.shape = exact;
  }
  std::unique_ptr<const std::int64_t[]> shape_owner(c.shape);

  Expect e;
  std::uint64_t numel = 0;
  bool shape_ok = false;
  const bool dtype_ok = c.dtype == E::dtype;
  const bool reduction_ok = c.reduction >= 0 && c.reduction <= 3;
  const bool none = c.reduction == KLDIV_REDUCTION_NONE;
  if (!dtype_ok) e.add(KLDIV_ERROR_INVALID_ARGUMENT);
  if (!reduction_ok) e.add(KLDIV_ERROR_INVALID_ARGUMENT);
  if (c.entry == Entry::forward_backward && none) e.add(KLDIV_ERROR_INVALID_ARGUMENT);
  check_shape<T>(c.shape, c.ndim, e, numel, shape_ok);

  // Buffers: exactly sized when the shape is valid and small; otherwise small dummies or NULL, which a
  // correct library never reads (the call is invalid, or its data pointers are NULL).
  const bool small = shape_ok && numel <= kMaxElements;
  const std::size_t n = small ? static_cast<std::size_t>(numel) : 3;
  const std::size_t n_out = (c.entry == Entry::forward && none) ? n : 1;
  if (small || in.ConsumeBool()) {
    maybe_allocate(in, c.x, n);
    maybe_allocate(in, c.t, n);
  }
  if (shape_ok && !small) {  // a valid shape too big to allocate: its data must be NULL
    c.x.reset();
    if (in.ConsumeBool()) c.t.reset();
  }
  switch (c.entry) {
    case Entry::forward:
      maybe_allocate(in, c.out, n_out);
      break;
    case Entry::backward:
      maybe_allocate(in, c.g, none ? n : 1);
      maybe_allocate(in, c.gi, n);
      maybe_allocate(in, c.gt, n);
      break;
    case Entry::forward_backward:
      if (c.typed)
        maybe_allocate(in, c.loss, 1);
      else
        maybe_allocate(in, c.out, 1);
      maybe_allocate(in, c.gi, n);
      maybe_allocate(in, c.gt, n);
      break;
  }
  fill_data(in, c.x);
  fill_data(in, c.t);
  fill_data(in, c.g);

  if (shape_ok && numel > 0 && !c.x.get()) e.add(KLDIV_ERROR_NULL_POINTER);
  if (shape_ok && numel > 0 && !c.t.get()) e.add(KLDIV_ERROR_NULL_POINTER);
  if (shape_ok && c.entry == Entry::forward && (numel > 0 || !none) && !c.out.get()) e.add(KLDIV_ERROR_NULL_POINTER);
  if (shape_ok && c.entry == Entry::backward && (numel > 0 || !none) && !c.g.get()) e.add(KLDIV_ERROR_NULL_POINTER);
  if (c.entry == Entry::forward_backward && !(c.typed ? c.loss.get() != nullptr : c.out.get() != nullptr))
    e.add(KLDIV_ERROR_NULL_POINTER);

  c.fill_outputs(0xa5);
  const int status = c.invoke();
  if (!e.valid()) {
    EXPECT(e.allows(status));
    EXPECT(c.outputs_all(0xa5));  // untouched
    EXPECT(kldiv_last_error() != nullptr && kldiv_last_error()[0] != '\0');
    EXPECT(std::strcmp(fuzz_status_string(status), "unknown status") != 0);
    // An unknown dtype alone: the message names it.
    if (!dtype_ok && e.errors == 1u << KLDIV_ERROR_INVALID_ARGUMENT && reduction_ok && !(c.entry == Entry::forward_backward && none))
      EXPECT(std::strstr(kldiv_last_error(), "dtype") != nullptr);
    return;
  }
  EXPECT(status == KLDIV_OK);
  Buffer<T> first_out, first_gi, first_gt;
  Buffer<double> first_loss;
  first_out.copy(c.out);
  first_loss.copy(c.loss);
  first_gi.copy(c.gi);
  first_gt.copy(c.gt);

  // Again with another thread count and another fill: the same values (neither fill is a NaN), so every
  // output written (except that the gradients' outputs stay untouched when numel is 0).  Any NaN matches
  // any NaN: with another split, a vector may be computed by the speculative or the checked copy of the
  // kernel, which may order a product's NaN operands differently.
  const int saved = g_threads;
  const int other = saved == 0 ? 3 : (saved == 1 ? 2 : 1);
  kldiv_set_num_threads(other);
  c.fill_outputs(0x5a);
  EXPECT(c.invoke() == KLDIV_OK);
  EXPECT(same_values("out, other thread count", c, first_out, c.out));
  EXPECT(same_values("loss, other thread count", c, first_loss, c.loss));
  EXPECT(same_values("grad_input, other thread count", c, first_gi, c.gi));
  EXPECT(same_values("grad_target, other thread count", c, first_gt, c.gt));
  kldiv_set_num_threads(saved);

  // The typed F32 and F64 calls give exactly the bits of the _f32 / _f64 functions (the same thread count).
  if constexpr (!half) {
    if (c.typed) {
      Call<T> u = like(c, c.entry, false);
      if (c.entry == Entry::backward) u.g.view(c.g);
      u.g_scalar = static_cast<typename E::compute>(c.g_scalar);  // what the typed function computed with
      EXPECT(u.invoke() == KLDIV_OK);
      if (c.entry == Entry::forward) EXPECT(same_values("out, typed vs _f32/_f64", c, first_out, u.out, true));
      if (c.entry == Entry::forward_backward) {
        const double a = first_loss.get()[0], b = u.loss_value();
        EXPECT(std::memcmp(&a, &b, sizeof a) == 0);
      }
      EXPECT(same_values("grad_input, typed vs _f32/_f64", c, first_gi, u.gi, true));
      EXPECT(same_values("grad_target, typed vs _f32/_f64", c, first_gt, u.gt, true));
    }
  }

  if (c.entry == Entry::forward_backward) {
    // The loss has forward's value, the gradients backward's (with grad_output, as the function computes
    // with it, as the upstream gradient), through the same family of functions.
    Call<T> f = like(c, Entry::forward, c.typed);
    EXPECT(f.invoke() == KLDIV_OK);
    c.fill_outputs(0xa5);
    EXPECT(c.invoke() == KLDIV_OK);
    const double fl = f.loss_value(), cl = c.loss_value();
    if (!(std::memcmp(&fl, &cl, sizeof fl) == 0 || (fl != fl && cl != cl))) {
      std::fprintf(stderr, "loss: forward %a, forward_backward %a (dtype %d, reduction %d, log_target %d)\n", fl, cl,
                   c.dtype, c.reduction, c.log_target);
      EXPECT(!"forward_backward's loss is forward's");
    }
    // backward takes grad_output as a T: compare where the computing value of g is one (or any NaN).
    const auto g = static_cast<typename E::compute>(c.g_scalar);
    const T g_t = E::from(g);
    if (E::widen(g_t) == g || g != g) {
      Call<T> b = like(c, Entry::backward, c.typed);
      b.g.allocate(1);
      b.g.get()[0] = g_t;
      b.fill_outputs(0xa5);
      EXPECT(b.invoke() == KLDIV_OK);
      EXPECT(same_values("grad_input, forward_backward vs backward", c, b.gi, c.gi));
      EXPECT(same_values("grad_target, forward_backward vs backward", c, b.gt, c.gt));
    }
  }
}

void fuzz_set_isa(FuzzedDataProvider& in) {
  static const char* const kNames[] = {"auto", "avx512", "avx2", "sse2", "neon", "scalar", "", "AVX2", "avx2 ",
                                       " auto", "avx51", "avx5122", "neon64", "sse", "Scalar", "auto\n"};
  std::string name;
  const char* arg = nullptr;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: break;  // NULL: automatic
    case 1: name = kNames[in.ConsumeIntegralInRange<std::size_t>(0, sizeof kNames / sizeof kNames[0] - 1)]; arg = name.c_str(); break;
    default: name = in.ConsumeRandomLengthString(24); arg = name.c_str(); break;
  }
  const std::string before = kldiv_isa();
  const int status = kldiv_set_isa(arg);
  // What the library sees: the C string up to its first NUL.
  const std::string seen = arg ? std::string(arg) : std::string("auto");
  bool known = seen == "auto" || seen.empty();  // "" is accepted as "auto" (src/dispatch.cpp)
  for (int i = 0; i < 5; ++i) known = known || (g_available[i] && seen == kIsaNames[i]);
  if (!known) {
    EXPECT(status == KLDIV_ERROR_UNSUPPORTED_ISA);
    EXPECT(before == kldiv_isa());
    EXPECT(kldiv_last_error()[0] != '\0');
    return;
  }
  EXPECT(status == KLDIV_OK);
  EXPECT(kldiv_isa() == ((seen == "auto" || seen.empty()) ? g_best : seen));
}

void fuzz_misc(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
      const int n = in.ConsumeBool() ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(-2, 9);
      kldiv_set_num_threads(n);
      g_threads = n > 0 ? n : 0;
      break;
    }
    case 1: {
      const int s = in.ConsumeBool() ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(-1, 6);
      const char* text = fuzz_status_string(s);
      EXPECT(text != nullptr);
      EXPECT((s >= 0 && s <= 4) == (std::strcmp(text, "unknown status") != 0));
      break;
    }
    default:
      EXPECT(std::strlen(kldiv_version()) >= 5);
      EXPECT(std::strlen(kldiv_isa()) > 0);
      EXPECT(kldiv_last_error() != nullptr);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  init();
  FuzzedDataProvider in(data, size);
  for (int ops = 0; ops < 6 && in.remaining_bytes() > 0; ++ops) {
    switch (in.ConsumeIntegralInRange<int>(0, 12)) {
      case 0: fuzz_set_isa(in); break;
      case 1: fuzz_misc(in); break;
      case 2: fuzz_call<float>(in); break;
      case 3: fuzz_call<kldiv::bf16>(in); break;
      case 4: fuzz_call<kldiv::f16>(in); break;
      case 8: case 9: fuzz_logits(in); break;
      case 10: case 11: fuzz_eval(in); break;
      case 12: fuzz_eval_files(in); break;
      default: fuzz_call<double>(in); break;
    }
  }
  // Leave the global settings as the next input expects them.
  kldiv_set_num_threads(0);
  g_threads = 0;
  EXPECT(kldiv_set_isa(nullptr) == KLDIV_OK);
  return 0;
}
