#pragma once
// One GPT-2 transformer block (HF GPT2Block, eval mode): pre-LN,
//   x += c_proj(attn(split_qkv(c_attn(ln_1(x)))))    causal, scale 1/sqrt(head_dim)
//   x += mlp.c_proj(gelu_new(mlp.c_fc(ln_2(x))))
// Conv1D weights are used as stored ([in, out], any dtype ops::linear takes); LayerNorms and
// biases are f32. Keys/values of the new rows are appended to the caller's KvCache, so one call
// serves prefill (T rows) and decode (1 row) alike.

#include <cstdint>
#include <span>
#include <string_view>

#include "chatterd/core/tensor.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "ops/device_kv_cache.h"
#include "ops/exec_context.h"
#include "ops/kv_cache.h"
#include "weights/weight_store.h"

namespace chatterd::cuda {
class KvSlots;
}

namespace chatterd::layers {

struct Gpt2BlockConfig {
  std::int64_t hidden_size = 1024;
  std::int64_t num_heads = 16;
  std::int64_t head_dim = 64;
  std::int64_t intermediate_size = 4096;
  float norm_eps = 1e-5f;
  bool attn_bias = true;
  bool mlp_bias = true;
};

// Scratch a block needs; one per request, shared by all blocks (they run one after another) and
// reused across steps so a decode loop does not allocate.
struct Gpt2BlockScratch {
  Tensor normed;  // [T, d]
  Tensor qkv;     // [T, 3d]
  Tensor q;       // [T, H, D]
  Tensor k;       // [T, H, D]
  Tensor v;       // [T, H, D]
  Tensor attn;    // [T, H, D]
  Tensor proj;    // [T, d]
  Tensor mlp;     // [T, ffn]
};

class Gpt2Block {
 public:
  Gpt2Block() = default;
  // Reads "<prefix>.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}.*".
  Gpt2Block(const WeightStore& store, std::string_view prefix, const Gpt2BlockConfig& config);

  // x: f32 [T, d], updated in place. The T rows are the positions cache.length() .. + T - 1.
  void forward(const ExecContext& ctx, Tensor& x, ops::KvCache& cache,
               Gpt2BlockScratch& scratch) const;

  // The same on the CUDA device (after to_device): x and the scratch are device tensors.
  void forward(const ExecContext& ctx, Tensor& x, ops::DeviceKvCache& cache,
               Gpt2BlockScratch& scratch) const;

  // One decode step on the CUDA device for streams [0, B) whose caches are the slots of `kv`
  // (layer `layer`): x [B, d] on the device. Per-stream positions are read on the device, so the
  // step can be captured as a CUDA graph. Unsupported in builds without CUDA.
  void forward_slots(const ExecContext& ctx, Tensor& x, cuda::KvSlots& kv, std::int64_t layer,
                     Gpt2BlockScratch& scratch) const;

  // Continuous batching: x f32 [B, d], row b is ONE new position of an independent sequence whose
  // keys/values go to *caches[b] (each at its own length). The projections run over all B rows
  // together (each weight read once), attention runs per row over its own cache.
  void forward_rows(const ExecContext& ctx, Tensor& x, std::span<ops::KvCache* const> caches,
                    Gpt2BlockScratch& scratch) const;

  const Gpt2BlockConfig& config() const { return config_; }
  // Moves the block to ctx's CUDA device: matrices bf16, norms and biases f32.
  void to_device(const ExecContext& ctx);
  // Converts the block's matrices (Linear::convert_weight), once after loading.
  void convert_weights(const ExecContext& ctx, DType dtype);
  // Bytes of weights one forward streams (all six matrices, the norms and biases).
  std::size_t weight_bytes() const;

 private:
  template <class Cache>
  void forward_impl(const ExecContext& ctx, Tensor& x, Cache& cache, Gpt2BlockScratch& s) const;
  // The half every forward shares: x += c_proj(attn), then x += MLP(ln_2(x)).
  void project_and_mlp(const ExecContext& ctx, Tensor& x, const Tensor& attn,
                       Gpt2BlockScratch& s) const;

  Gpt2BlockConfig config_;
  LayerNorm ln_1_;
  Linear c_attn_;
  Linear attn_proj_;
  LayerNorm ln_2_;
  Linear c_fc_;
  Linear mlp_proj_;
};

}  // namespace chatterd::layers
