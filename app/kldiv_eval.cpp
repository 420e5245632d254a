// kldiv-eval BASE CANDIDATE: llama.cpp-compatible statistics of a candidate model against its base, from
// llama-perplexity --kl-divergence-base files or .npy logits.  A thin command over kldiv::eval (README.md,
// "kldiv-eval").  Exit status 0 on success, 2 on bad arguments or files.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kldiv/eval.hpp"
#include "kldiv/eval_files.hpp"

namespace {

using kldiv::Divergence;
using kldiv::eval::LlamaFile;
using kldiv::eval::NpyFile;

const char kUsage[] =
    "usage: kldiv-eval BASE CANDIDATE [--divergence kl|reverse-kl|jsd] [--beta B] [--temperature T]\n"
    "                  [--threads N] [--json FILE|-] [--no-progress] [--tokens FILE.npy]\n"
    "BASE and CANDIDATE: llama-perplexity --kl-divergence-base files, or .npy logits [tokens, vocab]\n"
    "(float32 or float16, C order).  --tokens: the correct next tokens (int32 or int64) for two .npy.\n";

struct bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Args {
  std::string base, candidate, json, tokens;
  kldiv::eval::Options options;
  bool beta_given = false, progress = true, help = false;
};

double number(const char* flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (!*text || *end) throw bad(std::string(flag) + ": '" + text + "' is not a number");
  return v;
}

Args parse(int argc, char** argv) {
  Args a;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw bad(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      a.help = true;
    } else if (arg == "--divergence") {
      const std::string v = value();
      if (v == "kl") a.options.divergence = Divergence::kl;
      else if (v == "reverse-kl") a.options.divergence = Divergence::reverse_kl;
      else if (v == "jsd") a.options.divergence = Divergence::jsd;
      else throw bad("--divergence: '" + v + "' is not kl, reverse-kl or jsd");
    } else if (arg == "--beta") {
      a.options.beta = number("--beta", value());
      a.beta_given = true;
    } else if (arg == "--temperature") {
      a.options.temperature = number("--temperature", value());
    } else if (arg == "--threads") {
      const char* v = value();
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (!*v || *end || n < 0 || n > 4096) throw bad(std::string("--threads: '") + v + "' is not a count in [0, 4096]");
      a.options.num_threads = static_cast<int>(n);
    } else if (arg == "--json") {
      a.json = value();
    } else if (arg == "--tokens") {
      a.tokens = value();
    } else if (arg == "--no-progress") {
      a.progress = false;
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw bad("unknown option " + arg);
    } else {
      positional.push_back(arg);
    }
  }
  if (a.help) return a;
  if (positional.size() != 2) throw bad("expected BASE and CANDIDATE, got " + std::to_string(positional.size()) + " files");
  a.base = positional[0];
  a.candidate = positional[1];
  if (a.beta_given && a.options.divergence != Divergence::jsd) throw bad("--beta needs --divergence jsd");
  if (!(a.options.beta > 0 && a.options.beta < 1)) throw bad("--beta: " + std::to_string(a.options.beta) + " is not in (0, 1)");
  if (!(std::isfinite(a.options.temperature) && a.options.temperature > 0))
    throw bad("--temperature: must be finite and > 0");
  return a;
}

bool is_npy(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;  // the reader reports why
  unsigned char b[6] = {};
  const bool npy = std::fread(b, 1, 6, f) == 6 && std::memcmp(b, "\x93NUMPY", 6) == 0;
  std::fclose(f);
  return npy;
}

// One input: a llama.cpp file or a 2-D .npy of logits, as blocks of rows.
class Input {
 public:
  explicit Input(const std::string& path) {
    if (is_npy(path)) {
      npy_ = std::make_unique<NpyFile>(path);
      const auto& s = npy_->shape();
      if (s.size() != 2 || (npy_->dtype() != NpyFile::Dtype::f32 && npy_->dtype() != NpyFile::Dtype::f16))
        throw bad(path + ": logits must be a 2-D float32 or float16 array [tokens, vocab]");
      if (s[1] < 1) throw bad(path + ": the vocabulary is empty");
    } else {
      llama_ = std::make_unique<LlamaFile>(path);
    }
  }
  const LlamaFile* llama() const { return llama_.get(); }
  const std::string& path() const { return llama_ ? llama_->path() : npy_->path(); }
  std::int64_t rows() const { return llama_ ? llama_->rows() : npy_->shape()[0]; }
  std::int64_t vocab() const { return llama_ ? llama_->n_vocab() : npy_->shape()[1]; }
  std::int64_t row_bytes() const { return llama_ ? 2 * llama_->row_size() : vocab() * npy_->item_size(); }

