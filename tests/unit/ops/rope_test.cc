#include "ops/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"

namespace chatterd::ops {
namespace {

// HF _compute_llama3_parameters written directly in double.
double reference_inv_freq(const RopeConfig& c, std::int64_t i) {
  const double f = 1.0 / std::pow(double{c.theta},
                                  2.0 * static_cast<double>(i) / static_cast<double>(c.head_dim));
  if (!c.llama3) return f;
  const auto& s = *c.llama3;
  const double orig = static_cast<double>(s.original_max_position);
  const double wavelen = 2.0 * std::numbers::pi / f;
  if (wavelen > orig / s.low_freq_factor) return f / s.factor;
  if (wavelen < orig / s.high_freq_factor) return f;
  const double smooth =
      (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  return (1.0 - smooth) * f / s.factor + smooth * f;
}

RopeConfig llama_config() {
  RopeConfig c;
  c.head_dim = 64;
  c.theta = 500000.0f;
  c.llama3 = Llama3RopeScaling{8.0f, 1.0f, 4.0f, 8192};
  return c;
}

TEST(Rope, InvFreqMatchesDirectFormula) {
  for (const RopeConfig& c : {RopeConfig{64, 10000.0f, std::nullopt}, llama_config(),
                              RopeConfig{16, 500000.0f, Llama3RopeScaling{8.0f, 1.0f, 4.0f, 64}}}) {
    const auto inv = rope_inv_freq(c);
    ASSERT_EQ(static_cast<std::int64_t>(inv.size()), c.head_dim / 2);
    for (std::int64_t i = 0; i < c.head_dim / 2; ++i) {
      const double want = reference_inv_freq(c, i);
      EXPECT_NEAR(inv[i], want, 2e-6 * want) << "i=" << i << " head_dim=" << c.head_dim;
    }
  }
}

TEST(Rope, Llama3ScalingBands) {
  const auto c = llama_config();
  const auto plain = rope_inv_freq(RopeConfig{64, 500000.0f, std::nullopt});
  const auto scaled = rope_inv_freq(c);
  // Highest frequency (wavelength 2*pi < 2048) kept, lowest (wavelength > 8192) divided by 8.
  EXPECT_EQ(scaled[0], 1.0f);
  EXPECT_FLOAT_EQ(scaled[31], plain[31] / 8.0f);
  // i = 15: wavelength 2*pi / 500000^(-30/64) ~ 2950, inside (2048, 8192): blended.
  const double lambda = 2.0 * std::numbers::pi / plain[15];
  ASSERT_GT(lambda, 2048.0);
  ASSERT_LT(lambda, 8192.0);
  const double s = (8192.0 / lambda - 1.0) / 3.0;
  EXPECT_NEAR(scaled[15], (1 - s) * plain[15] / 8 + s * plain[15], 1e-9);
  EXPECT_LT(scaled[15], plain[15]);
  EXPECT_GT(scaled[15], plain[15] / 8.0f);
}

TEST(Rope, HandComputedCase) {
  // head_dim 4, theta 10000: inv_freq = {1, 0.01}; position 1 rotates (1,3) by 1 rad and (2,4) by
  // 0.01 rad.
  const RopeTable table = build_rope_table(RopeConfig{4, 10000.0f, std::nullopt}, 3);
  Tensor x = Tensor::from_span<float>(std::vector<float>{1, 2, 3, 4}, {1, 1, 4});
  apply_rope({}, x, 1, table);
  const float* o = x.data<float>();
  EXPECT_NEAR(o[0], 1 * std::cos(1.0) - 3 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(o[1], 2 * std::cos(0.01) - 4 * std::sin(0.01), 1e-6);
  EXPECT_NEAR(o[2], 3 * std::cos(1.0) + 1 * std::sin(1.0), 1e-6);
  EXPECT_NEAR(o[3], 4 * std::cos(0.01) + 2 * std::sin(0.01), 1e-6);
  // Position 0 is the identity.
  Tensor y = Tensor::from_span<float>(std::vector<float>{1, 2, 3, 4}, {1, 1, 4});
  apply_rope({}, y, 0, table);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(y.data<float>()[i], static_cast<float>(i + 1));
}

TEST(Rope, ApplyMatchesScalarFormulaAndThreads) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> dist(-1, 1);
  const RopeConfig c = llama_config();
  const RopeTable table = build_rope_table(c, 600);
  const auto inv = rope_inv_freq(c);
  const std::int64_t T = 7, H = 3, D = 64, start = 517;
  Tensor x = Tensor::empty({T, H, D}, DType::F32);
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  Tensor x_ref = x.clone();
  Tensor x_pos = x.clone();
  Tensor x_par = x.clone();
  apply_rope({}, x, start, table);
  std::vector<std::int64_t> pos(T);
  for (std::int64_t t = 0; t < T; ++t) pos[t] = start + t;
  apply_rope({}, x_pos, Tensor::from_span<std::int64_t>(pos, {T}), table);
  ThreadPool pool(3);
  apply_rope(ExecContext{&pool}, x_par, start, table);
  const float* in = x_ref.data<float>();
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < H; ++h) {
      for (std::int64_t d = 0; d < D; ++d) {
        const std::int64_t i = (t * H + h) * D + d;
        const std::int64_t k = d % (D / 2);
        const float angle = static_cast<float>(start + t) * inv[k];  // f32 angle, as HF
        const double rot = d < D / 2 ? -double{in[i + D / 2]} : double{in[i - D / 2]};
        const double want = in[i] * std::cos(double{angle}) + rot * std::sin(double{angle});
        ASSERT_NEAR(x.data<float>()[i], want, 1e-6) << t << "," << h << "," << d;
        ASSERT_EQ(x.data<float>()[i], x_pos.data<float>()[i]);
        ASSERT_EQ(x.data<float>()[i], x_par.data<float>()[i]);
      }
    }
  }
  // i32 positions, out of order.
  Tensor a = x_ref.clone();
  std::vector<std::int32_t> pos32 = {5, 0, 599, 3, 3, 1, 2};
  apply_rope({}, a, Tensor::from_span<std::int32_t>(pos32, {T}), table);
  for (std::int64_t t = 0; t < T; ++t) {
    Tensor one = x_ref.narrow0(t, 1).clone();
    apply_rope({}, one, pos32[t], table);
    for (std::int64_t i = 0; i < H * D; ++i)
      ASSERT_EQ(one.data<float>()[i], a.data<float>()[t * H * D + i]);
  }
}

TEST(Rope, Errors) {
  EXPECT_THROW(rope_inv_freq(RopeConfig{5, 10000.0f, std::nullopt}), InvalidArgument);
  EXPECT_THROW(rope_inv_freq(RopeConfig{4, 10000.0f, Llama3RopeScaling{8.0f, 2.0f, 2.0f, 8192}}),
               InvalidArgument);
  const RopeTable table = build_rope_table(RopeConfig{8, 10000.0f, std::nullopt}, 4);
  Tensor x = Tensor::zeros({2, 1, 8}, DType::F32);
  EXPECT_THROW(apply_rope({}, x, 3, table), InvalidArgument);  // position 4 past the table
  Tensor wrong_d = Tensor::zeros({2, 1, 6}, DType::F32);
  EXPECT_THROW(apply_rope({}, wrong_d, 0, table), ShapeError);
  Tensor xi = Tensor::zeros({2, 1, 8}, DType::I32);
  EXPECT_THROW(apply_rope({}, xi, 0, table), DTypeError);
  Tensor posf = Tensor::zeros({2}, DType::F32);
  EXPECT_THROW(apply_rope({}, x, posf, table), DTypeError);
  Tensor pos3 = Tensor::zeros({3}, DType::I32);
  EXPECT_THROW(apply_rope({}, x, pos3, table), ShapeError);
  Tensor x2 = Tensor::zeros({2, 8}, DType::F32);
  EXPECT_THROW(apply_rope({}, x2, 0, table), ShapeError);
}

}  // namespace
}  // namespace chatterd::ops
