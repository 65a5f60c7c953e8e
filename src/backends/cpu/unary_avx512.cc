#include "backends/cpu/unary_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const UnaryKernels& unary_kernels_avx512() {
  static constexpr UnaryKernels kTable = make_unary_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
