#include "backends/cpu/unary_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const UnaryKernels& unary_kernels_scalar() {
  static constexpr UnaryKernels kTable = make_unary_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
