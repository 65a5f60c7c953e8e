#pragma once
// VoiceEncoder (speaker embedding for T3) hyper-parameters; defaults = the real ve.safetensors
// (tests/fixtures/manifests/ve.json `hparams`).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/tensor_spec.h"

namespace chatterd {

struct VoiceEncoderConfig {
  std::int64_t num_mels = 40;           // LSTM input width (linear power mel bins)
  std::int64_t hidden_size = 256;       // LSTM hidden width
  std::int64_t num_layers = 3;          // stacked LSTM layers
  std::int64_t embed_size = 256;        // output speaker embedding width (proj out)
  bool final_relu = true;               // ReLU after proj, before L2 normalisation
  std::int64_t partial_frames = 160;    // mel frames per partial utterance
  std::int64_t sample_rate_hz = 16000;  // input audio rate
  std::int64_t n_fft = 400;             // STFT size (samples)
  std::int64_t hop_size = 160;          // STFT hop (samples)
  std::int64_t win_size = 400;          // STFT window (samples)
  double fmin_hz = 0.0;                 // lowest mel band edge
  double fmax_hz = 8000.0;              // highest mel band edge

  // `base` overridden by a manifest `hparams` / hparams.json `ve` object. Throws ModelFormatError.
  static VoiceEncoderConfig from_json(const nlohmann::json& j, const VoiceEncoderConfig& base);
  std::vector<std::string> validate() const;
  std::string to_string() const;
};

// ve.safetensors / ve.pt tensors in state_dict order.
std::vector<TensorSpec> voice_encoder_tensor_specs(const VoiceEncoderConfig& config);

}  // namespace chatterd
