#include "backends/cpu/qdot_kernels.h"

#include <vector>

namespace chatterd::cpu {
namespace {

std::vector<QDotVariant> make_variants() {
  std::vector<QDotVariant> v;
  v.push_back({.name = "scalar", .isa = CpuIsa::Scalar, .dot_q8_q8 = &dot_q8_q8_scalar});
  const CpuIsa best = detect_isa();
  if (best >= CpuIsa::Avx2) {
    v.push_back({.name = "avx2", .isa = CpuIsa::Avx2, .dot_q8_q8 = &dot_q8_q8_avx2});
  }
  if (best >= CpuIsa::Avx512 && cpu_has_avx512_vnni()) {
    v.push_back(
        {.name = "avx512_vnni", .isa = CpuIsa::Avx512, .dot_q8_q8 = &dot_q8_q8_avx512_vnni});
  }
  if (best >= CpuIsa::Avx512 && cpu_has_avx512_bf16()) {
    v.push_back({.name = "avx512_bf16",
                 .isa = CpuIsa::Avx512,
                 .dot_bf16_split = &dot_bf16_split_avx512_bf16});
  }
  return v;
}

}  // namespace

std::span<const QDotVariant> qdot_variants() {
  static const std::vector<QDotVariant> variants = make_variants();
  return variants;
}

DotQ8Q8Kernel dot_q8_q8_kernel(CpuIsa isa) {
  DotQ8Q8Kernel best = &dot_q8_q8_scalar;
  for (const auto& v : qdot_variants()) {
    if (v.dot_q8_q8 != nullptr && v.isa <= isa) best = v.dot_q8_q8;
  }
  return best;
}

DotBf16SplitKernel dot_bf16_split_kernel(CpuIsa isa) {
  for (const auto& v : qdot_variants()) {
    if (v.dot_bf16_split != nullptr && v.isa <= isa) return v.dot_bf16_split;
  }
  return nullptr;
}

}  // namespace chatterd::cpu