  // Rows [first, first + count), straight from the map: float16 logits go in as F16, float32 as F32.
  kldiv::eval::Rows block(std::int64_t first, std::int64_t count) const {
    if (llama_)
      return kldiv::eval::Rows::llama(llama_->chunk(0) + first * llama_->row_size(), count, vocab(), llama_->row_size());
    const std::int64_t v = vocab();
    const auto* at = static_cast<const char*>(npy_->data()) + first * v * static_cast<std::int64_t>(npy_->item_size());
    const kldiv::Dtype dtype = npy_->dtype() == NpyFile::Dtype::f16 ? kldiv::Dtype::f16 : kldiv::Dtype::f32;
    return kldiv::eval::Rows::logits(kldiv::Rows(at, dtype, count, v, v));
  }
  void done_with(std::int64_t first, std::int64_t count) const {
    if (npy_) npy_->done_with_rows(first, count);
    else llama_->done_with_rows(first, count);
  }

 private:
  std::unique_ptr<LlamaFile> llama_;
  std::unique_ptr<NpyFile> npy_;
};

// The correct next tokens: from a llama.cpp file, from --tokens, or none.
std::vector<std::int64_t> load_tokens(const Args& a, const Input& base, const Input& candidate, std::int64_t n,
                                      std::int64_t vocab) {
  const LlamaFile* f = base.llama() ? base.llama() : candidate.llama();
  std::vector<std::int64_t> t;
  if (f) {
    if (!a.tokens.empty()) throw bad("--tokens: the tokens come from " + f->path());
    t.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = f->target(i);
    return t;
  }
  if (a.tokens.empty()) return t;
  const NpyFile tokens(a.tokens);
  if (tokens.shape().size() != 1 || (tokens.dtype() != NpyFile::Dtype::i32 && tokens.dtype() != NpyFile::Dtype::i64))
    throw bad(a.tokens + ": tokens must be a 1-D int32 or int64 array");
  if (tokens.shape()[0] != n)
    throw bad(a.tokens + ": " + std::to_string(tokens.shape()[0]) + " tokens for " + std::to_string(n) + " rows");
  t.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t v = tokens.dtype() == NpyFile::Dtype::i32 ? static_cast<const std::int32_t*>(tokens.data())[i]
                                                                 : static_cast<const std::int64_t*>(tokens.data())[i];
    if (v < 0 || v >= vocab)
      throw bad(a.tokens + ": token " + std::to_string(v) + " of row " + std::to_string(i) + " is not in [0, " +
                std::to_string(vocab) + ")");
    t[static_cast<std::size_t>(i)] = v;
  }
  return t;
}

// An accumulator's "base row 5: ..." as "FILE: row 5 (chunk c, row k): ...", in the file's numbering.
std::string locate(const std::string& message, const Input& base, const Input& candidate, std::int64_t first) {
  for (const Input* in : {&base, &candidate}) {
    const std::string side = in == &base ? "base row " : "candidate row ";
    if (message.compare(0, side.size(), side) != 0) continue;
    char* end = nullptr;
    const long long i = std::strtoll(message.c_str() + side.size(), &end, 10);
    const std::int64_t row = first + i;
    std::string where = in->path() + ": row " + std::to_string(row);
    if (in->llama())
      where += " (chunk " + std::to_string(row / in->llama()->rows_per_chunk()) + ", row " +
               std::to_string(row % in->llama()->rows_per_chunk()) + ")";
    return where + end;
  }
  return message;
}

class Progress {
 public:
  Progress(bool on, std::int64_t total) : on_(on && isatty(STDERR_FILENO)), total_(total) {}
  void update(std::int64_t done) {
    if (!on_) return;
    const double t = seconds();
    if (done < total_ && t - last_ < 0.2) return;
    last_ = t;
    const double rate = t > 0 ? done / t : 0;
    const int width = 30, bar = total_ ? static_cast<int>(width * done / total_) : width;
    std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld tokens, %.0f tokens/s, ETA %.0f s ", bar,
                 "==============================", width - bar, "", static_cast<long long>(done),
                 static_cast<long long>(total_), rate, rate > 0 ? (total_ - done) / rate : 0.0);
    if (done == total_) std::fprintf(stderr, "\n");
  }

 private:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  bool on_;
  std::int64_t total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double last_ = -1;
};

