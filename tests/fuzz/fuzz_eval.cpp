// kldiv-eval under the fuzzer (called from fuzz_c_abi.cpp).
//
// fuzz_eval: the C ABI of eval.h: kldiv_llama_row_size and kldiv_llama_quantize_row on any input;
// kldiv_eval_create with any n_vocab and options (any int as the
// divergence, NULL), then a short program of kldiv_eval_add (any source, dtype, rows, cols, stride, NULL
// pointers, logits mixing NaN, +-inf and ordinary values or raw half bits, llama.cpp rows with any header,
// tokens NULL, in range or not), kldiv_eval_merge (other n_vocab or options, with or without tokens,
// itself, NULL), kldiv_eval_finish (NULL) and kldiv_eval_destroy.  It asserts: the status is KLDIV_OK
// exactly when the call is valid by eval.h's rules (modelled here from the bits, independently of the
// library), a failed call sets a message and changes nothing (finish gives the same bits before and
// after), a valid add or merge counts its tokens; and the statistics of the same rows added in another
// order, split between accumulators, merged and run on another thread count have the same bits.
//
// fuzz_eval_files: the llama.cpp file and .npy readers (eval_files.hpp) on the input's bytes written to a
// file (raw, or a plausible header with its fields and size perturbed): each either opens or throws
// kldiv::invalid_argument whose message starts with the file's path, never crashes or reads past the
// file; what opens is read whole, checked against itself and fed to an accumulator.
#include <unistd.h>

#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "kldiv/eval.h"
#include "kldiv/eval_files.hpp"

namespace {

using fuzz::set_raw;
using fuzz::shape_valid;

constexpr std::int64_t kMaxVocab = std::int64_t(1) << 24;
constexpr std::size_t kMaxBytes = std::size_t(1) << 18;  // larger valid blocks get NULL data

std::int64_t llama_row_size(std::int64_t n_vocab) { return n_vocab >= 1 && n_vocab <= kMaxVocab ? 2 * ((n_vocab + 1) / 2) + 4 : -1; }

// An accumulator's options as the model sees them.
struct Model {
  std::int64_t n_vocab = 0;
  int divergence = 0;
  double beta = 0.5, temperature = 1;
  int has_tokens = -1;  // unknown until tokens are added
  std::int64_t tokens = 0;
};

bool options_valid(const kldiv_eval_options& o, int divergence) {
  return divergence >= 0 && divergence <= 2 && (divergence != 2 || (o.beta > 0 && o.beta < 1)) &&
         std::isfinite(o.temperature) && o.temperature > 0 && o.num_threads >= 0;
}

// Options: mostly valid (any divergence, beta and temperature), sometimes anything.
kldiv_eval_options consume_options(FuzzedDataProvider& in, int& divergence) {
  kldiv_eval_options o;
  kldiv_eval_options_init(&o);
  divergence = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 2);
  set_raw(o.divergence, divergence);
  o.beta = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? fuzz::consume_value(in) : in.ConsumeFloatingPointInRange<double>(0.01, 0.99);
  o.temperature = in.ConsumeBool() ? 1.0
                  : in.ConsumeIntegralInRange<int>(0, 7) == 0 ? fuzz::consume_value(in)
                                                               : in.ConsumeFloatingPointInRange<double>(0.2, 4);
  o.num_threads = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? -1 : in.ConsumeIntegralInRange<int>(0, 3);
  return o;
}

std::int64_t consume_vocab(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return in.ConsumeIntegralInRange<std::int64_t>(-2, 0);
    case 1: return kMaxVocab + in.ConsumeIntegralInRange<std::int64_t>(0, 1);
    case 2: return std::numeric_limits<std::int64_t>::max();
    case 3: return in.ConsumeIntegralInRange<std::int64_t>(1, 2000);
    default: return in.ConsumeIntegralInRange<std::int64_t>(1, 70);
  }
}

