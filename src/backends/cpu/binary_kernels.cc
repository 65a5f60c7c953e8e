#include "backends/cpu/binary_kernels.h"

#include "backends/cpu/isa_table.h"

namespace chatterd::cpu {

const BinaryKernels& binary_kernels_scalar();
const BinaryKernels& binary_kernels_avx2();
const BinaryKernels& binary_kernels_avx512();

const BinaryKernels& binary_kernels(CpuIsa isa) {
  return select_isa_table(isa, binary_kernels_scalar(), binary_kernels_avx2(),
                          binary_kernels_avx512());
}

}  // namespace chatterd::cpu
