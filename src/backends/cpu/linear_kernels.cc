#include "backends/cpu/linear_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const LinearKernels& linear_kernels_scalar();
const LinearKernels& linear_kernels_avx2();
const LinearKernels& linear_kernels_avx512();

const LinearKernels& linear_kernels(CpuIsa isa) {
  return select_isa_table(isa, linear_kernels_scalar(), linear_kernels_avx2(),
                          linear_kernels_avx512());
}

}  // namespace chatterd::cpu