// Whether a stored logit is one that makes its row bad (NaN or +inf), or -inf, from its bits.
struct Logit {
  bool bad, minus_inf;
};
Logit classify(int dtype, const unsigned char* p) {
  if (dtype == KLDIV_DTYPE_F32 || dtype == KLDIV_DTYPE_F64) {
    double v;
    if (dtype == KLDIV_DTYPE_F32) {
      float f;
      std::memcpy(&f, p, 4);
      v = f;
    } else {
      std::memcpy(&v, p, 8);
    }
    return {std::isnan(v) || v == std::numeric_limits<double>::infinity(), v == -std::numeric_limits<double>::infinity()};
  }
  std::uint16_t h;
  std::memcpy(&h, p, 2);
  const std::uint16_t exponent = dtype == KLDIV_DTYPE_BF16 ? 0x7f80 : 0x7c00;  // all ones: inf or NaN
  const bool special = (h & exponent) == exponent;
  const bool minus_inf = h == (exponent | 0x8000);
  return {special && !minus_inf, minus_inf};
}

// One side of an add: its description, its buffer, and what the model expects of it.
struct Side {
  kldiv_eval_rows r{};
  std::vector<unsigned char> bytes;  // exactly the span the rows use (AddressSanitizer sees past it)
  int source = 0, dtype = 0;
  bool valid = false;                // every rule of eval.h for one side
  std::vector<bool> bad_row;         // logits rows the library must reject
};

void fill_logits(FuzzedDataProvider& in, Side& s, std::int64_t rows, std::int64_t cols, std::int64_t stride) {
  const std::size_t es = fuzz::element_size(s.dtype);
  for (std::int64_t i = 0; i < rows; ++i) {
    // Mostly clean rows (ordinary logits, a few masked), some dirty ones, some raw bits.
    const int mode = in.ConsumeIntegralInRange<int>(0, 9);
    for (std::int64_t j = 0; j < cols; ++j) {
      unsigned char* p = &s.bytes[static_cast<std::size_t>(i * stride + j) * es];
      double v = mode == 9 ? fuzz::consume_value(in) : in.ConsumeFloatingPointInRange<double>(-20, 20);
      if (mode == 8 && in.ConsumeIntegralInRange<int>(0, 3) == 0) v = -std::numeric_limits<double>::infinity();
      if (s.dtype == KLDIV_DTYPE_F64) {
        std::memcpy(p, &v, 8);
      } else if (s.dtype == KLDIV_DTYPE_F32) {
        const float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
      } else {
        std::uint16_t h = in.ConsumeIntegral<std::uint16_t>();
        if (mode != 7) h = s.dtype == KLDIV_DTYPE_BF16 ? kldiv::to_bf16(static_cast<float>(v)).bits : kldiv::to_f16(static_cast<float>(v)).bits;
        std::memcpy(p, &h, 2);
      }
    }
  }
  s.bad_row.assign(static_cast<std::size_t>(rows), false);
  for (std::int64_t i = 0; i < rows; ++i) {
    bool bad = false, all_minus_inf = true;
    for (std::int64_t j = 0; j < cols; ++j) {
      const Logit l = classify(s.dtype, &s.bytes[static_cast<std::size_t>(i * stride + j) * es]);
      bad = bad || l.bad;
      all_minus_inf = all_minus_inf && l.minus_inf;
    }
    s.bad_row[static_cast<std::size_t>(i)] = bad || all_minus_inf;
  }
}

// Returns whether every header is valid.
bool fill_llama(FuzzedDataProvider& in, Side& s, std::int64_t rows, std::int64_t width, std::int64_t stride) {
  bool ok = true;
  for (std::int64_t i = 0; i < rows; ++i) {
    unsigned char* row = &s.bytes[static_cast<std::size_t>(i * stride) * 2];
    for (std::int64_t j = 4; j < width; ++j) {
      const std::uint16_t c = in.ConsumeIntegral<std::uint16_t>();
      std::memcpy(row + 2 * j, &c, 2);
    }
    float scale = 16.0f / 65535, min = -in.ConsumeFloatingPointInRange<float>(0, 30);
    switch (in.ConsumeIntegralInRange<int>(0, 15)) {
      case 0: scale = static_cast<float>(fuzz::consume_value(in)); break;
      case 1: scale = 0; break;
      case 2: min = static_cast<float>(fuzz::consume_value(in)); break;
      case 3: scale = -scale; break;
      case 4: scale = in.ConsumeFloatingPointInRange<float>(0, 1); break;
      default: break;
    }
    std::memcpy(row, &scale, 4);
    std::memcpy(row + 4, &min, 4);
    ok = ok && std::isfinite(scale) && scale >= 0 && std::isfinite(min);
  }
  return ok;
}

