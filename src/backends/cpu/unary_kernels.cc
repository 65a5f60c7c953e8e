#include "backends/cpu/unary_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const UnaryKernels& unary_kernels_scalar();
const UnaryKernels& unary_kernels_avx2();
const UnaryKernels& unary_kernels_avx512();

const UnaryKernels& unary_kernels(CpuIsa isa) {
  return select_isa_table(isa, unary_kernels_scalar(), unary_kernels_avx2(),
                          unary_kernels_avx512());
}

}  // namespace chatterd::cpu
