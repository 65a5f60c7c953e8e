#include "models/s3tokenizer/s3tokenizer.h"

#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/conv1d.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd {

void s3_fsq_encode(const ExecContext& ctx, const Tensor& h, Tensor& out) {
  check_dtype(h, DType::F32, "s3_fsq_encode: h");
  check_rank(h, 2, "s3_fsq_encode: h");
  const std::int64_t n = h.dim(0), d = h.dim(1);
  CHATTERD_CHECK(d > 0 && d <= 19, ShapeError, "s3_fsq_encode: {} digits do not fit in i32", d);
  Tensor t;
  ops::tanh(ctx, h, t);
  out.resize({n}, DType::I32);
  const float* tp = t.data<float>();
  std::int32_t* o = out.data<std::int32_t>();
  for (std::int64_t r = 0; r < n; ++r) {
    std::int32_t code = 0;
    std::int32_t power = 1;
    for (std::int64_t i = 0; i < d; ++i) {
      code += s3_fsq_digit(tp[r * d + i]) * power;
      power *= 3;
    }
    o[r] = code;
  }
}

std::int64_t S3Tokenizer::encoded_length(std::int64_t mel_frames) {
  const std::int64_t t1 = (mel_frames - 1) / 2 + 1;
  return (t1 - 1) / 2 + 1;
}

S3Tokenizer::S3Tokenizer(const WeightStore& store, const S3TokenizerConfig& config,
                         std::string_view prefix_view)
    : config_(config) {
  const auto problems = config.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "S3Tokenizer: invalid config {}",
                 config.to_string());
  const std::int64_t d = config.n_audio_state;
  const std::int64_t head_dim = d / config.n_audio_head;
  CHATTERD_CHECK(head_dim == kS3RopeDim, Unsupported,
                 "S3Tokenizer: head_dim {} (state {} / {} heads) != {}: the reference's RoPE table "
                 "is built for {} dims and cannot broadcast to other head sizes",
                 head_dim, d, config.n_audio_head, kS3RopeDim, kS3RopeDim);
  const std::string p(prefix_view);
  const std::string e = p + "encoder.";
  conv1_w_ = store.get_f32(e + "conv1.weight", {d, config.n_mels, 3});
  conv1_b_ = store.get_f32(e + "conv1.bias", {d});
  conv2_w_ = store.get_f32(e + "conv2.weight", {d, d, 3});
  conv2_b_ = store.get_f32(e + "conv2.bias", {d});
  for (std::int64_t i = 0; i < config.n_audio_layer; ++i) {
    const std::string b = fmt::format("{}blocks.{}.", e, i);
    Block blk;
    blk.attn_ln = layers::LayerNorm(store, b + "attn_ln", d, 1e-6f);
    blk.query = layers::Linear(store, b + "attn.query", d, d, true);
    blk.key = layers::Linear(store, b + "attn.key", d, d, false);
    blk.value = layers::Linear(store, b + "attn.value", d, d, true);
    blk.out = layers::Linear(store, b + "attn.out", d, d, true);
    blk.fsmn = store.get_f32(b + "attn.fsmn_block.weight", {d, 1, config.fsmn_kernel});
    blk.mlp_ln = layers::LayerNorm(store, b + "mlp_ln", d, 1e-5f);
    blk.mlp1 = layers::Linear(store, b + "mlp.0", d, config.mlp_mult * d, true);
    blk.mlp2 = layers::Linear(store, b + "mlp.2", config.mlp_mult * d, d, true);
    blocks_.push_back(std::move(blk));
  }
  project_down_ =
      layers::Linear(store, p + "quantizer._codebook.project_down", d, config.fsq_dim, true);
  rope_ = ops::build_rope_table({kS3RopeDim, 10000.0f, std::nullopt}, kS3RopePositions);
}

