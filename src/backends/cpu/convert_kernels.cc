#include "backends/cpu/convert_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const ConvertKernels& convert_kernels_scalar();
const ConvertKernels& convert_kernels_avx2();
const ConvertKernels& convert_kernels_avx512();

const ConvertKernels& convert_kernels(CpuIsa isa) {
  return select_isa_table(isa, convert_kernels_scalar(), convert_kernels_avx2(),
                          convert_kernels_avx512());
}

}  // namespace chatterd::cpu
