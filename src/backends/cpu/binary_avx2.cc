#include "backends/cpu/binary_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const BinaryKernels& binary_kernels_avx2() {
  static constexpr BinaryKernels kTable = make_binary_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