kldiv::eval::Result run(const Args& a) {
  Input base(a.base), candidate(a.candidate);
  if (base.llama() && candidate.llama()) kldiv::eval::check_same_text(*base.llama(), *candidate.llama());
  if (base.vocab() != candidate.vocab() || base.rows() != candidate.rows()) {
    const auto shape = [](const Input& in) {
      return "[" + std::to_string(in.rows()) + ", " + std::to_string(in.vocab()) + "]";
    };
    throw bad(a.base + " and " + a.candidate + ": shapes " + shape(base) + " and " + shape(candidate) + " differ");
  }
  const std::int64_t n = base.rows(), vocab = base.vocab();
  const std::vector<std::int64_t> tokens = load_tokens(a, base, candidate, n, vocab);
  kldiv::eval::Accumulator acc(vocab, a.options);
  // Blocks of about 32 MB per input: enough rows for every thread, and pages dropped behind them.
  const std::int64_t block = std::max<std::int64_t>(64, (std::int64_t(32) << 20) / std::max(base.row_bytes(), candidate.row_bytes()));
  Progress progress(a.progress, n);
  for (std::int64_t first = 0; first < n; first += block) {
    const std::int64_t count = std::min(block, n - first);
    try {
      acc.add(base.block(first, count), candidate.block(first, count), tokens.empty() ? nullptr : tokens.data() + first);
    } catch (const kldiv::error& e) {
      throw bad(locate(e.what(), base, candidate, first));
    }
    base.done_with(first, count);
    candidate.done_with(first, count);
    progress.update(first + count);
  }
  return acc.finish();
}

// A fixed-width number, or "nan" in the same width.
std::string num(double v, int width, int precision) {
  char b[64];
  if (std::isnan(v)) std::snprintf(b, sizeof b, "%*s", width, "nan");
  else std::snprintf(b, sizeof b, "%*.*f", width, precision, v);
  return b;
}

// llama-perplexity's final statistics, line for line (its printf formats).
void print_text(std::FILE* out, const kldiv::eval::Result& r, Divergence d) {
  const char* label = d == Divergence::kl ? "KLD" : d == Divergence::reverse_kl ? "RKLD" : "JSD";
  const char* title = d == Divergence::kl ? "KL divergence" : d == Divergence::reverse_kl ? "Reverse KL divergence" : "JS divergence";
  const auto pm = [&](const char* name, double v, double se) {
    std::fprintf(out, "%s: %s ± %s\n", name, num(v, 10, 6).c_str(), num(se, 10, 6).c_str());
  };
  if (r.has_tokens) {
    const auto& p = r.ppl;
    std::fprintf(out, "====== Perplexity statistics ======\n");
    pm("Mean PPL(Q)                   ", p.q, p.q_se);
    pm("Mean PPL(base)                ", p.base, p.base_se);
    std::fprintf(out, "Cor(ln(PPL(Q)), ln(PPL(base))): %s%%\n", num(100.0 * p.cor_ln, 6, 2).c_str());
    pm("Mean ln(PPL(Q)/PPL(base))     ", p.ln_ratio, p.ln_ratio_se);
    pm("Mean PPL(Q)/PPL(base)         ", p.ratio, p.ratio_se);
    pm("Mean PPL(Q)-PPL(base)         ", p.diff, p.diff_se);
    std::fprintf(out, "\n");
  }
  std::fprintf(out, "====== %s statistics ======\n", title);
  const auto& k = r.divergence;
  std::fprintf(out, "Mean    %s: %s ± %s\n", label, num(k.mean, 10, 6).c_str(), num(k.se, 10, 6).c_str());
  const struct {
    const char* name;
    double v;
  } rows[] = {{"Maximum ", k.pct.max}, {"99.9%   ", k.pct.p99_9}, {"99.0%   ", k.pct.p99}, {"95.0%   ", k.pct.p95},
              {"90.0%   ", k.pct.p90}, {"Median  ", k.pct.median}, {"10.0%   ", k.pct.p10}, {" 5.0%   ", k.pct.p5},
              {" 1.0%   ", k.pct.p1},  {" 0.1%   ", k.pct.p0_1}, {"Minimum ", k.pct.min}};
  for (const auto& row : rows) std::fprintf(out, "%s%s: %s\n", row.name, label, num(row.v, 10, 6).c_str());
  std::fprintf(out, "\n====== Token probability statistics ======\n");
  if (r.has_tokens) {
    const auto& p = r.delta_p;
    std::fprintf(out, "Mean    Δp: %s ± %s %%\n", num(100.0 * p.mean, 6, 3).c_str(), num(100.0 * p.se, 5, 3).c_str());
    const struct {
      const char* name;
      double v;
    } dp[] = {{"Maximum Δp", p.pct.max}, {"99.9%   Δp", p.pct.p99_9}, {"99.0%   Δp", p.pct.p99}, {"95.0%   Δp", p.pct.p95},
              {"90.0%   Δp", p.pct.p90}, {"75.0%   Δp", p.pct.p75},   {"Median  Δp", p.pct.median}, {"25.0%   Δp", p.pct.p25},
              {"10.0%   Δp", p.pct.p10}, {" 5.0%   Δp", p.pct.p5},    {" 1.0%   Δp", p.pct.p1},  {" 0.1%   Δp", p.pct.p0_1},
              {"Minimum Δp", p.pct.min}};
    for (const auto& row : dp) std::fprintf(out, "%s: %s%%\n", row.name, num(100.0 * row.v, 6, 3).c_str());
    std::fprintf(out, "RMS Δp    : %s ± %s %%\n", num(100.0 * p.rms, 6, 3).c_str(), num(100.0 * p.rms_se, 5, 3).c_str());
  }
  std::fprintf(out, "Same top p: %s ± %s %%\n", num(100.0 * r.same_top.mean, 6, 3).c_str(),
               num(100.0 * r.same_top.se, 5, 3).c_str());
}

