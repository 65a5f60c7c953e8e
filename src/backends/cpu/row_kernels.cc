#include "backends/cpu/row_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const RowKernels& row_kernels_scalar();
const RowKernels& row_kernels_avx2();
const RowKernels& row_kernels_avx512();

const RowKernels& row_kernels(CpuIsa isa) {
  return select_isa_table(isa, row_kernels_scalar(), row_kernels_avx2(), row_kernels_avx512());
}

}  // namespace chatterd::cpu
