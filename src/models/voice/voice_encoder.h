#pragma once
// VoiceEncoder (Resemble's GE2E-style LSTM speaker encoder, reference
// models/voice_encoder/voice_encoder.py): the T3 speaker embedding of a reference clip.
//   mel (T, num_mels) linear power mel -> overlapping partials of partial_frames rows
//   -> num_layers LSTM -> final hidden of the top layer -> Linear -> ReLU -> L2 normalise
//   -> mean over partials -> L2 normalise -> (1, embed_size).
// The mel itself (trim + STFT + mel bank) is produced in src/audio/.

#include <cstdint>
#include <vector>

#include "chatterd/core/tensor.h"
#include "layers/linear.h"
#include "models/voice/voice_encoder_config.h"
#include "ops/exec_context.h"
#include "ops/lstm.h"
#include "weights/weight_store.h"

namespace chatterd {

// How a mel of n_frames rows is cut into partials (reference get_frame_step / get_num_wins).
struct VoicePartials {
  std::int64_t count = 0;       // number of partials (>= 1)
  std::int64_t step = 0;        // frames between partial starts
  std::int64_t target_len = 0;  // mel rows used: zero-padded or cut to this length
};

// Partial options of `embeds_from_wavs` (Chatterbox passes rate 1.3 -> step 77 frames).
struct VoicePartialOptions {
  double rate = 1.3;  // partials per second; <= 0 means "use overlap instead"
  double overlap = 0.5;
  double min_coverage = 0.8;
};

// Throws InvalidArgument when n_frames <= 0 or an option is out of range.
VoicePartials voice_partials(std::int64_t n_frames, const VoiceEncoderConfig& config,
                             const VoicePartialOptions& options = {});

class VoiceEncoder {
 public:
  // Reads `<prefix>lstm.*` and `<prefix>proj.*` (prefix "" for ve.safetensors / ve.pt).
  VoiceEncoder(const WeightStore& store, const VoiceEncoderConfig& config,
               std::string_view prefix = "");

  const VoiceEncoderConfig& config() const { return config_; }

  // mel: f32 (T, num_mels) (or (1, T, num_mels)), T >= 1 -> f32 (n_partials, embed_size), each
  // row L2-normalised.
  Tensor partial_embeds(const ExecContext& ctx, const Tensor& mel,
                        const VoicePartialOptions& options = {}) const;
  // Speaker embedding: f32 (1, embed_size), the L2-normalised mean of partial_embeds.
  Tensor embed(const ExecContext& ctx, const Tensor& mel,
               const VoicePartialOptions& options = {}) const;
  // Same from already computed partial embeddings (n, embed_size).
  static Tensor reduce_partials(const Tensor& partial_embeds);

 private:
  VoiceEncoderConfig config_;
  std::vector<ops::LstmLayerWeights> lstm_;
  layers::Linear proj_;
};

}  // namespace chatterd
