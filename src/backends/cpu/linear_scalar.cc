#include "backends/cpu/linear_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const LinearKernels& linear_kernels_scalar() {
  static constexpr LinearKernels kTable = make_linear_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
