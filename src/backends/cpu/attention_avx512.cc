// GCC 12's avx512fintrin.h trips -Wuninitialized (_mm256_undefined_pd inside
// _mm512_extractf64x4_pd, used by VecAvx512::reduce_*) once those are inlined into a caller.
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "backends/cpu/attention_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const AttentionKernels& attention_kernels_avx512() {
  static constexpr AttentionKernels kTable = make_attention_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
