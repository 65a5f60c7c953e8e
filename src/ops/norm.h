#pragma once
// Normalisation over the last axis, computed in f32. out may be x itself.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// torch.nn.LayerNorm: (x - mean) / sqrt(var + eps) * gamma + beta, biased variance.
// gamma and beta: [D] f32 or null (no affine part).
void layer_norm(const ExecContext& ctx, const Tensor& x, const Tensor* gamma, const Tensor* beta,
                Tensor& out, float eps = 1e-5f);

// Llama RMSNorm: x / sqrt(mean(x^2) + eps), then * gamma ([D] f32, or null for none).
void rms_norm(const ExecContext& ctx, const Tensor& x, const Tensor* gamma, Tensor& out,
              float eps = 1e-6f);

}  // namespace chatterd::ops
