#include "backends/cpu/cpu_features.h"

#include <cstdlib>
#include <string>

#include "core/check.h"

namespace chatterd::cpu {

std::string_view isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Scalar:
      return "scalar";
    case CpuIsa::Avx2:
      return "avx2";
    case CpuIsa::Avx512:
      return "avx512";
  }
  return "?";
}

CpuIsa detect_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return CpuIsa::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return CpuIsa::Avx2;  // every AVX2 CPU in practice also has F16C
  }
  return CpuIsa::Scalar;
}

bool cpu_has_avx512_vnni() {
  static const bool vnni = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni") != 0;
  }();
  return vnni;
}

bool cpu_has_avx512_bf16() {
  static const bool bf16 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return bf16;
}

CpuIsa default_isa() {
  // Read once: the environment is fixed for the process's lifetime.
  static const CpuIsa isa = [] {
    const CpuIsa best = detect_isa();
    const char* env = std::getenv("CHATTERD_CPU_ISA");  // NOLINT(concurrency-mt-unsafe)
    if (env == nullptr || *env == '\0') return best;
    const std::string want(env);
    CpuIsa forced = best;
    if (want == "scalar") {
      forced = CpuIsa::Scalar;
    } else if (want == "avx2") {
      forced = CpuIsa::Avx2;
    } else if (want == "avx512") {
      forced = CpuIsa::Avx512;
    } else {
      CHATTERD_THROW(InvalidArgument, "CHATTERD_CPU_ISA='{}': expected scalar, avx2 or avx512",
                     want);
    }
    CHATTERD_CHECK(static_cast<int>(forced) <= static_cast<int>(best), Unsupported,
                   "CHATTERD_CPU_ISA={} but this CPU supports at most {}", want, isa_name(best));
    return forced;
  }();
  return isa;
}

std::vector<CpuIsa> supported_isas() {
  std::vector<CpuIsa> out;
  const int best = static_cast<int>(detect_isa());
  for (int i = 0; i <= best; ++i) out.push_back(static_cast<CpuIsa>(i));
  return out;
}

}  // namespace chatterd::cpu
