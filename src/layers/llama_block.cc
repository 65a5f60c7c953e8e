#include "layers/llama_block.h"

#include <cmath>
#include <string>

#include "core/check.h"
#include "layers/kv_access.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/rope.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kv_slots.h"
#endif

namespace chatterd::layers {

LlamaBlock::LlamaBlock(const WeightStore& store, std::string_view prefix,
                       const LlamaBlockConfig& config)
    : config_(config) {
  CHATTERD_CHECK(config.num_heads > 0 && config.num_kv_heads > 0 && config.head_dim > 0 &&
                     config.head_dim % 2 == 0 && config.num_heads % config.num_kv_heads == 0,
                 InvalidArgument,
                 "LlamaBlock: need num_kv_heads {} dividing num_heads {} and an even head_dim {}",
                 config.num_kv_heads, config.num_heads, config.head_dim);
  const std::string p(prefix);
  const std::int64_t d = config.hidden_size;
  const std::int64_t q = config.num_heads * config.head_dim;
  const std::int64_t kv = config.num_kv_heads * config.head_dim;
  const std::int64_t f = config.intermediate_size;
  input_norm_ = store.get_f32(p + ".input_layernorm.weight", Shape{d});
  post_norm_ = store.get_f32(p + ".post_attention_layernorm.weight", Shape{d});
  q_proj_ = Linear(store, p + ".self_attn.q_proj", d, q, config.attn_bias);
  k_proj_ = Linear(store, p + ".self_attn.k_proj", d, kv, config.attn_bias);
  v_proj_ = Linear(store, p + ".self_attn.v_proj", d, kv, config.attn_bias);
  o_proj_ = Linear(store, p + ".self_attn.o_proj", q, d, config.attn_bias);
  gate_proj_ = Linear(store, p + ".mlp.gate_proj", d, f, config.mlp_bias);
  up_proj_ = Linear(store, p + ".mlp.up_proj", d, f, config.mlp_bias);
  down_proj_ = Linear(store, p + ".mlp.down_proj", f, d, config.mlp_bias);
}

void LlamaBlock::forward(const ExecContext& ctx, Tensor& x, std::span<ops::KvCache> caches,
                         std::int64_t start, const ops::RopeTable& rope,
                         LlamaBlockScratch& s) const {
  forward_impl(ctx, x, caches, start, rope, s);
}

void LlamaBlock::forward(const ExecContext& ctx, Tensor& x, std::span<ops::DeviceKvCache> caches,
                         std::int64_t start, const ops::RopeTable& rope,
                         LlamaBlockScratch& s) const {
  forward_impl(ctx, x, caches, start, rope, s);
}

void LlamaBlock::to_device(const ExecContext& ctx) {
  input_norm_ = ops::to_device(ctx, input_norm_);
  post_norm_ = ops::to_device(ctx, post_norm_);
  for (Linear* l : {&q_proj_, &k_proj_, &v_proj_, &o_proj_, &gate_proj_, &up_proj_, &down_proj_})
    l->to_device(ctx);
}

template <class Cache>
void LlamaBlock::forward_impl(const ExecContext& ctx, Tensor& x, std::span<Cache> caches,
                              std::int64_t start, const ops::RopeTable& rope,
                              LlamaBlockScratch& s) const {
  const std::int64_t d = config_.hidden_size;
  const auto batch = static_cast<std::int64_t>(caches.size());
  CHATTERD_CHECK(batch > 0 && x.rank() == 2 && x.dim(1) == d && x.dim(0) % batch == 0, ShapeError,
                 "LlamaBlock: x must be [{} * T, {}], got {}", batch, d, x.to_string());
  const std::int64_t t = x.dim(0) / batch;
  CHATTERD_CHECK(rope.n_positions() >= start + t && rope.head_dim == config_.head_dim,
                 InvalidArgument,
                 "LlamaBlock: RoPE table has {} positions of head_dim {}, need {} of {}",
                 rope.n_positions(), rope.head_dim, start + t, config_.head_dim);
  const std::int64_t hq = config_.num_heads;
  const std::int64_t hkv = config_.num_kv_heads;
  const std::int64_t hd = config_.head_dim;

  // Attention: projections over all rows at once (one weight read for the CFG pair).
  project_qkv(ctx, x, s);
  ops::ensure_like(ctx, x, s.attn, Shape{batch * t, hq * hd}, DType::F32);
  ops::AttentionOptions opt;
  opt.causal = true;
  for (std::int64_t b = 0; b < batch; ++b) {
    Cache& cache = caches[static_cast<std::size_t>(b)];
    CHATTERD_CHECK(cache.length() == start, InvalidArgument,
                   "LlamaBlock: cache {} holds {} tokens, expected {}", b, cache.length(), start);
    Tensor qb = s.q.narrow0(b * t, t).reshape({t, hq, hd});
    Tensor kb = s.k.narrow0(b * t, t).reshape({t, hkv, hd});
    const Tensor vb = s.v.narrow0(b * t, t).reshape({t, hkv, hd});
    ops::apply_rope(ctx, qb, start, rope);
    ops::apply_rope(ctx, kb, start, rope);
    detail::append_kv(ctx, cache, kb, vb);
    Tensor ob = s.attn.narrow0(b * t, t).reshape({t, hq, hd});
    detail::attend(ctx, qb, cache, opt, ob);
  }
  o_proj_.forward(ctx, s.attn, s.proj);
  ops::add(ctx, x, s.proj, x);

  mlp(ctx, x, s);
}

void LlamaBlock::project_qkv(const ExecContext& ctx, const Tensor& x, LlamaBlockScratch& s) const {
  ops::rms_norm(ctx, x, &input_norm_, s.normed, config_.norm_eps);
  q_proj_.forward(ctx, s.normed, s.q);
  k_proj_.forward(ctx, s.normed, s.k);
  v_proj_.forward(ctx, s.normed, s.v);
}

void LlamaBlock::mlp(const ExecContext& ctx, Tensor& x, LlamaBlockScratch& s) const {
  ops::rms_norm(ctx, x, &post_norm_, s.normed, config_.norm_eps);
  gate_proj_.forward(ctx, s.normed, s.gate);
  up_proj_.forward(ctx, s.normed, s.up);
  ops::silu(ctx, s.gate, s.gate);
  ops::mul(ctx, s.gate, s.up, s.gate);
  down_proj_.forward(ctx, s.gate, s.proj);
  ops::add(ctx, x, s.proj, x);
}

void LlamaBlock::forward_slots(const ExecContext& ctx, Tensor& x, cuda::KvSlots& kv,
                               std::int64_t layer, const ops::RopeTable& rope,
                               LlamaBlockScratch& s) const {
#ifdef CHATTERD_HAVE_CUDA
  const std::int64_t d = config_.hidden_size;
  CHATTERD_CHECK(
      x.device() == Device::CUDA && x.rank() == 2 && x.dim(1) == d && x.dim(0) <= kv.max_batch(),
      ShapeError, "LlamaBlock: x must be [B <= {}, {}] on the device, got {}", kv.max_batch(), d,
      x.to_string());
  CHATTERD_CHECK(ctx.cuda == &kv.context(), InvalidArgument,
                 "LlamaBlock::forward_slots: the slots belong to another CUDA context (stream)");
  CHATTERD_CHECK(kv.n_kv_heads() == config_.num_kv_heads && kv.head_dim() == config_.head_dim &&
                     rope.head_dim == config_.head_dim && rope.n_positions() >= kv.capacity(),
                 InvalidArgument,
                 "LlamaBlock::forward_slots: slots of {} x {} (capacity {}) or a RoPE table of {} "
                 "positions do not fit {} kv heads x {}",
                 kv.n_kv_heads(), kv.head_dim(), kv.capacity(), rope.n_positions(),
                 config_.num_kv_heads, config_.head_dim);
  const std::int64_t batch = x.dim(0);
  const std::int64_t hq = config_.num_heads;
  const std::int64_t hkv = config_.num_kv_heads;
  const std::int64_t hd = config_.head_dim;
  project_qkv(ctx, x, s);
  // Each row's position is its slot's length, read on the device.
  const Tensor positions = Tensor::borrow(const_cast<std::int32_t*>(kv.device_lengths()),
                                          Shape{batch}, DType::I32, {}, Device::CUDA);
  Tensor q3 = s.q.reshape({batch, hq, hd});
  Tensor k3 = s.k.reshape({batch, hkv, hd});
  ops::apply_rope(ctx, q3, positions, rope);
  ops::apply_rope(ctx, k3, positions, rope);
  kv.append(layer, s.k.device_data<float>(), s.v.device_data<float>(), hkv * hd, batch);
  ctx.cuda->ensure(s.attn, Shape{batch, hq * hd}, DType::F32);
  kv.attend(layer, s.q.device_data<float>(), hq * hd, batch, hq,
            1.0f / std::sqrt(static_cast<float>(hd)), s.attn.device_data<float>());
  o_proj_.forward(ctx, s.attn, s.proj);
  ops::add(ctx, x, s.proj, x);
  mlp(ctx, x, s);
#else
  (void)ctx, (void)x, (void)kv, (void)layer, (void)rope, (void)s;
  CHATTERD_THROW(Unsupported, "LlamaBlock::forward_slots: this build has no CUDA backend");
#endif
}

void LlamaBlock::convert_weights(const ExecContext& ctx, DType dtype) {
  for (Linear* l : {&q_proj_, &k_proj_, &v_proj_, &o_proj_, &gate_proj_, &up_proj_, &down_proj_})
    l->convert_weight(ctx, dtype);
}

std::size_t LlamaBlock::weight_bytes() const {
  std::size_t bytes = 0;
  for (const Linear* l :
       {&q_proj_, &k_proj_, &v_proj_, &o_proj_, &gate_proj_, &up_proj_, &down_proj_}) {
    bytes += l->weight_bytes();
  }
  const auto sz = sizeof(float);
  if (config_.attn_bias) {
    bytes += static_cast<std::size_t>(2 * config_.num_heads * config_.head_dim +
                                      2 * config_.num_kv_heads * config_.head_dim) *
             sz;
  }
  if (config_.mlp_bias) {
    bytes += static_cast<std::size_t>(2 * config_.intermediate_size + config_.hidden_size) * sz;
  }
  bytes += 2 * static_cast<std::size_t>(config_.hidden_size) * sz;  // two RMSNorms
  return bytes;
}

}  // namespace chatterd::layers
