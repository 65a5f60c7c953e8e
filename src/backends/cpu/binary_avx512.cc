#include "backends/cpu/binary_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const BinaryKernels& binary_kernels_avx512() {
  static constexpr BinaryKernels kTable = make_binary_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
