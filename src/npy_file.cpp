// NumPy's .npy format (versions 1 to 3): a header dict, then the array's bytes.
#include <cstring>
#include <limits>

#include "kldiv/eval_files.hpp"

namespace kldiv::eval {
namespace {

// The value of 'key' in the header dict, up to its closing delimiter.
std::string field(const std::string& path, const std::string& header, const std::string& key) {
  const std::size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) throw invalid_argument(path + ": the .npy header has no '" + key + "'");
  std::size_t b = header.find(':', at);
  if (b == std::string::npos) throw invalid_argument(path + ": the .npy header is malformed");
  ++b;
  while (b < header.size() && header[b] == ' ') ++b;
  const char open = b < header.size() ? header[b] : '\0';
  const char close = open == '(' ? ')' : open == '\'' ? '\'' : ',';
  const std::size_t e = header.find(close, b + (open == '(' || open == '\'' ? 1 : 0));
  if (e == std::string::npos) throw invalid_argument(path + ": the .npy header is malformed");
  return header.substr(b, e - b + (close == ',' ? 0 : 1));
}

}  // namespace

NpyFile::NpyFile(const std::string& path) : file_(path) {
  const unsigned char* d = file_.data();
  static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (file_.size() < 10 || std::memcmp(d, magic, 6) != 0) throw invalid_argument(path + ": not a .npy file");
  const int major = d[6];
  std::uint64_t length, start;
  if (major == 1) {
    length = d[8] | (static_cast<std::uint64_t>(d[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (file_.size() < 12) throw invalid_argument(path + ": truncated .npy header");
    length = d[8] | (static_cast<std::uint64_t>(d[9]) << 8) | (static_cast<std::uint64_t>(d[10]) << 16) |
             (static_cast<std::uint64_t>(d[11]) << 24);
    start = 12;
  } else {
    throw invalid_argument(path + ": unknown .npy version " + std::to_string(major));
  }
  if (file_.size() < start + length) throw invalid_argument(path + ": truncated .npy header");
  const std::string header(reinterpret_cast<const char*>(d + start), length);
  offset_ = start + length;

  const std::string descr = field(path, header, "descr");
  if (descr == "'<f4'") dtype_ = Dtype::f32;
  else if (descr == "'<f2'") dtype_ = Dtype::f16;
  else if (descr == "'<i4'") dtype_ = Dtype::i32;
  else if (descr == "'<i8'") dtype_ = Dtype::i64;
  else throw invalid_argument(path + ": dtype " + descr + " is not float32, float16, int32 or int64 (little-endian)");
  if (field(path, header, "fortran_order") != "False") throw invalid_argument(path + ": not in C order (fortran_order)");

  const std::string shape = field(path, header, "shape");  // "(a, b)", "(a,)" or "()"
  std::size_t i = 1;
  while (i < shape.size()) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    std::int64_t v = 0;
    std::size_t digits = 0;
    for (; i < shape.size() && shape[i] >= '0' && shape[i] <= '9'; ++i, ++digits) {
      if (v > (std::numeric_limits<std::int64_t>::max() - 9) / 10) throw invalid_argument(path + ": absurd .npy shape " + shape);
      v = v * 10 + (shape[i] - '0');
    }
    if (digits == 0) throw invalid_argument(path + ": malformed .npy shape " + shape);
    shape_.push_back(v);
  }
  std::uint64_t count = 1;
  for (const std::int64_t s : shape_) {
    if (s != 0 && count > std::numeric_limits<std::uint64_t>::max() / 16 / static_cast<std::uint64_t>(s))
      throw invalid_argument(path + ": absurd .npy shape " + shape);
    count *= static_cast<std::uint64_t>(s);
  }
  const std::uint64_t bytes = count * item_size();
  if (file_.size() < offset_ + bytes)
    throw invalid_argument(path + ": truncated: shape " + shape + " needs " + std::to_string(offset_ + bytes) + " bytes, the file has " +
                           std::to_string(file_.size()));
  if (file_.size() > offset_ + bytes)
    throw invalid_argument(path + ": " + std::to_string(file_.size() - offset_ - bytes) + " trailing bytes after the array");
  if (offset_ % item_size() != 0) throw invalid_argument(path + ": the array's data is misaligned");
}

std::size_t NpyFile::item_size() const noexcept {
  switch (dtype_) {
    case Dtype::f16: return 2;
    case Dtype::i64: return 8;
    default: return 4;
  }
}

void NpyFile::done_with_rows(std::int64_t first, std::int64_t count) const noexcept {
  if (shape_.size() != 2) return;
  const std::uint64_t row = static_cast<std::uint64_t>(shape_[1]) * item_size();
  file_.done_with(offset_ + static_cast<std::uint64_t>(first) * row, static_cast<std::uint64_t>(count) * row);
}

}  // namespace kldiv::eval
