#include "backends/cpu/convert_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const ConvertKernels& convert_kernels_avx512() {
  static constexpr ConvertKernels kTable = make_convert_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
