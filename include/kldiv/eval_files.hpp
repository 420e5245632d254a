// kldiv-eval's inputs: llama.cpp's `llama-perplexity --kl-divergence-base` file (read and written) and
// NumPy .npy arrays.  Files are memory-mapped, never loaded whole; every bad file throws
// kldiv::invalid_argument with a message that starts with the file's path and says what is wrong.
//
// llama.cpp's file: the magic "_logits_"; int32 n_ctx, n_vocab, n_chunk; n_chunk*n_ctx int32 tokens;
// then per chunk its n_ctx - 1 - n_ctx/2 scored rows, each llama_row_size(n_vocab) uint16: the
// floats scale and min_log_prob, then n_vocab codes (padded to an even count), log p_i = scale*code_i +
// min_log_prob.  Row i of chunk c predicts the token at position n_ctx/2 + i + 1 of the chunk.
#ifndef KLDIV_EVAL_FILES_HPP
#define KLDIV_EVAL_FILES_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "eval.hpp"

namespace kldiv::eval {

// kldiv_llama_row_size and kldiv_llama_quantize_row (eval.h); the latter throws on NaN or +inf logits, or
// when every logit is -inf.
std::int64_t llama_row_size(std::int64_t n_vocab) noexcept;
void quantize_llama_row(const float* logits, std::int64_t n_vocab, std::uint16_t* row);

// A read-only memory map of a whole file.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const unsigned char* data() const noexcept { return data_; }
  std::uint64_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }
  // Tells the kernel that [offset, offset + length) has been read and may be dropped from memory.
  void done_with(std::uint64_t offset, std::uint64_t length) const noexcept;

 private:
  std::string path_;
  const unsigned char* data_ = nullptr;
  std::uint64_t size_ = 0;
};

class LlamaFile {
 public:
  // Checks the header, the size and the tokens (each in [0, n_vocab)).
  explicit LlamaFile(const std::string& path);

  const std::string& path() const noexcept { return file_.path(); }
  int n_ctx() const noexcept { return n_ctx_; }
  int n_vocab() const noexcept { return n_vocab_; }
  int n_chunk() const noexcept { return n_chunk_; }
  const std::int32_t* tokens() const noexcept;          // n_chunk * n_ctx
  std::int64_t rows_per_chunk() const noexcept { return n_ctx_ - 1 - n_ctx_ / 2; }
  std::int64_t rows() const noexcept { return rows_per_chunk() * n_chunk_; }
  std::int64_t row_size() const noexcept;               // uint16 per row
  const std::uint16_t* chunk(int c) const noexcept;     // its rows_per_chunk() rows; chunks follow each other
  std::int32_t target(std::int64_t row) const noexcept;  // the correct next token of scored row `row`
  void done_with_rows(std::int64_t first, std::int64_t count) const noexcept;  // scored rows

 private:
  MappedFile file_;
  int n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
};

// Throws, naming both files, unless a and b have the same n_ctx, n_vocab, n_chunk and tokens.
void check_same_text(const LlamaFile& a, const LlamaFile& b);

// Writes llama.cpp's file from logits, chunk by chunk, as llama-perplexity --kl-divergence-base does.
class LlamaWriter {
 public:
  // tokens: n_chunk * n_ctx, each in [0, n_vocab).  Throws on bad sizes or if the file cannot be created.
  LlamaWriter(const std::string& path, int n_ctx, int n_vocab, int n_chunk, const std::int32_t* tokens);
  ~LlamaWriter();
  LlamaWriter(const LlamaWriter&) = delete;
  LlamaWriter& operator=(const LlamaWriter&) = delete;
  // The scored rows of the next chunk: rows_per_chunk rows of n_vocab logits, row r at logits + r*stride.
  void add_chunk(const float* logits, std::int64_t stride);
  // Throws unless every chunk was added and the file was written completely.
  void close();

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  int n_ctx_, n_vocab_, n_chunk_, written_ = 0;
  std::vector<std::uint16_t> row_;
};

// A .npy file: little-endian float32, float16, int32 or int64, C order, 1-D or 2-D.
class NpyFile {
 public:
  enum class Dtype { f32, f16, i32, i64 };
  explicit NpyFile(const std::string& path);

  const std::string& path() const noexcept { return file_.path(); }
  Dtype dtype() const noexcept { return dtype_; }
  const std::vector<std::int64_t>& shape() const noexcept { return shape_; }
  const void* data() const noexcept { return file_.data() + offset_; }
  std::size_t item_size() const noexcept;
  void done_with_rows(std::int64_t first, std::int64_t count) const noexcept;  // 2-D only

 private:
  MappedFile file_;
  Dtype dtype_ = Dtype::f32;
  std::vector<std::int64_t> shape_;
  std::uint64_t offset_ = 0;
};

}  // namespace kldiv::eval

#endif  // KLDIV_EVAL_FILES_HPP
