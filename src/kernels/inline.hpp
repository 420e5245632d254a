// Kernel helpers must inline into the loops: a call per vector costs a third of the time (measured), and
// GCC at -O2 declines to inline the larger ones on its own.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define KLDIV_INLINE inline __attribute__((always_inline))
#define KLDIV_INLINE_LAMBDA __attribute__((always_inline))
#else
#define KLDIV_INLINE inline
#define KLDIV_INLINE_LAMBDA
#endif
