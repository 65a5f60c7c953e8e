#pragma once
// `synthetic:turbo` / `synthetic:nano` / `synthetic:english` / `synthetic:multilingual`: a T3 of
// the real dimensions with seeded random weights
// (make_synthetic_weights over t3_tensor_specs), for benchmarks on machines without the
// checkpoints. Tensors the model never reads (tfmr.wte, tfmr.embed_tokens, text_head) are left
// out.

#include <cstdint>
#include <memory>
#include <optional>

#include "chatterd/core/dtype.h"
#include "models/t3/t3_model.h"
#include "models/variant.h"

namespace chatterd {

// `float_dtype`: how weights are stored (f32, f16 or bf16); `matrix_dtype`: see T3Model.
std::shared_ptr<const T3Model> make_synthetic_t3(Variant variant, std::uint64_t seed = 0,
                                                 DType float_dtype = DType::F32,
                                                 std::optional<DType> matrix_dtype = std::nullopt);

}  // namespace chatterd
