#pragma once
// Rotary position embedding, HF Llama style: rotate-half (the two halves of each head are the
// pair), cos/sin of cat(freqs, freqs), optional llama3 frequency scaling.

#include <cstdint>
#include <optional>
#include <vector>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

// HF `rope_type: llama3` (`_compute_llama3_parameters`).
struct Llama3RopeScaling {
  float factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  std::int64_t original_max_position = 8192;
};

struct RopeConfig {
  std::int64_t head_dim = 64;  // even
  float theta = 10000.0f;
  std::optional<Llama3RopeScaling> llama3;  // nullopt: no scaling
};

// The head_dim/2 inverse frequencies, computed in f32 exactly as HF does.
std::vector<float> rope_inv_freq(const RopeConfig& config);

// cos/sin of position * inv_freq for positions [0, n_positions): each [n_positions, head_dim/2]
// (the second half of HF's cat(freqs, freqs) table is the same numbers).
struct RopeTable {
  std::int64_t head_dim = 0;
  Tensor cos;  // f32 [n_positions, head_dim/2]
  Tensor sin;  // f32 [n_positions, head_dim/2]
  std::int64_t n_positions() const { return cos.defined() && cos.rank() == 2 ? cos.dim(0) : 0; }
};

RopeTable build_rope_table(const RopeConfig& config, std::int64_t n_positions);
// The same table on ctx's CUDA device (for apply_rope on device tensors).
RopeTable rope_table_to_device(const ExecContext& ctx, const RopeTable& table);

// In place on x: f32 [T, H, head_dim]; token t gets position start_position + t. On the CUDA
// device when x is (the table must be there too: rope_table_to_device).
void apply_rope(const ExecContext& ctx, Tensor& x, std::int64_t start_position,
                const RopeTable& table);
// Same with explicit positions: i32 or i64 [T] (on the device: i32 device positions, which it
// cannot check: a position outside the table leaves its token unrotated).
void apply_rope(const ExecContext& ctx, Tensor& x, const Tensor& positions, const RopeTable& table);

}  // namespace chatterd::ops
