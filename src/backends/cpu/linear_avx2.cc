#include "backends/cpu/linear_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const LinearKernels& linear_kernels_avx2() {
  static constexpr LinearKernels kTable = make_linear_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
