#include "models/t3/t3_synthetic.h"

#include <string>
#include <vector>

#include "models/synthetic_weights.h"

namespace chatterd {

std::shared_ptr<const T3Model> make_synthetic_t3(Variant variant, std::uint64_t seed,
                                                 DType float_dtype,
                                                 std::optional<DType> matrix_dtype) {
  const T3Config config = T3Config::defaults(variant);
  std::vector<TensorSpec> specs;
  for (auto& s : t3_tensor_specs(config)) {
    if (s.presence == TensorPresence::CheckpointOnly || !s.used_at_inference) continue;
    specs.push_back(std::move(s));
  }
  auto store = make_synthetic_weights(
      specs, seed, "synthetic:" + std::string(variant_name(variant)), float_dtype);
  return std::make_shared<const T3Model>(store, config, matrix_dtype);
}

}  // namespace chatterd
