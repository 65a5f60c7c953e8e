#include "backends/cpu/row_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const RowKernels& row_kernels_avx512() {
  static constexpr RowKernels kTable = make_row_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
