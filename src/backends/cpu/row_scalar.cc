#include "backends/cpu/row_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const RowKernels& row_kernels_scalar() {
  static constexpr RowKernels kTable = make_row_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