// A side for n_vocab: mostly valid, or anything when `wild`; F64 logits with f64, else no F64 unless wild.
void consume_side(FuzzedDataProvider& in, std::int64_t n_vocab, std::int64_t rows, bool wild, bool f64, Side& s) {
  s.source = wild && in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegral<int>() : in.ConsumeIntegralInRange<int>(0, 1);
  s.dtype = wild && in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegralInRange<int>(-2, 9)
                                                               : in.ConsumeIntegralInRange<int>(0, 3);
  if (!wild && s.dtype == KLDIV_DTYPE_F64) s.dtype = KLDIV_DTYPE_F32;
  if (f64) s.source = KLDIV_EVAL_LOGITS, s.dtype = KLDIV_DTYPE_F64;
  std::int64_t cols = n_vocab;
  if (wild && in.ConsumeIntegralInRange<int>(0, 15) == 0) cols += in.ConsumeIntegralInRange<std::int64_t>(-1, 1);
  const bool llama = s.source == KLDIV_EVAL_LLAMA;
  const std::int64_t width = llama ? llama_row_size(cols) : cols;
  std::int64_t stride = width + in.ConsumeIntegralInRange<std::int64_t>(0, 3);
  if (wild) switch (in.ConsumeIntegralInRange<int>(0, 15)) {
      case 0: stride = width - 1; break;
      case 1: stride = std::int64_t(1) << in.ConsumeIntegralInRange<int>(40, 62); break;
      case 2: stride = std::numeric_limits<std::int64_t>::max(); break;
      case 3: rows = -1; break;
      case 4: rows = std::int64_t(1) << in.ConsumeIntegralInRange<int>(30, 62); break;
      default: break;
    }
  s.r.rows = {nullptr, KLDIV_DTYPE_F32, rows, cols, stride};
  set_raw(s.r.source, s.source);
  set_raw(s.r.rows.dtype, s.dtype);
  const bool source_ok = s.source == KLDIV_EVAL_LOGITS || s.source == KLDIV_EVAL_LLAMA;
  const bool dtype_ok = llama || (s.dtype >= 0 && s.dtype <= 3);
  const std::size_t es = llama ? 2 : dtype_ok ? fuzz::element_size(s.dtype) : 1;
  std::size_t span = 0;
  const bool layout = source_ok && dtype_ok && cols == n_vocab && shape_valid(rows, width, stride, es, span);
  bool data_ok = rows == 0;
  if (layout && rows > 0 && span * es <= kMaxBytes && in.ConsumeIntegralInRange<int>(0, 15) != 0) {
    s.bytes.resize(span * es);
    data_ok = llama ? fill_llama(in, s, rows, width, stride) : (fill_logits(in, s, rows, cols, stride), true);
    s.r.rows.data = s.bytes.data();
  } else if (!layout && in.ConsumeBool()) {
    s.bytes.resize(1);  // a pointer the library must not read through: its layout is rejected first
    s.r.rows.data = s.bytes.data();
  }
  s.valid = layout && data_ok;
}

bool is_f64(const Side& s) { return s.source == KLDIV_EVAL_LOGITS && s.dtype == KLDIV_DTYPE_F64; }

// Every field's bits (not the padding's).
bool same_bits(const kldiv_eval_result& a, const kldiv_eval_result& b) {
  const std::size_t first = offsetof(kldiv_eval_result, divergence);
  return a.tokens == b.tokens && a.has_tokens == b.has_tokens &&
         std::memcmp(reinterpret_cast<const char*>(&a) + first, reinterpret_cast<const char*>(&b) + first, sizeof a - first) == 0;
}

kldiv_eval_result finish(const kldiv_eval* e) {
  kldiv_eval_result r;
  EXPECT(kldiv_eval_finish(e, &r) == KLDIV_OK);
  return r;
}

