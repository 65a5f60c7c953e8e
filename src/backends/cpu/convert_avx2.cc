#include "backends/cpu/convert_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const ConvertKernels& convert_kernels_avx2() {
  static constexpr ConvertKernels kTable = make_convert_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
