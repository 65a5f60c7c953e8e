#include "models/s3gen/s3gen_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/json_fields.h"

namespace chatterd {

S3GenConfig S3GenConfig::defaults(Variant variant) {
  S3GenConfig c;
  if (!is_turbo_family(variant)) {
    c.meanflow = false;
    c.n_cfm_timesteps = 10;
  }
  return c;
}

S3GenConfig S3GenConfig::from_json(const nlohmann::json& j, const S3GenConfig& base) {
  S3GenConfig c = base;
  const json_fields::Reader r(j, "s3gen");
  r.read("meanflow", c.meanflow);
  r.read("sampling_rate", c.sampling_rate_hz);
  r.read("silence_token", c.silence_token);
  r.read("n_cfm_timesteps_default", c.n_cfm_timesteps);
  if (const auto* f = r.object("flow")) {
    const auto fr = r.child(*f, "flow");
    if (const auto* a = fr.object("ctor_args")) {
      const auto ar = fr.child(*a, "ctor_args");
      ar.read("input_size", c.encoder.input_size);
      ar.read("output_size", c.mel_bins);
      ar.read("spk_embed_dim", c.spk_embed_dim);
      ar.read("vocab_size", c.vocab_size);
      ar.read("token_mel_ratio", c.token_mel_ratio);
      ar.read("pre_lookahead_len", c.encoder.pre_lookahead_len);
    }
  }
  if (const auto* e = r.object("encoder")) {
    const auto er = r.child(*e, "encoder");
    auto& enc = c.encoder;
    if (const auto* a = er.object("ctor_args")) {
      const auto ar = er.child(*a, "ctor_args");
      ar.read("input_size", enc.input_size);
      ar.read("output_size", enc.output_size);
      ar.read("attention_heads", enc.attention_heads);
      ar.read("linear_units", enc.linear_units);
      ar.read("num_blocks", enc.num_blocks);
      ar.read("key_bias", enc.key_bias);
      bool flag = false;
      ar.read("macaron_style", flag);
      if (flag) ar.fail("macaron_style", "macaron FFN is not supported");
      ar.read("use_cnn_module", flag);
      if (flag) ar.fail("use_cnn_module", "the conformer conv module is not supported");
    }
    er.read("num_up_blocks", enc.num_up_blocks);
    if (const auto* eps = er.object("layer_norm_eps")) {
      const auto lr = er.child(*eps, "layer_norm_eps");
      lr.read("norm_mha", enc.layer_norm_eps);
      lr.read("after_norm", enc.embed_norm_eps);
    }
    if (const auto* up = er.object("up_layer")) {
      er.child(*up, "up_layer").read("stride", enc.up_stride);
    }
  }
  if (const auto* cfm = r.object("cfm"))
    r.child(*cfm, "cfm").read("inference_cfg_rate", c.inference_cfg_rate);
  if (const auto* e = r.object("estimator")) {
    const auto er = r.child(*e, "estimator");
    auto& est = c.estimator;
    if (const auto* a = er.object("ctor_args")) {
      const auto ar = er.child(*a, "ctor_args");
      ar.read("in_channels", est.in_channels);
      ar.read("out_channels", est.out_channels);
      std::vector<std::int64_t> channels = {est.channels};
      ar.read("channels", channels);
      if (channels.size() != 1) {
        ar.fail("channels", fmt::format("only a one-level UNet is supported, got [{}]",
                                        fmt::join(channels, ", ")));
      }
      est.channels = channels[0];
      ar.read("attention_head_dim", est.attention_head_dim);
      ar.read("n_blocks", est.n_blocks);
      ar.read("num_mid_blocks", est.num_mid_blocks);
      ar.read("num_heads", est.num_heads);
      bool meanflow = c.meanflow;
      ar.read("meanflow", meanflow);
      if (meanflow != c.meanflow) {
        ar.fail("meanflow",
                fmt::format("{} disagrees with s3gen.meanflow {}", meanflow, c.meanflow));
      }
    }
    er.read("time_embed_dim", est.time_embed_dim);
    if (const auto* t = er.object("transformer")) {
      const auto tr = er.child(*t, "transformer");
      if (const auto* ff = tr.object("ff")) tr.child(*ff, "ff").read("mult", est.ff_mult);
    }
  }
  if (const auto* h = r.object("hift")) {
    const auto hr = r.child(*h, "hift");
    auto& hift = c.hift;
    if (const auto* a = hr.object("ctor_args")) {
      const auto ar = hr.child(*a, "ctor_args");
      ar.read("in_channels", hift.in_channels);
      ar.read("base_channels", hift.base_channels);
      ar.read("nb_harmonics", hift.nb_harmonics);
      ar.read("sampling_rate", hift.sampling_rate_hz);
      ar.read("nsf_alpha", hift.nsf_alpha);
      ar.read("nsf_sigma", hift.nsf_sigma);
      ar.read("nsf_voiced_threshold", hift.nsf_voiced_threshold);
      ar.read("upsample_rates", hift.upsample_rates);
      ar.read("upsample_kernel_sizes", hift.upsample_kernel_sizes);
      ar.read("resblock_kernel_sizes", hift.resblock_kernel_sizes);
      ar.read("resblock_dilation_sizes", hift.resblock_dilation_sizes);
      ar.read("source_resblock_kernel_sizes", hift.source_resblock_kernel_sizes);
      ar.read("source_resblock_dilation_sizes", hift.source_resblock_dilation_sizes);
      ar.read("lrelu_slope", hift.lrelu_slope);
      ar.read("audio_limit", hift.audio_limit);
      if (const auto* istft = ar.object("istft_params")) {
        const auto ir = ar.child(*istft, "istft_params");
        ir.read("n_fft", hift.istft_n_fft);
        ir.read("hop_len", hift.istft_hop);
      }
    }
    if (const auto* pre = hr.object("conv_pre"))
      hr.child(*pre, "conv_pre").read("kernel", hift.conv_pre_kernel);
    if (const auto* post = hr.object("conv_post"))
      hr.child(*post, "conv_post").read("kernel", hift.conv_post_kernel);
  }
  if (const auto* f0 = r.object("f0_predictor")) {
    const auto fr = r.child(*f0, "f0_predictor");
    if (const auto* a = fr.object("ctor_args")) {
      const auto ar = fr.child(*a, "ctor_args");
      std::int64_t in = c.hift.in_channels;
      ar.read("in_channels", in);
      if (in != c.hift.in_channels) {
        ar.fail("in_channels",
                fmt::format("{} differs from hift.in_channels {}", in, c.hift.in_channels));
      }
      ar.read("cond_channels", c.hift.f0_cond_channels);
    }
    fr.read("num_conv_layers", c.hift.f0_num_conv_layers);
    if (const auto* conv = fr.object("conv"))
      fr.child(*conv, "conv").read("kernel", c.hift.f0_kernel);
  }
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), ModelFormatError, "invalid S3Gen config: {}",
                 json_fields::join_problems(problems));
  return c;
}

