#pragma once
// S3TokenizerV2 (speech -> 25 Hz tokens), stored in the s3gen checkpoint under `tokenizer.`.
// Defaults = the real model (tests/fixtures/manifests/s3tokenizer.json).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/tensor_spec.h"

namespace chatterd {

struct S3TokenizerConfig {
  std::int64_t n_mels = 128;            // log-mel bins
  std::int64_t n_audio_state = 1280;    // encoder width
  std::int64_t n_audio_head = 20;       // attention heads
  std::int64_t n_audio_layer = 6;       // encoder blocks
  std::int64_t n_audio_ctx = 1500;      // max encoder frames per window
  std::int64_t codebook_size = 6561;    // FSQ codebook (3^fsq_dim)
  std::int64_t fsq_dim = 8;             // FSQ projection width
  std::int64_t fsmn_kernel = 31;        // depthwise FSMN memory kernel
  std::int64_t mlp_mult = 4;            // MLP inner = mlp_mult x n_audio_state
  std::int64_t sample_rate_hz = 16000;  // input audio rate
  std::int64_t n_fft = 400;             // STFT size (window buffer length)
  std::int64_t hop = 160;               // STFT hop (samples)

  static S3TokenizerConfig from_json(const nlohmann::json& j, const S3TokenizerConfig& base);
  std::vector<std::string> validate() const;
  std::string to_string() const;
};

// tokenizer.* tensors in state_dict order; _mel_filters and window are Optional (recomputed).
std::vector<TensorSpec> s3tokenizer_tensor_specs(const S3TokenizerConfig& config);

}  // namespace chatterd
