#include "backends/cpu/row_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const RowKernels& row_kernels_avx2() {
  static constexpr RowKernels kTable = make_row_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
