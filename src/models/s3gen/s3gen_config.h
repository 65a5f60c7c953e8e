#pragma once
// S3Gen (speech tokens -> 24 kHz waveform) hyper-parameters: the flow (token embedding, upsampling
// conformer encoder, CFM estimator) and the HiFT vocoder. Defaults = the real
// s3gen_meanflow.safetensors / s3gen.safetensors (tests/fixtures/manifests/s3gen*.json `hparams`).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/tensor_spec.h"
#include "models/variant.h"

namespace chatterd {

// UpsampleConformerEncoder: embed, pre-lookahead conv, `num_blocks` layers, x2 upsampling,
// `num_up_blocks` layers. Rel-pos (ESPnet) self-attention, SiLU FFN, no conv module.
struct ConformerEncoderConfig {
  std::int64_t input_size = 512;       // token embedding width fed to embed.out.0
  std::int64_t output_size = 512;      // model width D
  std::int64_t attention_heads = 8;    // heads (d_k = output_size / heads)
  std::int64_t linear_units = 2048;    // FFN inner width
  std::int64_t num_blocks = 6;         // conformer layers before upsampling
  std::int64_t num_up_blocks = 4;      // conformer layers after upsampling
  bool key_bias = true;                // linear_k has a bias
  std::int64_t pre_lookahead_len = 3;  // look-ahead tokens (conv1 kernel = len + 1)
  std::int64_t up_stride = 2;          // upsampling factor (conv kernel = 2 * stride + 1)
  double layer_norm_eps = 1e-12;       // norm_mha / norm_ff epsilon
  double embed_norm_eps = 1e-5;        // embed, up_embed and after_norm epsilon
};

// ConditionalDecoder (the CFM velocity estimator): a one-level causal 1-D UNet.
struct EstimatorConfig {
  std::int64_t in_channels = 320;        // cat(x, mu, spks, cond) channels (= 4 x mel bins)
  std::int64_t out_channels = 80;        // mel bins
  std::int64_t channels = 256;           // UNet width C (the reference's channels=[256])
  std::int64_t attention_head_dim = 64;  // transformer head width
  std::int64_t num_heads = 8;            // transformer heads (inner dim = heads x head_dim)
  std::int64_t n_blocks = 4;             // transformer blocks per down/mid/up stage
  std::int64_t num_mid_blocks = 12;      // middle stages
  std::int64_t time_embed_dim = 1024;    // time MLP width (4 x channels)
  std::int64_t ff_mult = 4;              // transformer FFN inner = ff_mult x channels
};

// HiFTGenerator (NSF + iSTFT HiFi-GAN) and its F0 predictor.
struct HiftConfig {
  std::int64_t in_channels = 80;                         // mel bins
  std::int64_t base_channels = 512;                      // conv_pre output width
  std::int64_t nb_harmonics = 8;                         // SineGen harmonics (H + 1 sines)
  std::int64_t sampling_rate_hz = 24000;                 // output rate
  std::vector<std::int64_t> upsample_rates = {8, 5, 3};  // per stage (x istft_hop = 480)
  std::vector<std::int64_t> upsample_kernel_sizes = {16, 11, 7};
  std::vector<std::int64_t> resblock_kernel_sizes = {3, 7, 11};  // resblocks per stage
  std::vector<std::vector<std::int64_t>> resblock_dilation_sizes = {
      {1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  std::vector<std::int64_t> source_resblock_kernel_sizes = {7, 7, 11};  // one per stage
  std::vector<std::vector<std::int64_t>> source_resblock_dilation_sizes = {
      {1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  std::int64_t istft_n_fft = 16;        // iSTFT size (conv_post outputs n_fft + 2 channels)
  std::int64_t istft_hop = 4;           // iSTFT hop (samples)
  std::int64_t conv_pre_kernel = 7;     // conv_pre kernel
  std::int64_t conv_post_kernel = 7;    // conv_post kernel
  double lrelu_slope = 0.1;             // leaky ReLU slope inside the stages
  double audio_limit = 0.99;            // output clamp
  double nsf_alpha = 0.1;               // sine amplitude
  double nsf_sigma = 0.003;             // voiced noise std
  double nsf_voiced_threshold = 10.0;   // f0 (Hz) above which a sample is voiced
  std::int64_t f0_cond_channels = 512;  // F0 predictor conv width
  std::int64_t f0_num_conv_layers = 5;  // F0 predictor convs (ELU after each)
  std::int64_t f0_kernel = 3;           // F0 predictor conv kernel
};

struct S3GenConfig {
  bool meanflow = true;                   // Turbo/Nano: meanflow estimator, 2 linear steps, no CFG
  std::int64_t sampling_rate_hz = 24000;  // output audio rate
  std::int64_t silence_token = 4299;      // S3GEN_SIL (turbo appends 3)
  std::int64_t n_cfm_timesteps = 2;       // solver steps (meanflow 2, CFG 10)
  double inference_cfg_rate = 0.7;        // CFG weight (non-meanflow only)
  std::int64_t vocab_size = 6561;         // speech token vocabulary (flow.input_embedding rows)
  std::int64_t mel_bins = 80;             // flow output_size
  std::int64_t spk_embed_dim = 192;       // CAMPPlus x-vector width
  std::int64_t token_mel_ratio = 2;       // mel frames per token
  ConformerEncoderConfig encoder;
  EstimatorConfig estimator;
  HiftConfig hift;

  static S3GenConfig defaults(Variant variant);
  // `base` overridden by a manifest `hparams` / hparams.json `s3gen` object. Throws
  // ModelFormatError on wrong JSON types or an invalid result.
  static S3GenConfig from_json(const nlohmann::json& j, const S3GenConfig& base);
  std::vector<std::string> validate() const;
  std::string to_string() const;
};

// flow.* and mel2wav.* tensors in state_dict order (the speaker_encoder.* / tokenizer.* parts of
// an s3gen file come from campplus_tensor_specs / s3tokenizer_tensor_specs).
std::vector<TensorSpec> s3gen_flow_tensor_specs(const S3GenConfig& config);
std::vector<TensorSpec> hift_tensor_specs(const S3GenConfig& config);

}  // namespace chatterd
