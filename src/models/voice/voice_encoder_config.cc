#include "models/voice/voice_encoder_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/json_fields.h"

namespace chatterd {

VoiceEncoderConfig VoiceEncoderConfig::from_json(const nlohmann::json& j,
                                                 const VoiceEncoderConfig& base) {
  VoiceEncoderConfig c = base;
  const json_fields::Reader r(j, "ve");
  if (const auto* cfg = r.object("config")) {
    const auto cr = r.child(*cfg, "config");
    cr.read("num_mels", c.num_mels);
    cr.read("ve_hidden_size", c.hidden_size);
    cr.read("speaker_embed_size", c.embed_size);
    cr.read("ve_final_relu", c.final_relu);
    cr.read("ve_partial_frames", c.partial_frames);
    cr.read("sample_rate", c.sample_rate_hz);
    cr.read("n_fft", c.n_fft);
    cr.read("hop_size", c.hop_size);
    cr.read("win_size", c.win_size);
    cr.read("fmin", c.fmin_hz);
    cr.read("fmax", c.fmax_hz);
  }
  if (const auto* lstm = r.object("lstm")) {
    const auto lr = r.child(*lstm, "lstm");
    lr.read("input_size", c.num_mels);
    lr.read("hidden_size", c.hidden_size);
    lr.read("num_layers", c.num_layers);
    bool bias = true;
    lr.read("bias", bias);
    if (!bias) lr.fail("bias", "LSTM without biases is not supported");
  }
  if (const auto* proj = r.object("proj")) {
    const auto pr = r.child(*proj, "proj");
    std::int64_t in = c.hidden_size;
    pr.read("in", in);
    if (in != c.hidden_size) {
      pr.fail("in", fmt::format("{} differs from the LSTM hidden size {}", in, c.hidden_size));
    }
    pr.read("out", c.embed_size);
  }
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), ModelFormatError, "invalid VoiceEncoder config: {}",
                 json_fields::join_problems(problems));
  return c;
}

std::vector<std::string> VoiceEncoderConfig::validate() const {
  std::vector<std::string> p;
  auto positive = [&](std::int64_t v, const char* name) {
    if (v <= 0) p.push_back(fmt::format("{} must be > 0, got {}", name, v));
  };
  positive(num_mels, "num_mels");
  positive(hidden_size, "hidden_size");
  positive(num_layers, "num_layers");
  positive(embed_size, "embed_size");
  positive(partial_frames, "partial_frames");
  positive(sample_rate_hz, "sample_rate_hz");
  positive(n_fft, "n_fft");
  positive(hop_size, "hop_size");
  positive(win_size, "win_size");
  if (win_size > n_fft) p.push_back(fmt::format("win_size {} > n_fft {}", win_size, n_fft));
  if (!(fmin_hz >= 0 && fmax_hz > fmin_hz)) {
    p.push_back(fmt::format("need 0 <= fmin ({}) < fmax ({})", fmin_hz, fmax_hz));
  }
  return p;
}

std::string VoiceEncoderConfig::to_string() const {
  return fmt::format(
      "VoiceEncoderConfig{{mels={}, lstm={}x{}, embed={}, final_relu={}, partial_frames={}, "
      "sr={}, n_fft={}, hop={}, win={}, fmin={}, fmax={}}}",
      num_mels, num_layers, hidden_size, embed_size, final_relu, partial_frames, sample_rate_hz,
      n_fft, hop_size, win_size, fmin_hz, fmax_hz);
}

std::vector<TensorSpec> voice_encoder_tensor_specs(const VoiceEncoderConfig& c) {
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument,
                 "voice_encoder_tensor_specs: invalid config: {}",
                 json_fields::join_problems(problems));
  TensorSpecList s;
  s.add("similarity_weight", {1});
  s.unused();
  s.add("similarity_bias", {1});
  s.unused();
  const std::int64_t g = 4 * c.hidden_size;  // PyTorch gates i, f, g, o
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    s.add(fmt::format("lstm.weight_ih_l{}", l), {g, l == 0 ? c.num_mels : c.hidden_size});
    s.add(fmt::format("lstm.weight_hh_l{}", l), {g, c.hidden_size});
    s.add(fmt::format("lstm.bias_ih_l{}", l), {g});
    s.add(fmt::format("lstm.bias_hh_l{}", l), {g});
  }
  s.linear("proj", c.embed_size, c.hidden_size);
  return s.take();
}

}  // namespace chatterd
