#pragma once
// One Llama decoder layer (HF LlamaDecoderLayer, eval mode), pre-norm:
//   x += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n)))   n = RMSNorm_in(x), causal
//   x += down_proj(silu(gate_proj(m)) * up_proj(m))                    m = RMSNorm_post(x)
// Weights are nn.Linear [out, in] as stored (any dtype ops::linear takes); norms f32. MHA or GQA
// (num_kv_heads divides num_heads). Attention scale 1/sqrt(head_dim).
//
// Batched rows: x holds `batch` independent sequences of T rows each, row-major ([batch * T, d]),
// all at the same positions start .. start + T - 1 (the CFG pair). Every projection runs once over
// all batch * T rows, so a decode step with the CFG pair (M = 2) reads each weight matrix once;
// attention runs per sequence against that sequence's own KvCache.

#include <cstdint>
#include <span>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/linear.h"
#include "ops/device_kv_cache.h"
#include "ops/exec_context.h"
#include "ops/kv_cache.h"
#include "ops/rope.h"
#include "weights/weight_store.h"

namespace chatterd::cuda {
class KvSlots;
}

namespace chatterd::layers {

struct LlamaBlockConfig {
  std::int64_t hidden_size = 1024;
  std::int64_t num_heads = 16;
  std::int64_t num_kv_heads = 16;
  std::int64_t head_dim = 64;
  std::int64_t intermediate_size = 4096;
  float norm_eps = 1e-5f;
  bool attn_bias = false;
  bool mlp_bias = false;
};

// Scratch shared by all blocks of one request, reused across steps.
struct LlamaBlockScratch {
  Tensor normed;  // [B*T, d]
  Tensor q;       // [B*T, Hq*D]
  Tensor k;       // [B*T, Hkv*D]
  Tensor v;       // [B*T, Hkv*D]
  Tensor attn;    // [B*T, Hq*D]
  Tensor head;    // [T, Hq, D] attention output of one sequence
  Tensor proj;    // [B*T, d]
  Tensor gate;    // [B*T, ffn]
  Tensor up;      // [B*T, ffn]
};

class LlamaBlock {
 public:
  LlamaBlock() = default;
  // Reads "<prefix>.{input_layernorm,post_attention_layernorm}.weight",
  // "<prefix>.self_attn.{q,k,v,o}_proj.*" and "<prefix>.mlp.{gate,up,down}_proj.*".
  LlamaBlock(const WeightStore& store, std::string_view prefix, const LlamaBlockConfig& config);

  // x: f32 [caches.size() * T, d], updated in place; sequence b is rows [b*T, (b+1)*T) and
  // appends to caches[b]. Every cache must hold `start` tokens; `rope` must cover start + T.
  void forward(const ExecContext& ctx, Tensor& x, std::span<ops::KvCache> caches,
               std::int64_t start, const ops::RopeTable& rope, LlamaBlockScratch& scratch) const;
  // The same on the CUDA device (after to_device): x, the scratch and `rope`
  // (ops::rope_table_to_device) live there.
  void forward(const ExecContext& ctx, Tensor& x, std::span<ops::DeviceKvCache> caches,
               std::int64_t start, const ops::RopeTable& rope, LlamaBlockScratch& scratch) const;
  // One decode step of `x.dim(0)` rows over fixed device slots (after to_device): row b is slot
  // b of `kv` at its device length (its RoPE position and where its K/V go). Reads nothing from
  // the host, so a step is capturable as a CUDA graph; kv.advance is the caller's, after the
  // last layer. CUDA builds only.
  void forward_slots(const ExecContext& ctx, Tensor& x, cuda::KvSlots& kv, std::int64_t layer,
                     const ops::RopeTable& rope, LlamaBlockScratch& scratch) const;
  // Moves the block to ctx's CUDA device: matrices bf16, norms and biases f32.
  void to_device(const ExecContext& ctx);

  const LlamaBlockConfig& config() const { return config_; }
  // Converts the block's matrices (Linear::convert_weight), once after loading.
  void convert_weights(const ExecContext& ctx, DType dtype);
  // Bytes of weights one forward streams (seven matrices, biases, two norms).
  std::size_t weight_bytes() const;

 private:
  // rms_norm(x) -> q, k, v in the scratch.
  void project_qkv(const ExecContext& ctx, const Tensor& x, LlamaBlockScratch& s) const;
  // The SwiGLU MLP with its residual: x += down(silu(gate(n)) * up(n)), n = rms_norm(x).
  void mlp(const ExecContext& ctx, Tensor& x, LlamaBlockScratch& s) const;
  template <class Cache>
  void forward_impl(const ExecContext& ctx, Tensor& x, std::span<Cache> caches, std::int64_t start,
                    const ops::RopeTable& rope, LlamaBlockScratch& s) const;

  LlamaBlockConfig config_;
  Tensor input_norm_;  // [d] f32
  Tensor post_norm_;   // [d] f32
  Linear q_proj_;
  Linear k_proj_;
  Linear v_proj_;
  Linear o_proj_;
  Linear gate_proj_;
  Linear up_proj_;
  Linear down_proj_;
};

}  // namespace chatterd::layers
