#include "models/s3tokenizer/s3tokenizer_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/json_fields.h"

namespace chatterd {

S3TokenizerConfig S3TokenizerConfig::from_json(const nlohmann::json& j,
                                               const S3TokenizerConfig& base) {
  S3TokenizerConfig c = base;
  const json_fields::Reader r(j, "s3tokenizer");
  if (const auto* m = r.object("model_config")) {
    const auto mr = r.child(*m, "model_config");
    mr.read("n_mels", c.n_mels);
    mr.read("n_audio_ctx", c.n_audio_ctx);
    mr.read("n_audio_state", c.n_audio_state);
    mr.read("n_audio_head", c.n_audio_head);
    mr.read("n_audio_layer", c.n_audio_layer);
    mr.read("n_codebook_size", c.codebook_size);
  }
  if (const auto* f = r.object("fsmn")) r.child(*f, "fsmn").read("kernel_size", c.fsmn_kernel);
  if (const auto* m = r.object("mel")) {
    const auto mr = r.child(*m, "mel");
    mr.read("n_fft", c.n_fft);
    mr.read("hop", c.hop);
  }
  if (const auto* rates = r.object("rates")) {
    r.child(*rates, "rates").read("sample_rate", c.sample_rate_hz);
  }
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), ModelFormatError, "invalid S3Tokenizer config: {}",
                 json_fields::join_problems(problems));
  return c;
}

std::vector<std::string> S3TokenizerConfig::validate() const {
  std::vector<std::string> p;
  auto positive = [&](std::int64_t v, const char* name) {
    if (v <= 0) p.push_back(fmt::format("{} must be > 0, got {}", name, v));
  };
  positive(n_mels, "n_mels");
  positive(n_audio_state, "n_audio_state");
  positive(n_audio_head, "n_audio_head");
  positive(n_audio_layer, "n_audio_layer");
  positive(n_audio_ctx, "n_audio_ctx");
  positive(fsq_dim, "fsq_dim");
  positive(fsmn_kernel, "fsmn_kernel");
  positive(mlp_mult, "mlp_mult");
  positive(sample_rate_hz, "sample_rate_hz");
  positive(n_fft, "n_fft");
  positive(hop, "hop");
  if (n_audio_head > 0 && n_audio_state % n_audio_head != 0) {
    p.push_back(fmt::format("n_audio_head {} does not divide n_audio_state {}", n_audio_head,
                            n_audio_state));
  }
  std::int64_t levels = 1;
  for (std::int64_t i = 0; i < fsq_dim && i < 40; ++i) levels *= 3;
  if (codebook_size != levels) {
    p.push_back(fmt::format("codebook_size {} must be 3^fsq_dim = {}", codebook_size, levels));
  }
  if (fsmn_kernel % 2 != 1) p.push_back(fmt::format("fsmn_kernel {} must be odd", fsmn_kernel));
  return p;
}

std::string S3TokenizerConfig::to_string() const {
  return fmt::format(
      "S3TokenizerConfig{{mels={}, state={}, heads={}, layers={}, ctx={}, codebook={}, fsq_dim={}, "
      "fsmn_kernel={}, sr={}, n_fft={}, hop={}}}",
      n_mels, n_audio_state, n_audio_head, n_audio_layer, n_audio_ctx, codebook_size, fsq_dim,
      fsmn_kernel, sample_rate_hz, n_fft, hop);
}

std::vector<TensorSpec> s3tokenizer_tensor_specs(const S3TokenizerConfig& c) {
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "s3tokenizer_tensor_specs: invalid config: {}",
                 json_fields::join_problems(problems));
  const std::int64_t d = c.n_audio_state;
  TensorSpecList s("tokenizer.");
  s.add("_mel_filters", {c.n_mels, c.n_fft / 2 + 1});
  s.optional();
  s.add("window", {c.n_fft});
  s.optional();
  s.conv1d("encoder.conv1", d, c.n_mels, 3);
  s.conv1d("encoder.conv2", d, d, 3);
  for (std::int64_t i = 0; i < c.n_audio_layer; ++i) {
    const std::string b = fmt::format("encoder.blocks.{}", i);
    s.linear(b + ".attn.query", d, d);
    s.linear(b + ".attn.key", d, d, /*bias=*/false);
    s.linear(b + ".attn.value", d, d);
    s.linear(b + ".attn.out", d, d);
    s.add(b + ".attn.fsmn_block.weight", {d, 1, c.fsmn_kernel});
    s.layer_norm(b + ".attn_ln", d);
    s.linear(b + ".mlp.0", c.mlp_mult * d, d);
    s.linear(b + ".mlp.2", d, c.mlp_mult * d);
    s.layer_norm(b + ".mlp_ln", d);
  }
  s.linear("quantizer._codebook.project_down", c.fsq_dim, d);
  return s.take();
}

}  // namespace chatterd