// A block to add: both sides and the tokens, and whether the model accepts it for m.
struct Block {
  Side base, cand;
  std::vector<std::int64_t> tokens;
  bool null_tokens = false;
  std::int64_t rows = 0;
};

void consume_block(FuzzedDataProvider& in, std::int64_t n_vocab, bool wild, Block& b) {
  b.rows = in.ConsumeIntegralInRange<std::int64_t>(0, 6);
  const bool f64 = in.ConsumeIntegralInRange<int>(0, 7) == 0;  // a pair of F64 logits
  consume_side(in, n_vocab, b.rows, wild, f64, b.base);
  std::int64_t cand_rows = b.rows;
  if (wild && in.ConsumeIntegralInRange<int>(0, 15) == 0) cand_rows = in.ConsumeIntegralInRange<std::int64_t>(0, 6);
  consume_side(in, n_vocab, cand_rows, wild, f64 && !(wild && in.ConsumeBool()), b.cand);
  b.null_tokens = in.ConsumeIntegralInRange<int>(0, 3) == 0;
  b.tokens.resize(static_cast<std::size_t>(std::max<std::int64_t>(b.rows, 1)));
  for (auto& t : b.tokens) {
    t = in.ConsumeIntegralInRange<std::int64_t>(0, std::max<std::int64_t>(n_vocab - 1, 0));
    if (wild && in.ConsumeIntegralInRange<int>(0, 31) == 0) t = in.ConsumeBool() ? n_vocab : -1;
  }
}

// Whether m accepts b, by eval.h's rules.
bool accepts(const Model& m, const Block& b) {
  if (!b.base.valid || !b.cand.valid || is_f64(b.base) != is_f64(b.cand)) return false;
  if (b.base.r.rows.rows != b.cand.r.rows.rows) return false;
  const std::int64_t n = b.base.r.rows.rows;
  if (n == 0) return true;
  const int with = !b.null_tokens;
  if (m.has_tokens >= 0 && m.has_tokens != with) return false;
  for (std::int64_t i = 0; i < n; ++i) {
    if (with && (b.tokens[i] < 0 || b.tokens[i] >= m.n_vocab)) return false;
    for (const Side* s : {&b.base, &b.cand})
      if (s->source == KLDIV_EVAL_LOGITS && s->bad_row[static_cast<std::size_t>(i)]) return false;
  }
  return true;
}

kldiv_status add(kldiv_eval* e, const Block& b, bool null_base = false) {
  return kldiv_eval_add(e, null_base ? nullptr : &b.base.r, &b.cand.r, b.null_tokens ? nullptr : b.tokens.data());
}

// One add against the model, checked.
void checked_add(FuzzedDataProvider& in, kldiv_eval* e, Model& m) {
  Block b;
  consume_block(in, m.n_vocab, in.ConsumeBool(), b);
  const bool null_base = in.ConsumeIntegralInRange<int>(0, 31) == 0, null_eval = in.ConsumeIntegralInRange<int>(0, 31) == 0;
  const bool valid = !null_base && !null_eval && accepts(m, b);
  const kldiv_eval_result before = finish(e);
  const kldiv_status s = add(null_eval ? nullptr : e, b, null_base);
  if (!valid) {
    EXPECT(s != KLDIV_OK);
    EXPECT(std::strlen(kldiv_last_error()) > 0);
    EXPECT(same_bits(before, finish(e)));
    return;
  }
  EXPECT(s == KLDIV_OK);
  if (b.rows > 0) {
    m.tokens += b.rows;
    m.has_tokens = !b.null_tokens;
  }
  EXPECT(finish(e).tokens == m.tokens);
}

