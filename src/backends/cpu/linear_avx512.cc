#include "backends/cpu/linear_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const LinearKernels& linear_kernels_avx512() {
  static constexpr LinearKernels kTable = make_linear_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