void S3Tokenizer::block_forward(const ExecContext& ctx, const Block& b, Tensor& x) const {
  const std::int64_t t = x.dim(0), d = x.dim(1);
  const std::int64_t heads = config_.n_audio_head, hd = d / heads;
  Tensor h, q, k, v;
  b.attn_ln.forward(ctx, x, h);
  b.query.forward(ctx, h, q);
  b.key.forward(ctx, h, k);
  b.value.forward(ctx, h, v);

  // FSMN memory over v (before RoPE, which v never gets): depthwise conv, zero pad (K-1)/2 on
  // each side, plus v itself.
  Tensor vt, mem, fsmn;
  ops::transpose(ctx, v.reshape({1, t, d}), 1, 2, vt);  // (1, D, T)
  ops::Conv1dOptions fo;
  fo.groups = d;
  fo.pad_left = (config_.fsmn_kernel - 1) / 2;
  fo.pad_right = config_.fsmn_kernel - 1 - fo.pad_left;
  ops::conv1d(ctx, vt, b.fsmn, nullptr, fo, mem);
  ops::transpose(ctx, mem.reshape({d, t}), 0, 1, fsmn);  // (T, D)
  ops::add(ctx, fsmn, v, fsmn);

  Tensor q3 = q.reshape({t, heads, hd});
  Tensor k3 = k.reshape({t, heads, hd});
  ops::apply_rope(ctx, q3, 0, rope_);
  ops::apply_rope(ctx, k3, 0, rope_);
  // q and k each scaled by head_dim^-1/4, as the reference (not the product by 1/sqrt).
  const float s = std::pow(static_cast<float>(hd), -0.25f);
  ops::scale(ctx, q3, s, q3);
  ops::scale(ctx, k3, s, k3);
  ops::AttentionOptions ao;
  ao.scale = 1.0f;
  Tensor att;
  ops::attention(ctx, q3, k3, v.reshape({t, heads, hd}), ao, att);
  Tensor o;
  b.out.forward(ctx, att.reshape({t, d}), o);
  ops::add(ctx, o, fsmn, o);
  ops::add(ctx, x, o, x);

  b.mlp_ln.forward(ctx, x, h);
  Tensor m;
  b.mlp1.forward(ctx, h, m);
  ops::gelu(ctx, m, m);
  b.mlp2.forward(ctx, m, o);
  ops::add(ctx, x, o, x);
}

Tensor S3Tokenizer::encode(const ExecContext& ctx, const Tensor& log_mel_in,
                           std::optional<std::int64_t> max_len) const {
  check_dtype(log_mel_in, DType::F32, "S3Tokenizer: log_mel");
  Tensor mel = log_mel_in;
  if (mel.rank() == 3 && mel.dim(0) == 1) mel = mel.reshape({mel.dim(1), mel.dim(2)});
  CHATTERD_CHECK(mel.rank() == 2 && mel.dim(0) == config_.n_mels, ShapeError,
                 "S3Tokenizer: log_mel must be ({}, T) (bins x frames), got {}", config_.n_mels,
                 log_mel_in.to_string());
  std::int64_t frames = mel.dim(1);
  if (max_len.has_value()) {
    CHATTERD_CHECK(*max_len > 0, InvalidArgument, "S3Tokenizer: max_len must be > 0, got {}",
                   *max_len);
    frames = std::min(frames, 4 * *max_len);
  }
  CHATTERD_CHECK(frames > 0, InvalidArgument, "S3Tokenizer: the log-mel has no frames");
  CHATTERD_CHECK(frames <= kS3MaxSingleWindowFrames, Unsupported,
                 "S3Tokenizer: {} mel frames (> {}, 30 s) need the reference's sliding-window "
                 "path, which is not implemented",
                 frames, kS3MaxSingleWindowFrames);
  Tensor x0;
  if (frames == mel.dim(1)) {
    x0 = mel.reshape({1, config_.n_mels, frames});
  } else {
    ops::slice(ctx, mel, 1, 0, frames, x0);
    x0 = x0.reshape({1, config_.n_mels, frames});
  }
  // A single utterance has an all-ones padding mask: the reference's mask products and the
  // additive attention bias are identities here.
  ops::Conv1dOptions co;
  co.stride = 2;
  co.pad_left = co.pad_right = 1;
  Tensor c1, c2;
  ops::conv1d(ctx, x0, conv1_w_, &conv1_b_, co, c1);
  ops::gelu(ctx, c1, c1);
  ops::conv1d(ctx, c1, conv2_w_, &conv2_b_, co, c2);
  ops::gelu(ctx, c2, c2);
  const std::int64_t d = config_.n_audio_state, t = c2.dim(2);
  Tensor x;
  ops::transpose(ctx, c2.reshape({d, t}), 0, 1, x);  // (T', D)
  for (const Block& b : blocks_) block_forward(ctx, b, x);
  return x;
}

Tensor S3Tokenizer::tokenize(const ExecContext& ctx, const Tensor& log_mel,
                             std::optional<std::int64_t> max_len) const {
  const Tensor x = encode(ctx, log_mel, max_len);
  Tensor h;
  project_down_.forward(ctx, x, h);
  Tensor codes;
  s3_fsq_encode(ctx, h, codes);
  return codes.reshape({1, codes.dim(0)});
}

}  // namespace chatterd