// A merge from another accumulator (other options or n_vocab at times, with a block of its own).
void checked_merge(FuzzedDataProvider& in, kldiv_eval* e, Model& m, const kldiv_eval_options& options) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) {  // itself, or NULL
    const bool self = in.ConsumeBool();
    const kldiv_eval_result before = finish(e);
    const kldiv_status s = kldiv_eval_merge(e, self ? e : nullptr);
    EXPECT((s == KLDIV_OK) == self);
    if (self) m.tokens *= 2;
    else EXPECT(same_bits(before, finish(e)));
    EXPECT(finish(e).tokens == m.tokens);
    return;
  }
  Model o = m;
  kldiv_eval_options oo = options;
  if (in.ConsumeIntegralInRange<int>(0, 3) == 0) oo = consume_options(in, o.divergence);
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) o.n_vocab = in.ConsumeIntegralInRange<std::int64_t>(1, 70);
  o.beta = oo.beta;
  o.temperature = oo.temperature;
  o.has_tokens = -1;
  o.tokens = 0;
  kldiv_eval* other = nullptr;
  if (!options_valid(oo, o.divergence) || kldiv_eval_create(o.n_vocab, &oo, &other) != KLDIV_OK) return;
  Block b;
  consume_block(in, o.n_vocab, false, b);
  if (accepts(o, b) && add(other, b) == KLDIV_OK && b.rows > 0) o.tokens = b.rows, o.has_tokens = !b.null_tokens;
  const bool valid = o.n_vocab == m.n_vocab && o.divergence == m.divergence && o.temperature == m.temperature &&
                     (m.divergence != 2 || o.beta == m.beta) &&
                     (o.has_tokens < 0 || m.has_tokens < 0 || o.has_tokens == m.has_tokens);
  const kldiv_eval_result before = finish(e);
  const kldiv_status s = kldiv_eval_merge(e, other);
  EXPECT((s == KLDIV_OK) == valid);
  if (valid) {
    m.tokens += o.tokens;
    if (m.has_tokens < 0) m.has_tokens = o.has_tokens;
  } else {
    EXPECT(same_bits(before, finish(e)));
  }
  EXPECT(finish(e).tokens == m.tokens);
  kldiv_eval_destroy(other);
}

// Two valid blocks A and B: A then B on one thread count, against B, then A in another accumulator merged
// in, on another: the same bits.
void checked_order(FuzzedDataProvider& in) {
  int divergence;
  kldiv_eval_options o = consume_options(in, divergence);
  if (!options_valid(o, divergence)) return;
  Model m;
  m.n_vocab = in.ConsumeIntegralInRange<std::int64_t>(1, 70);
  Block a, b;
  consume_block(in, m.n_vocab, false, a);
  consume_block(in, m.n_vocab, false, b);
  b.null_tokens = a.null_tokens;
  if (!accepts(m, a) || !accepts(m, b)) return;
  kldiv_eval *x = nullptr, *y = nullptr, *z = nullptr;
  o.num_threads = 1;
  EXPECT(kldiv_eval_create(m.n_vocab, &o, &x) == KLDIV_OK);
  o.num_threads = 3;
  EXPECT(kldiv_eval_create(m.n_vocab, &o, &y) == KLDIV_OK);
  EXPECT(kldiv_eval_create(m.n_vocab, &o, &z) == KLDIV_OK);
  EXPECT(add(x, a) == KLDIV_OK && add(x, b) == KLDIV_OK);
  EXPECT(add(y, b) == KLDIV_OK && add(z, a) == KLDIV_OK);
  EXPECT(kldiv_eval_merge(y, z) == KLDIV_OK);
  EXPECT(same_bits(finish(x), finish(y)));
  kldiv_eval_destroy(x);
  kldiv_eval_destroy(y);
  kldiv_eval_destroy(z);
}