std::vector<std::string> S3GenConfig::validate() const {
  std::vector<std::string> p;
  auto positive = [&](std::int64_t v, const char* name) {
    if (v <= 0) p.push_back(fmt::format("{} must be > 0, got {}", name, v));
  };
  positive(sampling_rate_hz, "sampling_rate_hz");
  positive(n_cfm_timesteps, "n_cfm_timesteps");
  positive(vocab_size, "vocab_size");
  positive(mel_bins, "mel_bins");
  positive(spk_embed_dim, "spk_embed_dim");
  positive(token_mel_ratio, "token_mel_ratio");
  if (silence_token < 0 || silence_token >= vocab_size) {
    p.push_back(
        fmt::format("silence_token {} outside [0, vocab_size = {})", silence_token, vocab_size));
  }
  const auto& e = encoder;
  positive(e.input_size, "encoder.input_size");
  positive(e.output_size, "encoder.output_size");
  positive(e.attention_heads, "encoder.attention_heads");
  positive(e.linear_units, "encoder.linear_units");
  positive(e.num_blocks, "encoder.num_blocks");
  positive(e.num_up_blocks, "encoder.num_up_blocks");
  positive(e.pre_lookahead_len, "encoder.pre_lookahead_len");
  positive(e.up_stride, "encoder.up_stride");
  if (e.attention_heads > 0 && e.output_size % e.attention_heads != 0) {
    p.push_back(fmt::format("encoder.attention_heads {} does not divide output_size {}",
                            e.attention_heads, e.output_size));
  }
  if (e.input_size != e.output_size) {
    // up_embed applies Linear(input_size, output_size) to output_size features.
    p.push_back(fmt::format("encoder.input_size {} must equal output_size {}", e.input_size,
                            e.output_size));
  }
  if (!(e.layer_norm_eps > 0 && e.embed_norm_eps > 0)) p.push_back("encoder norm eps must be > 0");
  const auto& s = estimator;
  positive(s.in_channels, "estimator.in_channels");
  positive(s.out_channels, "estimator.out_channels");
  positive(s.channels, "estimator.channels");
  positive(s.attention_head_dim, "estimator.attention_head_dim");
  positive(s.num_heads, "estimator.num_heads");
  positive(s.n_blocks, "estimator.n_blocks");
  if (s.num_mid_blocks < 0) p.push_back("estimator.num_mid_blocks must be >= 0");
  positive(s.time_embed_dim, "estimator.time_embed_dim");
  positive(s.ff_mult, "estimator.ff_mult");
  if (s.in_channels != 4 * mel_bins) {
    p.push_back(fmt::format("estimator.in_channels {} must be 4 x mel_bins = {}", s.in_channels,
                            4 * mel_bins));
  }
  if (s.out_channels != mel_bins) {
    p.push_back(
        fmt::format("estimator.out_channels {} must equal mel_bins {}", s.out_channels, mel_bins));
  }
  const auto& h = hift;
  positive(h.in_channels, "hift.in_channels");
  positive(h.base_channels, "hift.base_channels");
  positive(h.nb_harmonics, "hift.nb_harmonics");
  positive(h.istft_n_fft, "hift.istft_n_fft");
  positive(h.istft_hop, "hift.istft_hop");
  positive(h.conv_pre_kernel, "hift.conv_pre_kernel");
  positive(h.conv_post_kernel, "hift.conv_post_kernel");
  positive(h.f0_cond_channels, "hift.f0_cond_channels");
  positive(h.f0_num_conv_layers, "hift.f0_num_conv_layers");
  positive(h.f0_kernel, "hift.f0_kernel");
  if (h.in_channels != mel_bins) {
    p.push_back(fmt::format("hift.in_channels {} must equal mel_bins {}", h.in_channels, mel_bins));
  }
  if (h.istft_n_fft % 2 != 0)
    p.push_back(fmt::format("hift.istft_n_fft {} must be even", h.istft_n_fft));
  const std::size_t stages = h.upsample_rates.size();
  if (stages == 0) p.push_back("hift.upsample_rates is empty");
  if (h.upsample_kernel_sizes.size() != stages) {
    p.push_back(fmt::format("hift.upsample_kernel_sizes has {} entries, upsample_rates {}",
                            h.upsample_kernel_sizes.size(), stages));
  }
  if (h.source_resblock_kernel_sizes.size() != stages ||
      h.source_resblock_dilation_sizes.size() != stages) {
    p.push_back(
        fmt::format("hift.source_resblock_* need one entry per upsample stage ({})", stages));
  }
  if (h.resblock_kernel_sizes.empty() ||
      h.resblock_dilation_sizes.size() != h.resblock_kernel_sizes.size()) {
    p.push_back(
        "hift.resblock_kernel_sizes and resblock_dilation_sizes must be non-empty and "
        "the same length");
  }
  for (std::size_t i = 0; i < stages; ++i) {
    if (h.upsample_rates[i] <= 0)
      p.push_back(fmt::format("hift.upsample_rates[{}] must be > 0", i));
    if (i < h.upsample_kernel_sizes.size() && h.upsample_kernel_sizes[i] < h.upsample_rates[i]) {
      p.push_back(fmt::format("hift.upsample_kernel_sizes[{}] {} < rate {}", i,
                              h.upsample_kernel_sizes[i], h.upsample_rates[i]));
    }
  }
  if (stages > 0 && stages < 31 && h.base_channels % (std::int64_t{1} << stages) != 0) {
    p.push_back(
        fmt::format("hift.base_channels {} must be divisible by 2^{}", h.base_channels, stages));
  }
  return p;
}

