#pragma once
// S3TokenizerV2 (speech_tokenizer_v2_25hz; reference s3tokenizer/model_v2.py + Chatterbox's
// S3Tokenizer.forward): 128-bin log-mel at 100 Hz -> 25 Hz speech tokens in [0, 3^8).
//   conv1 (k3 s2 p1) + GELU, conv2 (k3 s2 p1) + GELU -> T' = ceil(ceil(T/2)/2) frames
//   -> n_audio_layer blocks: x += FSMN-attention(LN(x, 1e-6)); x += MLP(LN(x, 1e-5))
//   -> FSQ: Linear -> 8, tanh, x 0.999, round half to even, +1, base-3 digits.
// Attention: query/value/out with bias, key without; rotate-half RoPE (theta 10000) whose table
// the reference builds for dim 64 whatever the model, so head_dim must be 64; q and k are each
// scaled by head_dim^-1/4 before QK^T; the FSMN memory (depthwise conv over v, + v) is added
// after the output projection. The log-mel itself is produced in src/audio/.

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "models/s3tokenizer/s3tokenizer_config.h"
#include "ops/exec_context.h"
#include "ops/rope.h"
#include "weights/weight_store.h"

namespace chatterd {

// The RoPE width the reference hard-codes (precompute_freqs_cis(64, 2048)) and its table length.
inline constexpr std::int64_t kS3RopeDim = 64;
inline constexpr std::int64_t kS3RopePositions = 2048;
// Mel frames above which the reference switches to its 30 s sliding-window path (not ported).
inline constexpr std::int64_t kS3MaxSingleWindowFrames = 3000;
// tanh output scale before rounding (float32 0.999 as the reference writes it).
inline constexpr float kFsqScale = 0.9990000128746033f;

// One FSQ digit in {0, 1, 2} from a tanh output: rint(t * kFsqScale) + 1, where std::nearbyint
// (default rounding mode) rounds half to even like torch.round: 0.5 -> 0, not 1.
inline int s3_fsq_digit(float tanh_value) {
  return static_cast<int>(std::nearbyint(tanh_value * kFsqScale)) + 1;
}

// FSQ code of h f32 [N, fsq_dim] (the project_down output, before tanh): out i32 [N] with
// token = sum_i (rint(tanh(h_i) * kFsqScale) + 1) * 3^i, rint = round half to even.
void s3_fsq_encode(const ExecContext& ctx, const Tensor& h, Tensor& out);

class S3Tokenizer {
 public:
  // Reads `<prefix>encoder.*` and `<prefix>quantizer.*` (prefix "tokenizer." in s3gen files).
  // Throws Unsupported when head_dim != kS3RopeDim (the reference cannot run such a model).
  S3Tokenizer(const WeightStore& store, const S3TokenizerConfig& config,
              std::string_view prefix = "tokenizer.");

  const S3TokenizerConfig& config() const { return config_; }

  // Encoder frames for T mel frames: two k3 s2 p1 convs.
  static std::int64_t encoded_length(std::int64_t mel_frames);

  // log_mel: f32 (n_mels, T) or (1, n_mels, T). With max_len, only the first 4 * max_len frames
  // are used (Chatterbox's T3 prompt). Returns i32 (1, T') tokens. Throws InvalidArgument for
  // T == 0 or max_len <= 0, Unsupported above kS3MaxSingleWindowFrames frames.
  Tensor tokenize(const ExecContext& ctx, const Tensor& log_mel,
                  std::optional<std::int64_t> max_len = std::nullopt) const;

  // The encoder output before FSQ, f32 (T', n_audio_state), for tests.
  Tensor encode(const ExecContext& ctx, const Tensor& log_mel,
                std::optional<std::int64_t> max_len = std::nullopt) const;

 private:
  struct Block {
    layers::LayerNorm attn_ln;
    layers::Linear query, key, value, out;
    Tensor fsmn;  // f32 [D, 1, K] depthwise
    layers::LayerNorm mlp_ln;
    layers::Linear mlp1, mlp2;
  };
  void block_forward(const ExecContext& ctx, const Block& b, Tensor& x) const;

  S3TokenizerConfig config_;
  Tensor conv1_w_, conv1_b_, conv2_w_, conv2_b_;
  std::vector<Block> blocks_;
  layers::Linear project_down_;
  ops::RopeTable rope_;
};

}  // namespace chatterd
