// A Llama block (the English/Multilingual T3 layer: RMSNorm, GQA with RoPE, SwiGLU) on the CUDA
// device against the same block on the CPU, for a CFG-style pair of sequences: a prefill, then
// single-token steps. Both sides use the same bf16 matrices and f32 keys/values, so only the
// summation order differs. Also RoPE alone. Skips without a GPU.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "layers/llama_block.h"
#include "ops/device.h"
#include "ops/rope.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

TEST(CudaRope, MatchesTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  ops::RopeConfig rc;
  rc.head_dim = 64;
  rc.theta = 500000.0f;
  rc.llama3 = ops::Llama3RopeScaling{};
  const ops::RopeTable table = ops::build_rope_table(rc, 300);
  const ops::RopeTable dtable = ops::rope_table_to_device(gpu, table);
  std::mt19937 rng(3);
  Tensor x = test::random_uniform({7, 5, 64}, rng, 2.0f);
  Tensor dx = ops::to_device(gpu, x);
  ops::apply_rope(ExecContext{}, x, 250, table);
  ops::apply_rope(gpu, dx, 250, dtable);
  EXPECT_LT(test::relative_l2(ops::to_host(gpu, dx), x), 1e-6);
  EXPECT_THROW(ops::apply_rope(gpu, dx, 295, dtable), InvalidArgument);  // past the table
}

TEST(LlamaBlockCuda, CfgPairPrefillThenDecodeMatchesTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  layers::LlamaBlockConfig c;
  c.hidden_size = 256;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.intermediate_size = 688;
  std::mt19937 rng(21);
  const std::int64_t d = c.hidden_size;
  const std::int64_t q = c.num_heads * c.head_dim;
  const std::int64_t kv = c.num_kv_heads * c.head_dim;
  const float s = 1.0f / std::sqrt(static_cast<float>(d));
  std::map<std::string, Tensor, std::less<>> w;
  w["l.input_layernorm.weight"] = test::random_uniform({d}, rng, 1.0f);
  w["l.post_attention_layernorm.weight"] = test::random_uniform({d}, rng, 1.0f);
  w["l.self_attn.q_proj.weight"] = test::random_uniform({q, d}, rng, 2 * s);
  w["l.self_attn.k_proj.weight"] = test::random_uniform({kv, d}, rng, 2 * s);
  w["l.self_attn.v_proj.weight"] = test::random_uniform({kv, d}, rng, s);
  w["l.self_attn.o_proj.weight"] = test::random_uniform({d, q}, rng, s);
  w["l.mlp.gate_proj.weight"] = test::random_uniform({c.intermediate_size, d}, rng, s);
  w["l.mlp.up_proj.weight"] = test::random_uniform({c.intermediate_size, d}, rng, s);
  w["l.mlp.down_proj.weight"] =
      test::random_uniform({d, c.intermediate_size}, rng, 1.0f / std::sqrt(688.0f));
  const auto store = WeightStore::from_tensors(std::move(w), "llama block test");
  layers::LlamaBlock host(*store, "l", c);
  host.convert_weights(cpu, DType::BF16);
  layers::LlamaBlock device(*store, "l", c);
  device.to_device(gpu);
  ops::RopeConfig rc;
  rc.head_dim = c.head_dim;
  const ops::RopeTable table = ops::build_rope_table(rc, 64);
  const ops::RopeTable dtable = ops::rope_table_to_device(gpu, table);

  std::vector<ops::KvCache> host_caches;
  std::vector<ops::DeviceKvCache> device_caches;
  for (int b = 0; b < 2; ++b) {
    host_caches.emplace_back(c.num_kv_heads, c.head_dim);
    device_caches.emplace_back(gpu, 64, c.num_kv_heads, c.head_dim, DType::F32);
  }
  layers::LlamaBlockScratch hs;
  layers::LlamaBlockScratch ds;
  std::int64_t start = 0;
  for (int step = 0; step < 4; ++step) {
    const std::int64_t t = step == 0 ? 6 : 1;
    Tensor x = test::random_uniform({2 * t, d}, rng, 1.0f);  // the pair: rows [0, t) and [t, 2t)
    Tensor dx = ops::to_device(gpu, x);
    host.forward(cpu, x, host_caches, start, table, hs);
    device.forward(gpu, dx, device_caches, start, dtable, ds);
    EXPECT_LT(test::relative_l2(ops::to_host(gpu, dx), x), 2e-5) << "step " << step;
    start += t;
  }
  EXPECT_EQ(device_caches[1].length(), start);
}

}  // namespace
}  // namespace chatterd