std::string S3GenConfig::to_string() const {
  const auto& e = encoder;
  const auto& s = estimator;
  const auto& h = hift;
  return fmt::format(
      "S3GenConfig{{meanflow={}, sr={}, steps={}, cfg_rate={}, vocab={}, mel_bins={}, "
      "spk_embed={}, encoder=(in {}, d {}, heads {}, ffn {}, blocks {}+{}), estimator=(C {}, "
      "heads {}x{}, blocks {}, mid {}, time {}), hift=(base {}, harmonics {}, rates [{}], "
      "kernels [{}], resblocks [{}], istft {}/{}, f0 {}x{})}}",
      meanflow, sampling_rate_hz, n_cfm_timesteps, inference_cfg_rate, vocab_size, mel_bins,
      spk_embed_dim, e.input_size, e.output_size, e.attention_heads, e.linear_units, e.num_blocks,
      e.num_up_blocks, s.channels, s.num_heads, s.attention_head_dim, s.n_blocks, s.num_mid_blocks,
      s.time_embed_dim, h.base_channels, h.nb_harmonics, fmt::join(h.upsample_rates, ", "),
      fmt::join(h.upsample_kernel_sizes, ", "), fmt::join(h.resblock_kernel_sizes, ", "),
      h.istft_n_fft, h.istft_hop, h.f0_num_conv_layers, h.f0_cond_channels);
}