// kldiv_llama_row_size for any n_vocab; kldiv_llama_quantize_row on logits of every kind: OK exactly when
// the row is valid (no NaN or +inf, not all -inf), the output untouched otherwise, and a quantized row
// one that the accumulator takes (its identical copy giving exactly 0).
void checked_quantize(FuzzedDataProvider& in) {
  const std::int64_t any = in.ConsumeIntegral<std::int64_t>();
  EXPECT(kldiv_llama_row_size(any) == llama_row_size(any));
  const std::int64_t n = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? consume_vocab(in) : in.ConsumeIntegralInRange<std::int64_t>(1, 70);
  const bool n_ok = n >= 1 && n <= kMaxVocab, small = n_ok && n <= 2000;
  std::vector<float> logits(small ? static_cast<std::size_t>(n) : 1);
  bool finite = false, bad = false;
  for (float& v : logits) {
    v = static_cast<float>(in.ConsumeIntegralInRange<int>(0, 7) == 0 ? fuzz::consume_value(in) : in.ConsumeFloatingPointInRange<double>(-40, 40));
    bad = bad || std::isnan(v) || v == std::numeric_limits<float>::infinity();
    finite = finite || std::isfinite(v);
  }
  std::vector<std::uint16_t> row(small ? static_cast<std::size_t>(llama_row_size(n)) : 1, 0xA5A5);
  const bool null_logits = in.ConsumeIntegralInRange<int>(0, 15) == 0, null_row = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  if (n_ok && !small) return;  // no buffer that large
  const kldiv_status s = kldiv_llama_quantize_row(null_logits ? nullptr : logits.data(), n, null_row ? nullptr : row.data());
  if (null_logits || null_row || !n_ok || bad || !finite) {
    EXPECT(s != KLDIV_OK);
    for (const std::uint16_t v : row) EXPECT(v == 0xA5A5);
    return;
  }
  EXPECT(s == KLDIV_OK);
  kldiv_eval* e = nullptr;
  EXPECT(kldiv_eval_create(n, nullptr, &e) == KLDIV_OK);
  const kldiv_eval_rows r{KLDIV_EVAL_LLAMA, {row.data(), KLDIV_DTYPE_F32, 1, n, llama_row_size(n)}};
  const std::int64_t token = in.ConsumeIntegralInRange<std::int64_t>(0, n - 1);
  EXPECT(kldiv_eval_add(e, &r, &r, &token) == KLDIV_OK);
  EXPECT(finish(e).divergence.mean == 0);
  kldiv_eval_destroy(e);
}

}  // namespace

void fuzz_eval(FuzzedDataProvider& in) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return checked_quantize(in);
  if (in.ConsumeIntegralInRange<int>(0, 3) == 0) return checked_order(in);
  int divergence;
  const kldiv_eval_options o = consume_options(in, divergence);
  const bool null_options = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  Model m;
  m.n_vocab = consume_vocab(in);
  if (!null_options) m.divergence = divergence, m.beta = o.beta, m.temperature = o.temperature;
  const bool valid = m.n_vocab >= 1 && m.n_vocab <= kMaxVocab && (null_options || options_valid(o, divergence));
  kldiv_eval* e = reinterpret_cast<kldiv_eval*>(&m);  // a sentinel a failed create must leave
  const kldiv_status s = kldiv_eval_create(m.n_vocab, null_options ? nullptr : &o, &e);
  EXPECT((s == KLDIV_OK) == valid);
  if (!valid) {
    EXPECT(e == reinterpret_cast<kldiv_eval*>(&m));
    EXPECT(std::strlen(kldiv_last_error()) > 0);
    return;
  }
  kldiv_eval_options used = o;  // what the accumulator holds
  if (null_options) kldiv_eval_options_init(&used);
  for (int ops = 0; ops < 6 && in.remaining_bytes() > 0; ++ops) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: checked_merge(in, e, m, used); break;
      case 1: EXPECT(kldiv_eval_finish(e, nullptr) == KLDIV_ERROR_NULL_POINTER); break;
      default: checked_add(in, e, m); break;
    }
  }
  const kldiv_eval_result r = finish(e);
  EXPECT(r.tokens == m.tokens && r.has_tokens == (m.has_tokens == 1));
  kldiv_eval_destroy(e);
  kldiv_eval_destroy(nullptr);
}

