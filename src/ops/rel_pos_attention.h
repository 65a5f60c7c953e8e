#pragma once
// The score, softmax and value stages of ESPnet's relative-position attention (the S3Gen conformer
// encoder's RelPositionMultiHeadedAttention) over one unpadded sequence, per head h:
//   scores[i, j] = ((q_i + u_h) . k_j + (q_i + v_h) . p_{T-1-i+j}) / sqrt(d_k)
//   out_i = softmax_j(scores[i, :]) . v
// (the second term is torch's rel_shift of (q + v) p^T, fused here).

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// q, k, v f32 [T, heads x d_k]; p f32 [2T - 1, heads x d_k] (linear_pos of the table);
// bias_u, bias_v f32 [heads, d_k]; out f32 [T, heads x d_k] (sized here). Host or CUDA (every
// operand on one device; the CUDA kernel keeps a row's T scores in shared memory, so T up to
// about 11,700 frames: the encoder's longest input, 4096 tokens, makes 8192).
void rel_pos_attention(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& p, const Tensor& bias_u, const Tensor& bias_v,
                       std::int64_t heads, Tensor& out);

}  // namespace chatterd::ops