namespace {

void check_valid(const S3GenConfig& c, const char* what) {
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "{}: invalid config: {}", what,
                 json_fields::join_problems(problems));
}

void conformer_layer(TensorSpecList& s, const std::string& l, const ConformerEncoderConfig& e) {
  const std::int64_t d = e.output_size;
  const std::int64_t dk = d / e.attention_heads;
  s.add(l + ".self_attn.pos_bias_u", {e.attention_heads, dk});
  s.add(l + ".self_attn.pos_bias_v", {e.attention_heads, dk});
  s.linear(l + ".self_attn.linear_q", d, d);
  s.linear(l + ".self_attn.linear_k", d, d, e.key_bias);
  s.linear(l + ".self_attn.linear_v", d, d);
  s.linear(l + ".self_attn.linear_out", d, d);
  s.linear(l + ".self_attn.linear_pos", d, d, /*bias=*/false);
  s.linear(l + ".feed_forward.w_1", e.linear_units, d);
  s.linear(l + ".feed_forward.w_2", d, e.linear_units);
  s.layer_norm(l + ".norm_ff", d);
  s.layer_norm(l + ".norm_mha", d);
}

void causal_block(TensorSpecList& s, const std::string& b, std::int64_t in, std::int64_t out) {
  s.conv1d(b + ".block.0", out, in, 3);
  s.layer_norm(b + ".block.2", out);
}

