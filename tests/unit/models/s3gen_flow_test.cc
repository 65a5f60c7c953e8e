// S3Gen flow building blocks and API contracts on small synthetic models (the golden parity runs
// in tests/golden/s3gen_flow_test.cc).
#include "models/s3gen/s3gen_flow.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "core/rng.h"
#include "layers/padded_conv1d.h"
#include "models/s3gen/conditional_decoder.h"
#include "models/synthetic_weights.h"
#include "ops/layout.h"
#include "ops/rel_shift.h"
#include "ops/upsample.h"

namespace chatterd {
namespace {

Tensor random_tensor(const Shape& s, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  Tensor t = Tensor::empty(s, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(gen);
  return t;
}

Tensor ids(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_span<std::int64_t>(v, {1, n});
}

// A small S3Gen flow: real structure, toy widths.
S3GenConfig tiny_config(bool meanflow) {
  S3GenConfig c = S3GenConfig::defaults(meanflow ? Variant::Turbo : Variant::English);
  c.encoder.input_size = c.encoder.output_size = 16;
  c.encoder.attention_heads = 2;
  c.encoder.linear_units = 32;
  c.encoder.num_blocks = 1;
  c.encoder.num_up_blocks = 1;
  c.estimator.channels = 16;
  c.estimator.num_heads = 2;
  c.estimator.attention_head_dim = 8;
  c.estimator.n_blocks = 1;
  c.estimator.num_mid_blocks = 1;
  c.estimator.time_embed_dim = 32;
  c.n_cfm_timesteps = meanflow ? 2 : 3;
  return c;
}

std::shared_ptr<WeightStore> tiny_weights(const S3GenConfig& c) {
  return make_synthetic_weights(s3gen_flow_tensor_specs(c), 7, "synthetic:tiny-flow");
}

S3GenPrompt tiny_prompt(const S3GenConfig& c, std::int64_t tp) {
  S3GenPrompt p;
  std::vector<std::int64_t> t;
  for (std::int64_t i = 0; i < tp; ++i) t.push_back((i * 97) % c.vocab_size);
  p.tokens = Tensor::from_span<std::int64_t>(t, {1, tp});
  p.mel = random_tensor({1, c.token_mel_ratio * tp, c.mel_bins}, 3);
  p.embedding = random_tensor({1, c.spk_embed_dim}, 4);
  return p;
}

// --- rel-pos attention pieces ---------------------------------------------------------------

// torch's rel_shift literally: pad a zero column on the left, view as [2T, T], drop the first
// row, view back as [T, 2T - 1], keep the first T columns.
std::vector<float> torch_rel_shift(const std::vector<float>& bd, std::int64_t t) {
  const std::int64_t w = 2 * t - 1;
  std::vector<float> padded;
  for (std::int64_t i = 0; i < t; ++i) {
    padded.push_back(0.0f);
    for (std::int64_t j = 0; j < w; ++j) padded.push_back(bd[static_cast<std::size_t>(i * w + j)]);
  }
  // padded viewed as [w + 1, t]; drop the first row (t values); view as [t, w].
  const std::vector<float> rest(padded.begin() + t, padded.end());
  std::vector<float> out;
  for (std::int64_t i = 0; i < t; ++i) {
    for (std::int64_t j = 0; j < t; ++j) out.push_back(rest[static_cast<std::size_t>(i * w + j)]);
  }
  return out;
}

TEST(S3GenRelPos, RelShiftMatchesTorchsPadAndViewTrick) {
  for (std::int64_t t : {1, 2, 5, 9}) {
    const Tensor bd = random_tensor({2, t, 2 * t - 1}, static_cast<std::uint32_t>(t));
    Tensor out;
    ops::rel_shift(ExecContext{}, bd, out);
    ASSERT_EQ(out.shape(), (Shape{2, t, t}));
    for (std::int64_t h = 0; h < 2; ++h) {
      const float* b = bd.data<float>() + h * t * (2 * t - 1);
      const auto want = torch_rel_shift(std::vector<float>(b, b + t * (2 * t - 1)), t);
      for (std::int64_t k = 0; k < t * t; ++k) {
        EXPECT_EQ(out.data<float>()[h * t * t + k], want[static_cast<std::size_t>(k)])
            << "T=" << t << " head " << h << " index " << k;
      }
    }
  }
}

TEST(S3GenRelPos, TableRowsRunFromPlusToMinusTMinusOne) {
  const std::int64_t t = 4, d = 8;
  const Tensor pe = ops::espnet_rel_pos_table(t, d);
  ASSERT_EQ(pe.shape(), (Shape{2 * t - 1, d}));
  const float* row0 = pe.data<float>();                    // p = +3
  const float* mid = pe.data<float>() + (t - 1) * d;       // p = 0
  const float* last = pe.data<float>() + (2 * t - 2) * d;  // p = -3
  for (std::int64_t k = 0; k < d / 2; ++k) {
    EXPECT_EQ(mid[2 * k], 0.0f);
    EXPECT_EQ(mid[2 * k + 1], 1.0f);
    const double w = std::exp(-static_cast<double>(2 * k) * std::log(10000.0) / d);
    EXPECT_NEAR(row0[2 * k], std::sin(3.0 * w), 1e-6);
    EXPECT_NEAR(row0[2 * k + 1], std::cos(3.0 * w), 1e-6);
    EXPECT_EQ(last[2 * k], -row0[2 * k]);
    EXPECT_EQ(last[2 * k + 1], row0[2 * k + 1]);
  }
}

// --- time embedding, time grid -----------------------------------------------------------------

TEST(S3GenTime, SinusoidalEmbeddingIsSinThenCosScaledBy1000) {
  const std::vector<float> t = {0.0f, 0.5f};
  const std::int64_t dim = 8;
  const Tensor e = sinusoidal_time_embedding(t, dim);
  ASSERT_EQ(e.shape(), (Shape{2, dim}));
  for (std::int64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(e.data<float>()[k], 0.0f);      // sin(0)
    EXPECT_EQ(e.data<float>()[4 + k], 1.0f);  // cos(0)
    const double w = std::exp(-static_cast<double>(k) * std::log(10000.0) / 3.0);
    EXPECT_NEAR(e.data<float>()[dim + k], std::sin(500.0 * w), 2e-4);
    EXPECT_NEAR(e.data<float>()[dim + 4 + k], std::cos(500.0 * w), 2e-4);
  }
}

TEST(S3GenTime, MeanflowGridIsLinearAndCfgGridIsCosine) {
  EXPECT_EQ(flow_time_grid(2, false), (std::vector<float>{0.0f, 0.5f, 1.0f}));
  const auto g = flow_time_grid(10, true);
  ASSERT_EQ(g.size(), 11u);
  EXPECT_EQ(g.front(), 0.0f);
  EXPECT_NEAR(g.back(), 1.0f, 1e-7);
  EXPECT_NEAR(g[5], 1.0 - std::cos(0.25 * 3.14159265358979), 1e-6);
  for (std::size_t i = 1; i < g.size(); ++i) EXPECT_GT(g[i], g[i - 1]);
  EXPECT_THROW(flow_time_grid(0, false), InvalidArgument);
}

// --- padding sides ----------------------------------------------------------------------------

std::shared_ptr<WeightStore> conv_store(std::vector<float> w) {
  const auto k = static_cast<std::int64_t>(w.size());
  std::map<std::string, Tensor, std::less<>> m;
  m["c.weight"] = Tensor::from_span<float>(w, {1, 1, k});
  return WeightStore::from_tensors(std::move(m), "test");
}

TEST(S3GenPadding, CausalConvPadsOnTheLeftAndLookaheadOnTheRight) {
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const Tensor xt = Tensor::from_span<float>(x, {1, 1, 5});
  auto at = [&](std::int64_t i) { return i >= 0 && i < 5 ? x[static_cast<std::size_t>(i)] : 0.0f; };
  {  // CausalConv1d k3: left pad 2, out[t] = w0 x[t-2] + w1 x[t-1] + w2 x[t].
    const auto s = conv_store({1.0f, 10.0f, 100.0f});
    const layers::PaddedConv1d c(*s, "c", 1, 1, 3, 2, 0, false);
    Tensor y;
    c.forward(ExecContext{}, xt, y);
    ASSERT_EQ(y.shape(), (Shape{1, 1, 5}));
    for (std::int64_t t = 0; t < 5; ++t)
      EXPECT_EQ(y.data<float>()[t], at(t - 2) + 10 * at(t - 1) + 100 * at(t));
  }
  {  // PreLookahead conv1 k4: right pad 3, out[t] = sum_k w_k x[t + k].
    const auto s = conv_store({1.0f, 10.0f, 100.0f, 1000.0f});
    const layers::PaddedConv1d c(*s, "c", 1, 1, 4, 0, 3, false);
    Tensor y;
    c.forward(ExecContext{}, xt, y);
    ASSERT_EQ(y.shape(), (Shape{1, 1, 5}));
    for (std::int64_t t = 0; t < 5; ++t)
      EXPECT_EQ(y.data<float>()[t], at(t) + 10 * at(t + 1) + 100 * at(t + 2) + 1000 * at(t + 3));
  }
}

TEST(S3GenPadding, UpsampleIsNearestThenLeftPaddedConv) {
  const std::vector<float> x = {1, 2, 3};
  Tensor up;
  ops::upsample_nearest1d(ExecContext{}, Tensor::from_span<float>(x, {1, 1, 3}), 2, up);
  ASSERT_EQ(up.shape(), (Shape{1, 1, 6}));
  EXPECT_EQ(std::vector<float>(up.data<float>(), up.data<float>() + 6),
            (std::vector<float>{1, 1, 2, 2, 3, 3}));
  // k5 with left pad 4: frame t sees upsampled frames t-4..t, so 2T frames out.
  const auto s = conv_store({1.0f, 0.0f, 0.0f, 0.0f, 0.0f});
  const layers::PaddedConv1d c(*s, "c", 1, 1, 5, 4, 0, false);
  Tensor y;
  c.forward(ExecContext{}, up, y);
  EXPECT_EQ(std::vector<float>(y.data<float>(), y.data<float>() + 6),
            (std::vector<float>{0, 0, 0, 0, 1, 1}));
}

// --- estimator mask handling -----------------------------------------------------------------

TEST(S3GenEstimator, MaskedTailNeitherLeaksIntoValidFramesNorProducesOutput) {
  for (bool meanflow : {true, false}) {
    const S3GenConfig c = tiny_config(meanflow);
    const auto w = tiny_weights(c);
    const ConditionalDecoder est(*w, "flow.decoder.estimator", c.estimator, meanflow);
    const std::int64_t t_all = 12, t_valid = 8, mel = c.mel_bins;
    const Tensor x = random_tensor({1, mel, t_all}, 11);
    const Tensor mu = random_tensor({1, mel, t_all}, 12);
    const Tensor cond = random_tensor({1, mel, t_all}, 13);
    const Tensor spks = random_tensor({1, mel}, 14);
    Tensor mask = Tensor::zeros({1, 1, t_all}, DType::F32);
    for (std::int64_t i = 0; i < t_valid; ++i) mask.data<float>()[i] = 1.0f;
    const std::vector<float> t = {0.3f}, r = {0.8f};
    EstimatorInputs in{&x, &mask, &mu, &spks, &cond, t, {}};
    if (meanflow) in.r = r;
    Tensor full;
    est.forward(ExecContext{}, in, full);

    Tensor xs, mus, conds;
    ops::slice(ExecContext{}, x, 2, 0, t_valid, xs);
    ops::slice(ExecContext{}, mu, 2, 0, t_valid, mus);
    ops::slice(ExecContext{}, cond, 2, 0, t_valid, conds);
    Tensor ones = Tensor::empty({1, 1, t_valid}, DType::F32);
    std::fill_n(ones.data<float>(), t_valid, 1.0f);
    EstimatorInputs in2{&xs, &ones, &mus, &spks, &conds, t, in.r};
    Tensor part;
    est.forward(ExecContext{}, in2, part);

    double max_ref = 0.0, max_diff = 0.0;
    for (std::int64_t m = 0; m < mel; ++m) {
      for (std::int64_t f = 0; f < t_all; ++f) {
        const float v = full.data<float>()[m * t_all + f];
        if (f >= t_valid) {
          EXPECT_EQ(v, 0.0f) << "masked frame " << f;
          continue;
        }
        const float ref = part.data<float>()[m * t_valid + f];
        max_ref = std::max(max_ref, std::fabs(static_cast<double>(ref)));
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(v - ref)));
      }
    }
    EXPECT_GT(max_ref, 0.0);
    EXPECT_LE(max_diff, 1e-5 * max_ref) << "meanflow " << meanflow;
  }
}

// --- S3GenFlow API contracts -------------------------------------------------------------------

class S3GenFlowApi : public ::testing::TestWithParam<bool> {
 protected:
  S3GenFlowApi()
      : config_(tiny_config(GetParam())),
        weights_(tiny_weights(config_)),
        flow_(*weights_, config_) {}
  S3GenConfig config_;
  std::shared_ptr<WeightStore> weights_;
  S3GenFlow flow_;
};

TEST_P(S3GenFlowApi, OneTokenGivesTwoFramesAndSeedsAreReproducible) {
  const S3GenPrompt p = tiny_prompt(config_, 5);
  Rng a(42), b(42), c(43);
  const Tensor m1 = flow_.infer(ExecContext{}, ids({123}), p, &a);
  const Tensor m2 = flow_.infer(ExecContext{}, ids({123}), p, &b);
  const Tensor m3 = flow_.infer(ExecContext{}, ids({123}), p, &c);
  ASSERT_EQ(m1.shape(), (Shape{1, 80, 2}));
  for (std::int64_t i = 0; i < m1.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(m1.data<float>()[i]));
    EXPECT_EQ(m1.data<float>()[i], m2.data<float>()[i]);
  }
  bool differs = false;
  for (std::int64_t i = 0; i < m1.numel(); ++i)
    differs |= m1.data<float>()[i] != m3.data<float>()[i];
  EXPECT_TRUE(differs);
}

