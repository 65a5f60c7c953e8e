#include "backends/cpu/attention_impl.h"
#include "backends/cpu/vec_scalar.h"

namespace chatterd::cpu {

const AttentionKernels& attention_kernels_scalar() {
  static constexpr AttentionKernels kTable = make_attention_kernels<VecScalar>();
  return kTable;
}

}  // namespace chatterd::cpu