void resnet(TensorSpecList& s, const std::string& r, std::int64_t in, std::int64_t out,
            std::int64_t time_dim) {
  s.linear(r + ".mlp.1", out, time_dim);
  causal_block(s, r + ".block1", in, out);
  causal_block(s, r + ".block2", out, out);
  s.conv1d(r + ".res_conv", out, in, 1);
}

void transformers(TensorSpecList& s, const std::string& t, const EstimatorConfig& e) {
  const std::int64_t c = e.channels;
  const std::int64_t inner = e.num_heads * e.attention_head_dim;
  for (std::int64_t k = 0; k < e.n_blocks; ++k) {
    const std::string b = fmt::format("{}.{}", t, k);
    s.layer_norm(b + ".norm1", c);
    s.linear(b + ".attn1.to_q", inner, c, false);
    s.linear(b + ".attn1.to_k", inner, c, false);
    s.linear(b + ".attn1.to_v", inner, c, false);
    s.linear(b + ".attn1.to_out.0", c, inner);
    s.layer_norm(b + ".norm3", c);
    s.linear(b + ".ff.net.0.proj", e.ff_mult * c, c);
    s.linear(b + ".ff.net.2", c, e.ff_mult * c);
  }
}

// torch parametrizations.weight_norm(dim=0): bias, g (original0), v (original1). The bias has
// the output width: dim0 for Conv1d (out, in, k), dim1 for ConvTranspose1d (in, out, k).
void weight_norm_conv(TensorSpecList& s, const std::string& name, std::int64_t dim0,
                      std::int64_t dim1, std::int64_t kernel, bool transposed = false) {
  s.add(name + ".bias", {transposed ? dim1 : dim0});
  s.add(name + ".parametrizations.weight.original0", {dim0, 1, 1});
  s.add(name + ".parametrizations.weight.original1", {dim0, dim1, kernel});
}

void hift_resblock(TensorSpecList& s, const std::string& r, std::int64_t ch, std::int64_t kernel,
                   const std::vector<std::int64_t>& dilations) {
  for (const char* convs : {"convs1", "convs2"}) {
    for (std::size_t j = 0; j < dilations.size(); ++j) {
      weight_norm_conv(s, fmt::format("{}.{}.{}", r, convs, j), ch, ch, kernel);
    }
  }
  for (const char* act : {"activations1", "activations2"}) {
    for (std::size_t j = 0; j < dilations.size(); ++j) {
      s.add(fmt::format("{}.{}.{}.alpha", r, act, j), {ch});
    }
  }
}

}  // namespace

std::vector<TensorSpec> s3gen_flow_tensor_specs(const S3GenConfig& c) {
  check_valid(c, "s3gen_flow_tensor_specs");
  const auto& e = c.encoder;
  const std::int64_t d = e.output_size;
  TensorSpecList s("flow.");
  s.add("input_embedding.weight", {c.vocab_size, e.input_size});
  s.linear("spk_embed_affine_layer", c.mel_bins, c.spk_embed_dim);
  s.linear("encoder.embed.out.0", d, e.input_size);
  s.layer_norm("encoder.embed.out.1", d);
  s.layer_norm("encoder.after_norm", d);
  s.conv1d("encoder.pre_lookahead_layer.conv1", d, d, e.pre_lookahead_len + 1);
  s.conv1d("encoder.pre_lookahead_layer.conv2", d, d, 3);
  for (std::int64_t i = 0; i < e.num_blocks; ++i) {
    conformer_layer(s, fmt::format("encoder.encoders.{}", i), e);
  }
  s.conv1d("encoder.up_layer.conv", d, d, 2 * e.up_stride + 1);
  s.linear("encoder.up_embed.out.0", d, e.input_size);
  s.layer_norm("encoder.up_embed.out.1", d);
  for (std::int64_t i = 0; i < e.num_up_blocks; ++i) {
    conformer_layer(s, fmt::format("encoder.up_encoders.{}", i), e);
  }
  s.linear("encoder_proj", c.mel_bins, d);

  const auto& est = c.estimator;
  const std::int64_t ch = est.channels;
  const std::int64_t t = est.time_embed_dim;
  const std::string p = "decoder.estimator.";
  s.linear(p + "time_mlp.linear_1", t, est.in_channels);
  s.linear(p + "time_mlp.linear_2", t, t);
  resnet(s, p + "down_blocks.0.0", est.in_channels, ch, t);
  transformers(s, p + "down_blocks.0.1", est);
  s.conv1d(p + "down_blocks.0.2", ch, ch, 3);
  for (std::int64_t m = 0; m < est.num_mid_blocks; ++m) {
    resnet(s, fmt::format("{}mid_blocks.{}.0", p, m), ch, ch, t);
    transformers(s, fmt::format("{}mid_blocks.{}.1", p, m), est);
  }
  resnet(s, p + "up_blocks.0.0", 2 * ch, ch, t);
  transformers(s, p + "up_blocks.0.1", est);
  s.conv1d(p + "up_blocks.0.2", ch, ch, 3);
  causal_block(s, p + "final_block", ch, ch);
  s.conv1d(p + "final_proj", est.out_channels, ch, 1);
  if (c.meanflow) s.linear(p + "time_embed_mixer", t, 2 * t, /*bias=*/false);
  return s.take();
}

