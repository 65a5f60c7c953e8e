#pragma once
// Relative-position helpers of ESPnet's "new" rel-pos attention (RelPositionMultiHeadedAttention
// with EspnetRelPositionalEncoding), used by the S3Gen conformer encoder.

#include <cstdint>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// The sinusoid table for a sequence of length T: f32 [2T - 1, d_model]; row r encodes the
// relative position p = T - 1 - r (from +(T-1) down to -(T-1)): even columns sin(p w_k), odd
// columns cos(p w_k), w_k = exp(2k * -(ln 10000 / d_model)), all in f32 like the reference.
Tensor espnet_rel_pos_table(std::int64_t length, std::int64_t d_model);

// torch's rel_shift (zero-pad a column, reshape, drop a row, keep the first T columns):
// bd [..., T, 2T - 1] -> out [..., T, T] with out[i][j] = bd[i][T - 1 - i + j], i.e. the score of
// query i and key j reads relative position i - j.
void rel_shift(const ExecContext& ctx, const Tensor& bd, Tensor& out);

}  // namespace chatterd::ops
