#include "backends/cpu/attention_impl.h"
#include "backends/cpu/vec_avx2.h"

namespace chatterd::cpu {

const AttentionKernels& attention_kernels_avx2() {
  static constexpr AttentionKernels kTable = make_attention_kernels<VecAvx2>();
  return kTable;
}

}  // namespace chatterd::cpu
