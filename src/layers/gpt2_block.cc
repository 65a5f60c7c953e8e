#include "layers/gpt2_block.h"

#include <cmath>
#include <string>

#include "core/check.h"
#include "layers/kv_access.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kv_slots.h"
#endif

namespace chatterd::layers {

Gpt2Block::Gpt2Block(const WeightStore& store, std::string_view prefix,
                     const Gpt2BlockConfig& config)
    : config_(config) {
  CHATTERD_CHECK(config.num_heads * config.head_dim == config.hidden_size, InvalidArgument,
                 "Gpt2Block: num_heads {} x head_dim {} != hidden_size {}", config.num_heads,
                 config.head_dim, config.hidden_size);
  const std::string p(prefix);
  const std::int64_t d = config.hidden_size;
  const auto in_out = ops::WeightLayout::InOut;
  ln_1_ = LayerNorm(store, p + ".ln_1", d, config.norm_eps);
  c_attn_ = Linear(store, p + ".attn.c_attn", d, 3 * d, config.attn_bias, in_out);
  attn_proj_ = Linear(store, p + ".attn.c_proj", d, d, config.attn_bias, in_out);
  ln_2_ = LayerNorm(store, p + ".ln_2", d, config.norm_eps);
  c_fc_ = Linear(store, p + ".mlp.c_fc", d, config.intermediate_size, config.mlp_bias, in_out);
  mlp_proj_ =
      Linear(store, p + ".mlp.c_proj", config.intermediate_size, d, config.mlp_bias, in_out);
}

void Gpt2Block::forward(const ExecContext& ctx, Tensor& x, ops::KvCache& cache,
                        Gpt2BlockScratch& s) const {
  forward_impl(ctx, x, cache, s);
}

void Gpt2Block::forward(const ExecContext& ctx, Tensor& x, ops::DeviceKvCache& cache,
                        Gpt2BlockScratch& s) const {
  forward_impl(ctx, x, cache, s);
}

template <class Cache>
void Gpt2Block::forward_impl(const ExecContext& ctx, Tensor& x, Cache& cache,
                             Gpt2BlockScratch& s) const {
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(x.rank() == 2 && x.dim(1) == d, ShapeError, "Gpt2Block: x must be [T, {}], got {}",
                 d, x.to_string());
  const std::int64_t t = x.dim(0);
  const Shape heads{t, config_.num_heads, config_.head_dim};

  // Attention: c_attn packs q | k | v along its output axis.
  ln_1_.forward(ctx, x, s.normed);
  c_attn_.forward(ctx, s.normed, s.qkv);
  ops::slice(ctx, s.qkv, 1, 0, d, s.q);
  ops::slice(ctx, s.qkv, 1, d, 2 * d, s.k);
  ops::slice(ctx, s.qkv, 1, 2 * d, 3 * d, s.v);
  detail::append_kv(ctx, cache, s.k.reshape(heads), s.v.reshape(heads));
  ops::AttentionOptions opt;
  opt.causal = true;
  detail::attend(ctx, s.q.reshape(heads), cache, opt, s.attn);
  project_and_mlp(ctx, x, s.attn.reshape({t, d}), s);
}

void Gpt2Block::project_and_mlp(const ExecContext& ctx, Tensor& x, const Tensor& attn,
                                Gpt2BlockScratch& s) const {
  attn_proj_.forward(ctx, attn, s.proj);
  ops::add(ctx, x, s.proj, x);

  // MLP.
  ln_2_.forward(ctx, x, s.normed);
  c_fc_.forward(ctx, s.normed, s.mlp);
  ops::gelu_tanh(ctx, s.mlp, s.mlp);
  mlp_proj_.forward(ctx, s.mlp, s.proj);
  ops::add(ctx, x, s.proj, x);
}

void Gpt2Block::forward_slots(const ExecContext& ctx, Tensor& x, cuda::KvSlots& kv,
                              std::int64_t layer, Gpt2BlockScratch& s) const {
#ifdef CHATTERD_HAVE_CUDA
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(
      x.device() == Device::CUDA && x.rank() == 2 && x.dim(1) == d && x.dim(0) <= kv.max_batch(),
      ShapeError, "Gpt2Block: x must be [B <= {}, {}] on the device, got {}", kv.max_batch(), d,
      x.to_string());
  CHATTERD_CHECK(ctx.cuda == &kv.context(), InvalidArgument,
                 "Gpt2Block::forward_slots: the slots belong to another CUDA context (stream)");
  const std::int64_t batch = x.dim(0);
  ln_1_.forward(ctx, x, s.normed);
  c_attn_.forward(ctx, s.normed, s.qkv);  // [B, 3d]: q | k | v per row, read in place
  const float* qkv = s.qkv.device_data<float>();
  kv.append(layer, qkv + d, qkv + 2 * d, 3 * d, batch);
  ctx.cuda->ensure(s.attn, Shape{batch, d}, DType::F32);
  kv.attend(layer, qkv, 3 * d, batch, config_.num_heads,
            1.0f / std::sqrt(static_cast<float>(config_.head_dim)), s.attn.device_data<float>());
  project_and_mlp(ctx, x, s.attn, s);
#else
  (void)ctx, (void)x, (void)kv, (void)layer, (void)s;
  CHATTERD_THROW(Unsupported, "Gpt2Block::forward_slots: this build has no CUDA backend");
#endif
}

void Gpt2Block::forward_rows(const ExecContext& ctx, Tensor& x,
                             std::span<ops::KvCache* const> caches, Gpt2BlockScratch& s) const {
  const std::int64_t d = config_.hidden_size;
  const auto batch = static_cast<std::int64_t>(caches.size());
  CHATTERD_CHECK(batch > 0 && x.rank() == 2 && x.dim(0) == batch && x.dim(1) == d, ShapeError,
                 "Gpt2Block: x must be [{}, {}] (one row per cache), got {}", batch, d,
                 x.to_string());
  const std::int64_t hq = config_.num_heads;
  const std::int64_t hd = config_.head_dim;

  ln_1_.forward(ctx, x, s.normed);
  c_attn_.forward(ctx, s.normed, s.qkv);
  ops::slice(ctx, s.qkv, 1, 0, d, s.q);
  ops::slice(ctx, s.qkv, 1, d, 2 * d, s.k);
  ops::slice(ctx, s.qkv, 1, 2 * d, 3 * d, s.v);
  s.attn.resize(Shape{batch, d}, DType::F32);
  ops::AttentionOptions opt;
  opt.causal = true;
  for (std::int64_t b = 0; b < batch; ++b) {
    ops::KvCache* cache = caches[static_cast<std::size_t>(b)];
    CHATTERD_CHECK(cache != nullptr, InvalidArgument, "Gpt2Block: cache {} is null", b);
    const Tensor qb = s.q.narrow0(b, 1).reshape({1, hq, hd});
    cache->append(ctx, s.k.narrow0(b, 1).reshape({1, hq, hd}),
                  s.v.narrow0(b, 1).reshape({1, hq, hd}));
    Tensor ob = s.attn.narrow0(b, 1).reshape({1, hq, hd});
    ops::attention(ctx, qb, *cache, opt, ob);
  }
  project_and_mlp(ctx, x, s.attn, s);
}

void Gpt2Block::to_device(const ExecContext& ctx) {
  ln_1_.to_device(ctx);
  ln_2_.to_device(ctx);
  for (Linear* l : {&c_attn_, &attn_proj_, &c_fc_, &mlp_proj_}) l->to_device(ctx);
}

void Gpt2Block::convert_weights(const ExecContext& ctx, DType dtype) {
  for (Linear* l : {&c_attn_, &attn_proj_, &c_fc_, &mlp_proj_}) l->convert_weight(ctx, dtype);
}

std::size_t Gpt2Block::weight_bytes() const {
  const std::int64_t d = config_.hidden_size;
  std::size_t bytes = 0;
  for (const Linear* l : {&c_attn_, &attn_proj_, &c_fc_, &mlp_proj_}) {
    bytes += l->weight_bytes() + static_cast<std::size_t>(l->out_features()) * sizeof(float);
  }
  bytes += 4 * static_cast<std::size_t>(d) * sizeof(float);  // two LayerNorms
  return bytes;
}

}  // namespace chatterd::layers
