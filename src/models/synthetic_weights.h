#pragma once
// Seeded random weights of the real dimensions, built from a component's expected-tensor specs,
// so speed can be measured on any machine without the real checkpoints (`synthetic:<variant>`).

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "models/tensor_spec.h"
#include "weights/weight_store.h"

namespace chatterd {

// Float tensors get U(-a, a) with a = 1/sqrt(last dim) (norm weights near 1 would also do; speed
// does not depend on values, only finiteness does); integer tensors get zeros. `float_dtype` is
// how float tensors are stored (f32, f16 or bf16), as a checkpoint might store them.
std::shared_ptr<WeightStore> make_synthetic_weights(std::span<const TensorSpec> specs,
                                                    std::uint64_t seed, std::string label,
                                                    DType float_dtype = DType::F32);

}  // namespace chatterd
