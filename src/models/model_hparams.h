#pragma once
// Every component config of one model, and the rule that fills them: built-in defaults of the
// variant (= the real checkpoints), overridden by `hparams.json` in the model directory when
// present (one top-level object per component: t3, ve, campplus, s3tokenizer, s3gen).

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/campplus/campplus_config.h"
#include "models/s3gen/s3gen_config.h"
#include "models/s3tokenizer/s3tokenizer_config.h"
#include "models/t3/t3_config.h"
#include "models/tensor_spec.h"
#include "models/variant.h"
#include "models/voice/voice_encoder_config.h"

namespace chatterd {

inline constexpr const char* kHparamsFileName = "hparams.json";

struct ModelHparams {
  Variant variant = Variant::English;
  T3Config t3;
  VoiceEncoderConfig ve;
  S3GenConfig s3gen;
  CampPlusConfig campplus;
  S3TokenizerConfig s3tokenizer;

  static ModelHparams defaults(Variant variant);
  // defaults(variant) overridden by the component objects present in `j` (absent ones keep the
  // defaults). Throws ModelFormatError naming the component and field on any problem.
  static ModelHparams from_json(const nlohmann::json& j, Variant variant);
  std::vector<std::string> validate() const;  // problems, prefixed with the component name
  std::string to_string() const;
};

// defaults(variant), overridden by `dir`/hparams.json when that file exists. Throws IoError when
// it exists but cannot be read and ModelFormatError when it is not valid JSON or has bad values.
ModelHparams load_hparams(const std::filesystem::path& dir, Variant variant);

// Everything an s3gen checkpoint holds, in the reference's state_dict order: tokenizer.*
// (S3Tokenizer), speaker_encoder.* (CAMPPlus), flow.*, mel2wav.* (HiFT).
std::vector<TensorSpec> s3gen_file_tensor_specs(const ModelHparams& hp);

}  // namespace chatterd
