#include "backends/cpu/unary_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const UnaryKernels& unary_kernels_avx2() {
  static constexpr UnaryKernels kTable = make_unary_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