namespace {

// The bytes of a llama.cpp file: raw, or its header from fields (perturbed at times), tokens and rows.
std::string llama_bytes(FuzzedDataProvider& in) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeRandomLengthString(4096);
  const auto dim = [&](int lo, int hi) {
    switch (in.ConsumeIntegralInRange<int>(0, 15)) {
      case 0: return in.ConsumeIntegral<std::int32_t>();
      case 1: return in.ConsumeIntegralInRange<std::int32_t>(-2, 2);
      default: return in.ConsumeIntegralInRange<std::int32_t>(lo, hi);
    }
  };
  const std::int32_t dims[3] = {dim(3, 24), dim(1, 40), dim(1, 3)};
  std::string b = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeBytesAsString(8) : std::string("_logits_");
  b.append(reinterpret_cast<const char*>(dims), sizeof dims);
  const std::int64_t n_ctx = dims[0], n_vocab = dims[1], n_chunk = dims[2];
  if (n_ctx >= 3 && n_ctx <= 64 && n_vocab >= 1 && n_vocab <= 64 && n_chunk >= 1 && n_chunk <= 4) {
    for (std::int64_t i = 0; i < n_ctx * n_chunk; ++i) {
      std::int32_t t = in.ConsumeIntegralInRange<std::int32_t>(0, static_cast<std::int32_t>(n_vocab - 1));
      if (in.ConsumeIntegralInRange<int>(0, 255) == 0) t = in.ConsumeBool() ? static_cast<std::int32_t>(n_vocab) : -1;
      b.append(reinterpret_cast<const char*>(&t), 4);
    }
    const std::int64_t rows = (n_ctx - 1 - n_ctx / 2) * n_chunk, row = llama_row_size(n_vocab);
    for (std::int64_t r = 0; r < rows; ++r) {
      float header[2] = {16.0f / 65535, -in.ConsumeFloatingPointInRange<float>(0, 30)};
      if (in.ConsumeIntegralInRange<int>(0, 15) == 0) header[in.ConsumeBool()] = static_cast<float>(fuzz::consume_value(in));
      b.append(reinterpret_cast<const char*>(header), sizeof header);
      for (std::int64_t j = 4; j < row; ++j) {
        const std::uint16_t c = in.ConsumeIntegral<std::uint16_t>();
        b.append(reinterpret_cast<const char*>(&c), 2);
      }
    }
  }
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {  // a size that disagrees
    case 0: b.resize(b.size() - std::min<std::size_t>(b.size(), in.ConsumeIntegralInRange<std::size_t>(1, 8))); break;
    case 1: b += in.ConsumeBytesAsString(in.ConsumeIntegralInRange<std::size_t>(1, 8)); break;
    default: break;
  }
  return b;
}

// The bytes of a .npy file: raw, or a header dict from (perturbed) fields and data of about its size.
std::string npy_bytes(FuzzedDataProvider& in) {
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return in.ConsumeRandomLengthString(4096);
  static const char* const descrs[] = {"'<f4'", "'<f2'", "'<i4'", "'<i8'", "'<f8'", "'>f4'", "'|u1'", "<f4", "'<f4"};
  static const char* const orders[] = {"False", "True", "false", "0", ""};
  const int d = in.ConsumeIntegralInRange<int>(0, 15);
  const char* descr = descrs[d < 12 ? d % 4 : in.ConsumeIntegralInRange<int>(0, 8)];  // mostly the four accepted
  const char* order = orders[in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegralInRange<int>(1, 4) : 0];
  const int ndim = in.ConsumeIntegralInRange<int>(0, 3);
  std::string shape = "(";
  std::uint64_t count = 1;
  for (int k = 0; k < ndim; ++k) {
    std::uint64_t v = in.ConsumeIntegralInRange<std::uint64_t>(0, 12);
    if (in.ConsumeIntegralInRange<int>(0, 15) == 0) v = in.ConsumeIntegral<std::uint64_t>();
    count = v != 0 && count > (std::uint64_t(1) << 40) / v ? std::uint64_t(1) << 40 : count * v;
    shape += std::to_string(v) + (ndim == 1 || k + 1 < ndim ? "," : "");
    if (k + 1 < ndim) shape += " ";
  }
  shape += ")";
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) shape = in.ConsumeRandomLengthString(16);
  std::string dict = "{'descr': " + std::string(descr) + ", 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) dict = in.ConsumeRandomLengthString(64);
  const int major = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? in.ConsumeIntegralInRange<int>(0, 4) : 1;
  const std::size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string b = "\x93NUMPY";
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) b[1] = 'X';
  b += static_cast<char>(major);
  b += '\0';
  std::uint32_t length = static_cast<std::uint32_t>(dict.size());
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) length = in.ConsumeIntegral<std::uint32_t>();
  b.append(reinterpret_cast<const char*>(&length), major == 1 ? 2 : 4);
  b += dict;
  const std::size_t item = descr[2] == '8' ? 8 : descr[2] == '2' ? 2 : 4;
  std::size_t bytes = count <= 4096 ? static_cast<std::size_t>(count) * item : 0;
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) bytes += in.ConsumeIntegralInRange<std::size_t>(0, 8), bytes -= std::min<std::size_t>(bytes, in.ConsumeIntegralInRange<std::size_t>(0, 8));
  const std::string data = in.ConsumeBytesAsString(bytes);
  b += data;
  b.append(bytes - data.size(), '\0');
  return b;
}

