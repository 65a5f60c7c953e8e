#include "models/synthetic_weights.h"

#include <cmath>

#include "chatterd/core/half.h"
#include "core/check.h"
#include "core/rng.h"

namespace chatterd {

std::shared_ptr<WeightStore> make_synthetic_weights(std::span<const TensorSpec> specs,
                                                    std::uint64_t seed, std::string label,
                                                    DType float_dtype) {
  CHATTERD_CHECK(
      float_dtype == DType::F32 || float_dtype == DType::F16 || float_dtype == DType::BF16,
      InvalidArgument, "synthetic weights: float dtype must be f32, f16 or bf16, not {}",
      dtype_name(float_dtype));
  Rng rng(seed);
  std::map<std::string, Tensor, std::less<>> tensors;
  for (const TensorSpec& spec : specs) {
    if (spec.presence == TensorPresence::CheckpointOnly) continue;
    if (spec.kind == TensorKind::Integer) {
      tensors.emplace(spec.name, Tensor::zeros(spec.shape, DType::I64));
      continue;
    }
    const std::int64_t last =
        spec.shape.rank() == 0 ? 1 : std::max<std::int64_t>(spec.shape.dim(-1), 1);
    const float a = 1.0f / std::sqrt(static_cast<float>(last));
    Tensor t = Tensor::empty(spec.shape, float_dtype);
    const std::int64_t n = t.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      const float v = (2.0f * rng.next_unit_float() - 1.0f) * a;
      switch (float_dtype) {
        case DType::F16:
          t.data<Half>()[i] = float_to_half(v);
          break;
        case DType::BF16:
          t.data<BFloat16>()[i] = float_to_bf16(v);
          break;
        default:
          t.data<float>()[i] = v;
          break;
      }
    }
    tensors.emplace(spec.name, std::move(t));
  }
  return WeightStore::from_tensors(std::move(tensors), std::move(label));
}

}  // namespace chatterd
