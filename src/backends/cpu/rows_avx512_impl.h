#pragma once
// What the two row-packed AVX-512 kernels (q8_rows_avx512.cc, q4_rows_avx512.cc) share. Include
// only from *_avx512.cc files (it needs their flags); the anonymous namespace gives each TU its
// own copy (isa_table.h).
#include <immintrin.h>

namespace chatterd::cpu {
namespace {  // NOLINT(google-build-namespaces, cert-dcl59-cpp): one private copy per ISA TU

// pick[j]: lane l of block pair j's scale vector takes block 2j + l / 8 of a 16-block group
// (a _mm512_permutexvar_ps index for the vector of 16 per-block scales).
inline void block_pair_picks(__m512i (&pick)[8]) {
  for (int j = 0; j < 8; ++j) {
    pick[j] = _mm512_set_epi32(2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1, 2 * j + 1,
                               2 * j + 1, 2 * j + 1, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j, 2 * j,
                               2 * j, 2 * j);
  }
}

}  // namespace
}  // namespace chatterd::cpu
