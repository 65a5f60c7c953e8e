// A GPT-2 block (Turbo/Nano's T3 layer) on the CUDA device against the same block on the CPU:
// a prefill then single-token decode steps, each step's output compared. Both sides use the
// same bf16 matrices, so what differs is summation order, the f16 KV rounding where chosen, and
// the bf16 activations of cuBLASLt on long prefills. Skips without a GPU.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "cuda_test_util.h"
#include "layers/gpt2_block.h"
#include "ops/device.h"
#include "weights/weight_store.h"

namespace chatterd {
namespace {

std::shared_ptr<WeightStore> block_weights(const layers::Gpt2BlockConfig& c) {
  std::mt19937 rng(42);
  const std::int64_t d = c.hidden_size;
  const std::int64_t f = c.intermediate_size;
  std::map<std::string, Tensor, std::less<>> w;
  const float s = 1.0f / std::sqrt(static_cast<float>(d));
  w["h.ln_1.weight"] = test::random_uniform({d}, rng, 1.0f);
  w["h.ln_1.bias"] = test::random_uniform({d}, rng, 0.2f);
  w["h.attn.c_attn.weight"] = test::random_uniform({d, 3 * d}, rng, 2 * s);
  w["h.attn.c_attn.bias"] = test::random_uniform({3 * d}, rng, 0.2f);
  w["h.attn.c_proj.weight"] = test::random_uniform({d, d}, rng, s);
  w["h.attn.c_proj.bias"] = test::random_uniform({d}, rng, 0.2f);
  w["h.ln_2.weight"] = test::random_uniform({d}, rng, 1.0f);
  w["h.ln_2.bias"] = test::random_uniform({d}, rng, 0.2f);
  w["h.mlp.c_fc.weight"] = test::random_uniform({d, f}, rng, s);
  w["h.mlp.c_fc.bias"] = test::random_uniform({f}, rng, 0.2f);
  w["h.mlp.c_proj.weight"] =
      test::random_uniform({f, d}, rng, 1.0f / std::sqrt(static_cast<float>(f)));
  w["h.mlp.c_proj.bias"] = test::random_uniform({d}, rng, 0.2f);
  return WeightStore::from_tensors(std::move(w), "gpt2 block test");
}

struct BlockCase {
  std::int64_t d, heads, ffn, prefill;
  DType kv;
  double tol;
};

class Gpt2BlockCuda : public ::testing::TestWithParam<BlockCase> {};

TEST_P(Gpt2BlockCuda, PrefillThenDecodeMatchesTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const BlockCase c = GetParam();
  cuda::DeviceContext dc(0);
  ExecContext gpu;
  gpu.cuda = &dc;
  const ExecContext cpu;
  layers::Gpt2BlockConfig config;
  config.hidden_size = c.d;
  config.num_heads = c.heads;
  config.head_dim = c.d / c.heads;
  config.intermediate_size = c.ffn;
  const auto store = block_weights(config);
  layers::Gpt2Block host(*store, "h", config);
  host.convert_weights(cpu, DType::BF16);  // the matrices the device gets
  layers::Gpt2Block device(*store, "h", config);
  device.to_device(gpu);

  ops::KvCache host_cache(c.heads, config.head_dim);
  ops::DeviceKvCache device_cache(gpu, 256, c.heads, config.head_dim, c.kv);
  layers::Gpt2BlockScratch hs;
  layers::Gpt2BlockScratch ds;
  std::mt19937 rng(7);
  for (int step = 0; step < 4; ++step) {
    const std::int64_t t = step == 0 ? c.prefill : 1;
    Tensor x = test::random_uniform({t, c.d}, rng, 1.0f);
    Tensor dx = ops::to_device(gpu, x);
    host.forward(cpu, x, host_cache, hs);
    device.forward(gpu, dx, device_cache, ds);
    const Tensor got = ops::to_host(gpu, dx);
    EXPECT_LT(test::relative_l2(got, x), c.tol) << "step " << step << " (" << t << " rows)";
  }
  EXPECT_EQ(device_cache.length(), host_cache.length());
}

// f32 KV and decode-sized prefills: only summation order differs. f16 KV: keys and values
// rounded to f16 (2^-11 relative). 40-row prefill: cuBLASLt rounds activations to bf16 (2^-9).
INSTANTIATE_TEST_SUITE_P(Shapes, Gpt2BlockCuda,
                         ::testing::Values(BlockCase{128, 2, 512, 5, DType::F32, 2e-5},
                                           BlockCase{1024, 16, 4096, 7, DType::F32, 2e-5},
                                           BlockCase{768, 12, 3072, 3, DType::F16, 3e-3},
                                           BlockCase{1024, 16, 4096, 40, DType::F32, 1.5e-2}),
                         [](const ::testing::TestParamInfo<BlockCase>& param) {
                           const BlockCase& c = param.param;
                           return fmt::format("d{}_prefill{}_kv{}", c.d, c.prefill,
                                              dtype_name(c.kv));
                         });

}  // namespace
}  // namespace chatterd
