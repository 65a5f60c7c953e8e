// GCC 12 reports its own _mm512_reduce_max_ps (avx512fintrin.h) as reading an uninitialised
// value (a false positive like the maybe-uninitialized one CpuIsa.cmake already silences).
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "backends/cpu/row_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const RowKernels& row_kernels_avx512() {
  static constexpr RowKernels kTable = make_row_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