std::vector<TensorSpec> hift_tensor_specs(const S3GenConfig& c) {
  check_valid(c, "hift_tensor_specs");
  const auto& h = c.hift;
  const std::size_t stages = h.upsample_rates.size();
  const std::int64_t n_spec = h.istft_n_fft + 2;  // real + imag bins
  TensorSpecList s("mel2wav.");
  s.linear("m_source.l_linear", 1, h.nb_harmonics + 1);
  weight_norm_conv(s, "conv_pre", h.base_channels, h.in_channels, h.conv_pre_kernel);
  auto stage_channels = [&](std::size_t i) { return h.base_channels >> (i + 1); };
  for (std::size_t i = 0; i < stages; ++i) {
    // ConvTranspose1d weight (in, out, k): weight norm over dim 0 = the INPUT channel.
    weight_norm_conv(s, fmt::format("ups.{}", i), h.base_channels >> i, stage_channels(i),
                     h.upsample_kernel_sizes[i], /*transposed=*/true);
  }
  // source_downs[i] downsamples the source STFT by the product of the later stages' rates.
  for (std::size_t i = 0; i < stages; ++i) {
    std::int64_t u = 1;
    for (std::size_t k = i + 1; k < stages; ++k) u *= h.upsample_rates[k];
    s.conv1d(fmt::format("source_downs.{}", i), stage_channels(i), n_spec, u == 1 ? 1 : 2 * u);
  }
  for (std::size_t i = 0; i < stages; ++i) {
    hift_resblock(s, fmt::format("source_resblocks.{}", i), stage_channels(i),
                  h.source_resblock_kernel_sizes[i], h.source_resblock_dilation_sizes[i]);
  }
  const std::size_t nk = h.resblock_kernel_sizes.size();
  for (std::size_t i = 0; i < stages; ++i) {
    for (std::size_t j = 0; j < nk; ++j) {
      hift_resblock(s, fmt::format("resblocks.{}", i * nk + j), stage_channels(i),
                    h.resblock_kernel_sizes[j], h.resblock_dilation_sizes[j]);
    }
  }
  weight_norm_conv(s, "conv_post", n_spec, stage_channels(stages - 1), h.conv_post_kernel);
  for (std::int64_t i = 0; i < h.f0_num_conv_layers; ++i) {
    weight_norm_conv(s, fmt::format("f0_predictor.condnet.{}", 2 * i), h.f0_cond_channels,
                     i == 0 ? h.in_channels : h.f0_cond_channels, h.f0_kernel);
  }
  s.linear("f0_predictor.classifier", 1, h.f0_cond_channels);
  return s.take();
}

}  // namespace chatterd