// A path of this process's own, removed after each input.
const std::string& scratch_path() {
  static const std::string path = "kldiv_fuzz_file_" + std::to_string(::getpid()) + ".bin";
  return path;
}

void write_file(const std::string& bytes) {
  std::FILE* f = std::fopen(scratch_path().c_str(), "wb");
  EXPECT(f != nullptr);
  EXPECT(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  EXPECT(std::fclose(f) == 0);
}

// What opens is read whole: every token and row through the accumulator (whose own errors are fine).
void read_llama(const kldiv::eval::LlamaFile& f) {
  kldiv::eval::check_same_text(f, f);
  std::int64_t sum = 0;
  for (std::int64_t r = 0; r < f.rows(); ++r) sum += f.target(r);
  EXPECT(sum >= 0);
  kldiv::eval::Accumulator acc(f.n_vocab());
  const auto rows = kldiv::eval::Rows::llama(f.chunk(0), f.rows(), f.n_vocab(), f.row_size());
  std::vector<std::int64_t> tokens(static_cast<std::size_t>(f.rows()));
  for (std::int64_t r = 0; r < f.rows(); ++r) tokens[static_cast<std::size_t>(r)] = f.target(r);
  try {
    acc.add(rows, rows, tokens.data());
    EXPECT(acc.finish().divergence.pct.max == 0);  // identical rows
  } catch (const kldiv::invalid_argument&) {        // a bad row header
  }
  f.done_with_rows(0, f.rows());
}

void read_npy(const kldiv::eval::NpyFile& f) {
  using D = kldiv::eval::NpyFile::Dtype;
  std::uint64_t count = 1;
  for (const std::int64_t s : f.shape()) count *= static_cast<std::uint64_t>(s);
  const auto* bytes = static_cast<const unsigned char*>(f.data());
  volatile unsigned sink = 0;
  for (std::uint64_t i = 0; i < count * f.item_size(); ++i) sink = sink + bytes[i];  // every byte is in the map
  if (f.shape().size() != 2 || f.shape()[1] < 1 || f.shape()[1] > kMaxVocab || (f.dtype() != D::f32 && f.dtype() != D::f16)) return;
  const std::int64_t rows = f.shape()[0], v = f.shape()[1];
  kldiv::eval::Accumulator a(v);
  const auto r = kldiv::eval::Rows::logits(kldiv::Rows(f.data(), f.dtype() == D::f16 ? kldiv::Dtype::f16 : kldiv::Dtype::f32, rows, v, v));
  try {
    a.add(r, r);
    EXPECT(rows == 0 || a.finish().divergence.pct.max == 0);
  } catch (const kldiv::invalid_argument&) {  // a NaN row
  }
  f.done_with_rows(0, rows);
}

}  // namespace

void fuzz_eval_files(FuzzedDataProvider& in) {
  const bool llama = in.ConsumeBool();
  write_file(llama ? llama_bytes(in) : npy_bytes(in));
  const std::string& path = scratch_path();
  try {
    if (llama)
      read_llama(kldiv::eval::LlamaFile(path));
    else
      read_npy(kldiv::eval::NpyFile(path));
  } catch (const kldiv::invalid_argument& e) {
    // A file's error names it; an accumulator's (bad rows) does not come here: read_* catch those.
    EXPECT(std::string(e.what()).rfind(path + ": ", 0) == 0);
  }
  ::unlink(path.c_str());
}
