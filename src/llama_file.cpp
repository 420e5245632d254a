// llama.cpp's --kl-divergence-base file: the reader (over a memory map) and the writer.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "kldiv/eval_files.hpp"

namespace kldiv::eval {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr std::uint64_t kHeader = 20;
constexpr int kMaxSize = 1 << 24;  // n_ctx and n_vocab above this are not a real model's

std::int32_t read_i32(const unsigned char* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void check_dimension(const std::string& path, const char* name, std::int64_t v, std::int64_t lo, std::int64_t hi) {
  if (v < lo || v > hi)
    throw invalid_argument(path + ": " + name + " " + std::to_string(v) + " is not in [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
}

// a * b and a + b, saturating at 2^64 - 1, which no file reaches.
std::uint64_t mul(std::uint64_t a, std::uint64_t b) {
  return b != 0 && a > std::numeric_limits<std::uint64_t>::max() / b ? std::numeric_limits<std::uint64_t>::max() : a * b;
}
std::uint64_t add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

// The file's size for these dimensions, saturated: dimensions that pass check_dimension can describe up
// to about 2^79 bytes, and a size that wrapped around could match a small file.
std::uint64_t file_size(std::int64_t n_ctx, std::int64_t n_vocab, std::int64_t n_chunk) {
  const std::uint64_t chunks = static_cast<std::uint64_t>(n_chunk);
  const std::uint64_t rows = mul(static_cast<std::uint64_t>(n_ctx - 1 - n_ctx / 2), chunks);
  return add(add(kHeader, mul(4 * static_cast<std::uint64_t>(n_ctx), chunks)),
             mul(2 * rows, static_cast<std::uint64_t>(llama_row_size(n_vocab))));
}

}  // namespace

LlamaFile::LlamaFile(const std::string& path) : file_(path) {
  const unsigned char* d = file_.data();
  if (file_.size() < kHeader)
    throw invalid_argument(path + ": " + std::to_string(file_.size()) + " bytes, too short for llama.cpp's header");
  if (std::memcmp(d, kMagic, sizeof kMagic) != 0)
    throw invalid_argument(path + ": not a llama.cpp logits file (the magic \"_logits_\" is missing)");
  const std::int64_t n_ctx = read_i32(d + 8), n_vocab = read_i32(d + 12), n_chunk = read_i32(d + 16);
  check_dimension(path, "n_ctx", n_ctx, 3, kMaxSize);
  check_dimension(path, "n_vocab", n_vocab, 1, kMaxSize);
  check_dimension(path, "n_chunk", n_chunk, 1, std::numeric_limits<std::int32_t>::max());
  const std::uint64_t expected = file_size(n_ctx, n_vocab, n_chunk);
  if (file_.size() < expected)
    throw invalid_argument(path + ": truncated: " + std::to_string(file_.size()) + " bytes, but n_ctx " +
                           std::to_string(n_ctx) + ", n_vocab " + std::to_string(n_vocab) + " and n_chunk " +
                           std::to_string(n_chunk) + " need " +
                           (expected == std::numeric_limits<std::uint64_t>::max() ? std::string("2^64 or more")
                                                                                    : std::to_string(expected)));
  if (file_.size() > expected)
    throw invalid_argument(path + ": " + std::to_string(file_.size() - expected) + " trailing bytes after the " +
                           std::to_string(expected) + " that n_ctx, n_vocab and n_chunk describe");
  n_ctx_ = static_cast<int>(n_ctx);
  n_vocab_ = static_cast<int>(n_vocab);
  n_chunk_ = static_cast<int>(n_chunk);
  const std::int64_t count = n_ctx * n_chunk;
  for (std::int64_t i = 0; i < count; ++i) {
    const std::int32_t t = read_i32(d + kHeader + 4 * i);
    if (t < 0 || t >= n_vocab_)
      throw invalid_argument(path + ": token " + std::to_string(t) + " at position " + std::to_string(i) +
                             " is not in [0, " + std::to_string(n_vocab_) + ")");
  }
}

const std::int32_t* LlamaFile::tokens() const noexcept {
  return reinterpret_cast<const std::int32_t*>(file_.data() + kHeader);  // 4-aligned in a page-aligned map
}

std::int64_t LlamaFile::row_size() const noexcept { return llama_row_size(n_vocab_); }

const std::uint16_t* LlamaFile::chunk(int c) const noexcept {
  const std::uint64_t offset = kHeader + 4 * static_cast<std::uint64_t>(n_ctx_) * n_chunk_ +
                               2 * static_cast<std::uint64_t>(c) * rows_per_chunk() * row_size();
  return reinterpret_cast<const std::uint16_t*>(file_.data() + offset);
}

std::int32_t LlamaFile::target(std::int64_t row) const noexcept {
  const std::int64_t c = row / rows_per_chunk(), i = row % rows_per_chunk();
  return tokens()[c * n_ctx_ + n_ctx_ / 2 + i + 1];
}

void LlamaFile::done_with_rows(std::int64_t first, std::int64_t count) const noexcept {
  const auto* begin = reinterpret_cast<const unsigned char*>(chunk(0) + first * row_size());
  file_.done_with(static_cast<std::uint64_t>(begin - file_.data()), 2 * static_cast<std::uint64_t>(count * row_size()));
}

void check_same_text(const LlamaFile& a, const LlamaFile& b) {
  const auto differ = [&](const std::string& what) {
    throw invalid_argument(a.path() + " and " + b.path() + ": " + what);
  };
  if (a.n_vocab() != b.n_vocab()) differ("n_vocab " + std::to_string(a.n_vocab()) + " vs " + std::to_string(b.n_vocab()));
  if (a.n_ctx() != b.n_ctx()) differ("n_ctx " + std::to_string(a.n_ctx()) + " vs " + std::to_string(b.n_ctx()));
  if (a.n_chunk() != b.n_chunk()) differ("n_chunk " + std::to_string(a.n_chunk()) + " vs " + std::to_string(b.n_chunk()));
  const std::int64_t n = static_cast<std::int64_t>(a.n_ctx()) * a.n_chunk();
  const auto* ta = a.tokens();
  const auto* tb = b.tokens();
  const auto m = std::mismatch(ta, ta + n, tb);
  if (m.first != ta + n)
    differ("the tokens differ first at position " + std::to_string(m.first - ta) + " (" + std::to_string(*m.first) +
           " vs " + std::to_string(*m.second) + ")");
}

LlamaWriter::LlamaWriter(const std::string& path, int n_ctx, int n_vocab, int n_chunk, const std::int32_t* tokens)
    : path_(path), n_ctx_(n_ctx), n_vocab_(n_vocab), n_chunk_(n_chunk) {
  check_dimension(path, "n_ctx", n_ctx, 3, kMaxSize);
  check_dimension(path, "n_vocab", n_vocab, 1, kMaxSize);
  check_dimension(path, "n_chunk", n_chunk, 1, std::numeric_limits<std::int32_t>::max());
  const std::int64_t count = static_cast<std::int64_t>(n_ctx) * n_chunk;
  if (!tokens) throw null_pointer(path + ": tokens is null");
  for (std::int64_t i = 0; i < count; ++i)
    if (tokens[i] < 0 || tokens[i] >= n_vocab)
      throw invalid_argument(path + ": token " + std::to_string(tokens[i]) + " at position " + std::to_string(i) +
                             " is not in [0, " + std::to_string(n_vocab) + ")");
  file_ = std::fopen(path.c_str(), "wb");
  if (!file_) throw invalid_argument(path + ": cannot create: " + std::strerror(errno));
  const std::int32_t dims[3] = {n_ctx, n_vocab, n_chunk};
  std::fwrite(kMagic, 1, sizeof kMagic, file_);
  std::fwrite(dims, sizeof *dims, 3, file_);
  std::fwrite(tokens, sizeof *tokens, static_cast<std::size_t>(count), file_);
  row_.resize(static_cast<std::size_t>(llama_row_size(n_vocab)));
}

LlamaWriter::~LlamaWriter() {
  if (file_) std::fclose(file_);
}

void LlamaWriter::add_chunk(const float* logits, std::int64_t stride) {
  if (!file_) throw invalid_argument(path_ + ": already closed");
  if (written_ == n_chunk_) throw invalid_argument(path_ + ": all " + std::to_string(n_chunk_) + " chunks are written");
  if (!logits) throw null_pointer(path_ + ": logits is null");
  if (stride < n_vocab_) throw invalid_shape(path_ + ": stride " + std::to_string(stride) + " is below n_vocab");
  const std::int64_t rows = n_ctx_ - 1 - n_ctx_ / 2;
  for (std::int64_t r = 0; r < rows; ++r) {
    quantize_llama_row(logits + r * stride, n_vocab_, row_.data());
    std::fwrite(row_.data(), sizeof row_[0], row_.size(), file_);
  }
  ++written_;
}

void LlamaWriter::close() {
  if (!file_) throw invalid_argument(path_ + ": already closed");
  const bool complete = written_ == n_chunk_;
  const bool ok = !std::ferror(file_);
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!complete)
    throw invalid_argument(path_ + ": " + std::to_string(written_) + " of " + std::to_string(n_chunk_) + " chunks written");
  if (!ok || !closed) throw invalid_argument(path_ + ": write failed");
}

std::int64_t llama_row_size(std::int64_t n_vocab) noexcept {
  return n_vocab >= 1 && n_vocab <= kMaxSize ? 2 * ((n_vocab + 1) / 2) + 4 : -1;
}

// llama.cpp's quantization (facts from its tools/perplexity/perplexity.cpp): a window of 16 nats below
// the largest logit in 65535 steps, codes rounded to nearest (even); log p = scale*code + min_log_prob.
void quantize_llama_row(const float* logits, std::int64_t n_vocab, std::uint16_t* row) {
  if (!logits || !row) throw null_pointer("logits or row is null");
  if (n_vocab < 1 || n_vocab > kMaxSize)
    throw invalid_argument("n_vocab " + std::to_string(n_vocab) + " is not in [1, " + std::to_string(kMaxSize) + "]");
  float max = logits[0], min = logits[0];
  for (std::int64_t i = 0; i < n_vocab; ++i) {
    if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity())
      throw invalid_argument("logit " + std::to_string(i) + " is NaN or +inf");
    max = std::max(max, logits[i]);
    min = std::min(min, logits[i]);
  }
  if (!std::isfinite(max)) throw invalid_argument("every logit is -inf");
  const float min_logit = std::max(min, max - 16);
  double sum = 0;
  for (std::int64_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
  const float log_sum = static_cast<float>(std::log(sum));
  const float header[2] = {(max - min_logit) / 65535.0f, min_logit - max - log_sum};
  std::memcpy(row, header, sizeof header);
  std::uint16_t* codes = row + 4;
  const float inv = header[0] != 0 ? 1 / header[0] : 0;
  for (std::int64_t i = 0; i < n_vocab; ++i)
    codes[i] = logits[i] > min_logit
                   ? static_cast<std::uint16_t>(std::min(65535.0f, std::nearbyint(inv * (logits[i] - min_logit))))
                   : 0;
  if (n_vocab % 2) codes[n_vocab] = 0;
}

}  // namespace kldiv::eval
