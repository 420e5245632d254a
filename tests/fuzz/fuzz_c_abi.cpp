// libFuzzer target for the whole C ABI (include/kldiv/kldiv.h), built with
// clang -fsanitize=fuzzer,address,undefined by .ci/fuzz.sh.  Each input is a short program of calls:
//
// - forward, backward and forward_backward, f32 and f64, with arbitrary ndim, shapes (zero, negative,
//   huge, overflowing sizes), reductions (any int, passed as a C caller would: tests/fuzz/c_calls.c),
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
//   (the same bits, except that any NaN may stand for any NaN);
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
#include <vector>

#include "c_calls.h"
#include "fuzz_support.hpp"
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
  void copy(const Buffer& other) {  // a fresh array with other's values, or NULL
    if (!other.ptr) return reset();
    allocate(other.size);
    std::memcpy(ptr, other.ptr, size * sizeof(T));
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

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Data: the first elements from the input's raw bytes (any bit pattern), the rest generated.
template <class T>
void fill_data(FuzzedDataProvider& in, Buffer<T>& b) {
  if (!b.get()) return;
  using L = std::numeric_limits<T>;
  const T specials[] = {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity(), T(0), -T(0),
                        L::denorm_min(), -L::denorm_min(), L::min(), L::max(), -L::max(), T(1), T(-1),
                        T(0.5), T(88.72), T(-104), T(709.79), T(-745.2), T(1e-40), T(-0.25), T(3e38)};
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
      b.get()[i] = specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
    else
      b.get()[i] = static_cast<T>(log_scale ? -40 * u : u);
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
  int ndim = 0, reduction = 0, log_target = 0;
  std::vector<std::int64_t> shape_storage;
  const std::int64_t* shape = nullptr;
  Buffer<T> x, t, g, out, gi, gt;  // out: forward's out, or forward_backward's loss
  T g_scalar = 1;                  // forward_backward's grad_output

  int invoke() {
    const bool f64 = sizeof(T) == 8;
    switch (entry) {
      case Entry::forward:
        return f64 ? fuzz_forward_f64((const double*)x.get(), (const double*)t.get(), shape, ndim, reduction, log_target,
                                      (double*)out.get())
                   : fuzz_forward_f32((const float*)x.get(), (const float*)t.get(), shape, ndim, reduction, log_target,
                                      (float*)out.get());
      case Entry::backward:
        return f64 ? fuzz_backward_f64((const double*)g.get(), (const double*)x.get(), (const double*)t.get(), shape,
                                       ndim, reduction, log_target, (double*)gi.get(), (double*)gt.get())
                   : fuzz_backward_f32((const float*)g.get(), (const float*)x.get(), (const float*)t.get(), shape, ndim,
                                       reduction, log_target, (float*)gi.get(), (float*)gt.get());
      case Entry::forward_backward:
        return f64 ? fuzz_forward_backward_f64((const double*)x.get(), (const double*)t.get(), shape, ndim, reduction,
                                               log_target, (double)g_scalar, (double*)out.get(), (double*)gi.get(),
                                               (double*)gt.get())
                   : fuzz_forward_backward_f32((const float*)x.get(), (const float*)t.get(), shape, ndim, reduction,
                                               log_target, (float)g_scalar, (float*)out.get(), (float*)gi.get(),
                                               (float*)gt.get());
    }
    return -1;
  }

  void fill_outputs(unsigned char byte) {
    out.fill(byte);
    gi.fill(byte);
    gt.fill(byte);
  }
  bool outputs_all(unsigned char byte) const { return out.all(byte) && gi.all(byte) && gt.all(byte); }
};

// The same value bit for bit, except that any NaN matches any NaN: which NaN (sign, payload) an operation
// on NaNs returns is unspecified, and two compiled copies of a formula (the fused kernel's, or the
// speculative and the checked one) may order a product's operands differently.
template <class T>
bool same_value(const T* a, const T* b) {
  return std::memcmp(a, b, sizeof(T)) == 0 || (*a != *a && *b != *b);
}

// Whether two outputs hold the same values; if not, prints the first that differs, with its inputs.
template <class T>
bool same_values(const char* what, const Call<T>& c, const Buffer<T>& a, const Buffer<T>& b) {
  if (!a.get() || !b.get()) return !a.get() && !b.get();
  if (a.size != b.size) return false;
  for (std::size_t i = 0; i < a.size; ++i) {
    if (same_value(a.get() + i, b.get() + i)) continue;
    std::fprintf(stderr, "%s differs at %zu of %zu (f%d, reduction %d, log_target %d, g %a): x %a t %a: %a vs %a\n",
                 what, i, a.size, int(8 * sizeof(T)), c.reduction, c.log_target, double(c.g_scalar),
                 double(c.x.get()[i]), double(c.t.get()[i]), double(a.get()[i]), double(b.get()[i]));
    return false;
  }
  return true;
}

// NULL with probability about 1/8, else an exactly-sized buffer of n elements.
template <class T>
void maybe_allocate(FuzzedDataProvider& in, Buffer<T>& b, std::size_t n) {
  if (in.ConsumeIntegralInRange<int>(0, 7) != 0) b.allocate(n);
}

template <class T>
void fuzz_call(FuzzedDataProvider& in) {
  Call<T> c;
  c.entry = static_cast<Entry>(in.ConsumeIntegralInRange<int>(0, 2));
  c.ndim = consume_ndim(in);
  c.reduction = consume_reduction(in);
  c.log_target = in.ConsumeBool() ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 1);
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: c.g_scalar = std::numeric_limits<T>::quiet_NaN(); break;
    case 1: c.g_scalar = -std::numeric_limits<T>::infinity(); break;
    case 2: c.g_scalar = narrow<T>(in.ConsumeFloatingPoint<double>()); break;
    default: c.g_scalar = T(1); break;
  }
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
  const bool reduction_ok = c.reduction >= 0 && c.reduction <= 3;
  const bool none = c.reduction == KLDIV_REDUCTION_NONE;
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
  if (c.entry == Entry::forward_backward && !c.out.get()) e.add(KLDIV_ERROR_NULL_POINTER);

  c.fill_outputs(0xa5);
  const int status = c.invoke();
  if (!e.valid()) {
    EXPECT(e.allows(status));
    EXPECT(c.outputs_all(0xa5));  // untouched
    EXPECT(kldiv_last_error() != nullptr && kldiv_last_error()[0] != '\0');
    EXPECT(std::strcmp(fuzz_status_string(status), "unknown status") != 0);
    return;
  }
  EXPECT(status == KLDIV_OK);
  Buffer<T> first_out, first_gi, first_gt;
  first_out.copy(c.out);
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
  EXPECT(same_values("grad_input, other thread count", c, first_gi, c.gi));
  EXPECT(same_values("grad_target, other thread count", c, first_gt, c.gt));
  kldiv_set_num_threads(saved);

  if (c.entry == Entry::forward_backward) {
    // The loss has forward's bits, the gradients backward's (with grad_output as the upstream gradient).
    Call<T> f;
    f.entry = Entry::forward;
    f.ndim = c.ndim;
    f.reduction = c.reduction;
    f.log_target = c.log_target;
    f.shape = c.shape;
    f.x.view(c.x);
    f.t.view(c.t);
    f.out.allocate(1);
    EXPECT(f.invoke() == KLDIV_OK);
    EXPECT(same_values("loss", c, f.out, c.out));
    f.entry = Entry::backward;
    f.g.allocate(1);
    f.g.get()[0] = c.g_scalar;
    if (c.gi.get()) f.gi.allocate(c.gi.size);
    if (c.gt.get()) f.gt.allocate(c.gt.size);
    f.fill_outputs(0xa5);
    c.fill_outputs(0xa5);
    EXPECT(c.invoke() == KLDIV_OK);
    EXPECT(f.invoke() == KLDIV_OK);
    EXPECT(same_values("grad_input", c, f.gi, c.gi));
    EXPECT(same_values("grad_target", c, f.gt, c.gt));
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
      case 2: case 3: case 4: fuzz_call<float>(in); break;
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
