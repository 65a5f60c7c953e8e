#include "backends/cpu/attention_impl.h"
#include "backends/cpu/vec_avx512.h"

namespace chatterd::cpu {

const AttentionKernels& attention_kernels_avx512() {
  static constexpr AttentionKernels kTable = make_attention_kernels<VecAvx512>();
  return kTable;
}

}  // namespace chatterd::cpu