// 17 significant digits, so that every value round-trips; null where it is undefined or infinite.
std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

std::string json(const kldiv::eval::Result& r) {
  std::string s = "{\n  \"tokens\": " + std::to_string(r.tokens);
  const auto object = [&](const char* name, std::initializer_list<std::pair<const char*, double>> fields) {
    s += ",\n  \"" + std::string(name) + "\": {";
    const char* sep = "";
    for (const auto& f : fields) {
      s += sep + std::string("\"") + f.first + "\": " + json_num(f.second);
      sep = ", ";
    }
    s += "}";
  };
  const auto& k = r.divergence;
  object("divergence", {{"mean", k.mean}, {"se", k.se}, {"max", k.pct.max}, {"p99_9", k.pct.p99_9}, {"p99", k.pct.p99},
                        {"p95", k.pct.p95}, {"p90", k.pct.p90}, {"median", k.pct.median}, {"p10", k.pct.p10},
                        {"p5", k.pct.p5}, {"p1", k.pct.p1}, {"p0_1", k.pct.p0_1}, {"min", k.pct.min}});
  if (r.has_tokens) {
    const auto& p = r.delta_p;
    object("delta_p", {{"mean", p.mean}, {"se", p.se}, {"rms", p.rms}, {"rms_se", p.rms_se}, {"max", p.pct.max},
                       {"p99_9", p.pct.p99_9}, {"p99", p.pct.p99}, {"p95", p.pct.p95}, {"p90", p.pct.p90},
                       {"p75", p.pct.p75}, {"median", p.pct.median}, {"p25", p.pct.p25}, {"p10", p.pct.p10},
                       {"p5", p.pct.p5}, {"p1", p.pct.p1}, {"p0_1", p.pct.p0_1}, {"min", p.pct.min}});
  }
  object("same_top", {{"mean", r.same_top.mean}, {"se", r.same_top.se}});
  if (r.has_tokens) {
    const auto& p = r.ppl;
    object("ppl", {{"q", p.q}, {"q_se", p.q_se}, {"base", p.base}, {"base_se", p.base_se}, {"cor_ln", p.cor_ln},
                   {"ln_ratio", p.ln_ratio}, {"ln_ratio_se", p.ln_ratio_se}, {"ratio", p.ratio}, {"ratio_se", p.ratio_se},
                   {"diff", p.diff}, {"diff_se", p.diff_se}});
  }
  return s + "\n}\n";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    if (a.help) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const kldiv::eval::Result r = run(a);
    const std::string j = json(r);
    if (a.json == "-") {
      std::fputs(j.c_str(), stdout);
    } else {
      if (!a.json.empty()) {
        std::FILE* f = std::fopen(a.json.c_str(), "w");
        if (!f) throw bad(a.json + ": cannot create: " + std::strerror(errno));
        const bool ok = std::fputs(j.c_str(), f) >= 0;
        if ((std::fclose(f) != 0) | !ok) throw bad(a.json + ": write failed");
      }
      print_text(stdout, r, a.options.divergence);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kldiv-eval: %s\n%s", e.what(), kUsage);
    return 2;
  }
}
