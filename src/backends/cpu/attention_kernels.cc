#include "backends/cpu/attention_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const AttentionKernels& attention_kernels_scalar();
const AttentionKernels& attention_kernels_avx2();
const AttentionKernels& attention_kernels_avx512();

const AttentionKernels& attention_kernels(CpuIsa isa) {
  return select_isa_table(isa, attention_kernels_scalar(), attention_kernels_avx2(),
                          attention_kernels_avx512());
}

}  // namespace chatterd::cpu
