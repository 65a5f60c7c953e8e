#include "backends/cpu/convert_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const ConvertKernels& convert_kernels_scalar() {
  static constexpr ConvertKernels kTable = make_convert_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
