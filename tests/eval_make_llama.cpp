// eval_make_llama OUT N_CTX TOKENS.npy LOGITS.npy: llama.cpp's --kl-divergence-base file from the scored
// rows' float32 logits, written by the library's LlamaWriter (for tests/eval_reference.py).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "kldiv/eval_files.hpp"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: eval_make_llama OUT N_CTX TOKENS.npy LOGITS.npy\n");
    return 2;
  }
  try {
    const int n_ctx = std::atoi(argv[2]);
    const kldiv::eval::NpyFile tokens(argv[3]), logits(argv[4]);
    if (tokens.dtype() != kldiv::eval::NpyFile::Dtype::i32 || tokens.shape().size() != 1 ||
        logits.dtype() != kldiv::eval::NpyFile::Dtype::f32 || logits.shape().size() != 2)
      throw std::runtime_error("tokens must be 1-D int32, logits 2-D float32");
    const int n_chunk = static_cast<int>(tokens.shape()[0] / n_ctx), n_vocab = static_cast<int>(logits.shape()[1]);
    const std::int64_t rows = n_ctx - 1 - n_ctx / 2;
    if (static_cast<std::int64_t>(n_chunk) * n_ctx != tokens.shape()[0] || rows * n_chunk != logits.shape()[0])
      throw std::runtime_error("the shapes do not fit n_ctx");
    kldiv::eval::LlamaWriter w(argv[1], n_ctx, n_vocab, n_chunk, static_cast<const std::int32_t*>(tokens.data()));
    for (int c = 0; c < n_chunk; ++c) w.add_chunk(static_cast<const float*>(logits.data()) + c * rows * n_vocab, n_vocab);
    w.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eval_make_llama: %s\n", e.what());
    return 2;
  }
  return 0;
}