TEST_P(S3GenFlowApi, EmptyPromptAndInjectedNoise) {
  const S3GenPrompt p = tiny_prompt(config_, 0);
  const Tensor z = random_tensor({1, 80, 8}, 9);
  S3GenFlowOptions o;
  o.noise = &z;
  const Tensor m = flow_.infer(ExecContext{}, ids({1, 2, 3, 4}), p, nullptr, o);
  EXPECT_EQ(m.shape(), (Shape{1, 80, 8}));
  // Noise of the wrong length is refused.
  const Tensor z_bad = random_tensor({1, 80, 7}, 9);
  o.noise = &z_bad;
  EXPECT_THROW(flow_.infer(ExecContext{}, ids({1, 2, 3, 4}), p, nullptr, o), ShapeError);
  // Neither noise nor a generator.
  EXPECT_THROW(flow_.infer(ExecContext{}, ids({1, 2, 3, 4}), p, nullptr, {}), InvalidArgument);
}

TEST_P(S3GenFlowApi, NonFinalChunkDropsTheLookaheadFramesAndTheirMask) {
  const S3GenPrompt p = tiny_prompt(config_, 4);
  Rng rng(1);
  S3GenFlowOptions o;
  o.finalize = false;
  const Tensor m = flow_.infer(ExecContext{}, ids({5, 6, 7, 8, 9}), p, &rng, o);
  EXPECT_EQ(m.shape(), (Shape{1, 80, 10 - 6}));
  // Fewer speech tokens than the look-ahead leave nothing to emit.
  EXPECT_THROW(flow_.infer(ExecContext{}, ids({5, 6, 7}), p, &rng, o), InvalidArgument);
}

