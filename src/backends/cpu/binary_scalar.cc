#include "backends/cpu/binary_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const BinaryKernels& binary_kernels_scalar() {
  static constexpr BinaryKernels kTable = make_binary_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
