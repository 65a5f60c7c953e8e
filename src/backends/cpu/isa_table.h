#pragma once
// How a kernel family is dispatched: a table of function pointers per ISA. A family `foo` has
//   foo_kernels.h        struct FooKernels {...}; const FooKernels& foo_kernels(CpuIsa);
//   foo_impl.h           templates over a Vec type, all in an anonymous namespace (each ISA TU gets
//                        its own copy, so no inline function compiled for AVX-512 can be picked by
//                        the linker for an AVX2 caller), ending in make_foo_kernels<V>()
//   foo_scalar.cc / foo_avx2.cc / foo_avx512.cc   one line each: instantiate the table for that Vec
//   foo_kernels.cc       select_isa_table(isa, ...)
// Kernels must not call into the standard library's templates from *_impl.h for the same reason.

#include "backends/cpu/cpu_features.h"

namespace chatterd::cpu {

template <class Table>
const Table& select_isa_table(CpuIsa isa, const Table& scalar, const Table& avx2,
                              const Table& avx512) {
  switch (isa) {
    case CpuIsa::Avx512:
      return avx512;
    case CpuIsa::Avx2:
      return avx2;
    case CpuIsa::Scalar:
      break;
  }
  return scalar;
}

}  // namespace chatterd::cpu