TEST_P(S3GenFlowApi, BadInputsAreRefusedWithTheirValues) {
  const S3GenPrompt p = tiny_prompt(config_, 3);
  Rng rng(1);
  const ExecContext ctx;
  EXPECT_THROW(flow_.infer(ctx, Tensor::empty({1, 0}, DType::I64), p, &rng), InvalidArgument);
  try {
    flow_.infer(ctx, ids({1, 6561, 2}), p, &rng);
    FAIL() << "token 6561 accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("6561"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("position 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(flow_.infer(ctx, ids({-1}), p, &rng), InvalidArgument);
  S3GenPrompt bad = p;
  bad.mel = random_tensor({1, 5, 80}, 1);  // 3 tokens need 6 frames
  try {
    flow_.infer(ctx, ids({1}), bad, &rng);
    FAIL() << "prompt mismatch accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("5 frames"), std::string::npos) << e.what();
  }
  bad = p;
  bad.mel = random_tensor({1, 6, 81}, 1);
  EXPECT_THROW(flow_.infer(ctx, ids({1}), bad, &rng), ShapeError);
  bad = p;
  bad.embedding = random_tensor({1, 191}, 1);
  EXPECT_THROW(flow_.infer(ctx, ids({1}), bad, &rng), ShapeError);
  // Too long: refused before any compute.
  std::vector<std::int64_t> many(static_cast<std::size_t>(S3GenFlow::kMaxTokens), 1);
  try {
    flow_.infer(ctx, ids(many), p, &rng);
    FAIL() << "over-long input accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Solvers, S3GenFlowApi, ::testing::Values(true, false),
                         [](const auto& param_info) {
                           return param_info.param ? "meanflow" : "cfg";
                         });

}  // namespace
}  // namespace chatterd
