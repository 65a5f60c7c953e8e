// CAMPPlus pieces with known answers: segment pooling (ceil mode, partial last segment), unbiased
// std stats pooling, BatchNorm folding; the network on synthetic weights: bad input, threads.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "layers/batch_norm.h"
#include "models/campplus/campplus.h"
#include "models/synthetic_weights.h"
#include "ops/conv1d.h"

namespace chatterd {
namespace {

Tensor row_tensor(const std::vector<float>& v, std::int64_t rows) {
  return Tensor::from_span<float>(v, {rows, static_cast<std::int64_t>(v.size()) / rows});
}

TEST(CampPlusSegmentMeans, CeilModeAveragesOnlyValidFramesOfTheLastSegment) {
  std::vector<float> v(250);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  Tensor out;
  campplus_segment_means(row_tensor(v, 1), 100, out);
  ASSERT_EQ(out.shape(), Shape({1, 3}));
  EXPECT_FLOAT_EQ(out.data<float>()[0], 49.5f);
  EXPECT_FLOAT_EQ(out.data<float>()[1], 149.5f);
  EXPECT_FLOAT_EQ(out.data<float>()[2], 224.5f);  // frames 200..249, not divided by 100
  // Shorter than one segment: one segment over all frames.
  campplus_segment_means(row_tensor({1, 2, 3}, 1), 100, out);
  ASSERT_EQ(out.shape(), Shape({1, 1}));
  EXPECT_FLOAT_EQ(out.data<float>()[0], 2.0f);
  // Exactly two segments: no extra one.
  campplus_segment_means(row_tensor(std::vector<float>(200, 1.0f), 1), 100, out);
  EXPECT_EQ(out.shape(), Shape({1, 2}));
}

TEST(CampPlusStatsPool, MeanAndUnbiasedStd) {
  Tensor out;
  campplus_stats_pool(row_tensor({1, 2, 3, 4, 10, 10, 10, 10}, 2), out);
  ASSERT_EQ(out.shape(), Shape({4}));
  EXPECT_FLOAT_EQ(out.data<float>()[0], 2.5f);
  EXPECT_FLOAT_EQ(out.data<float>()[1], 10.0f);
  EXPECT_FLOAT_EQ(out.data<float>()[2], std::sqrt(5.0f / 3.0f));  // n - 1 = 3, not 4
  EXPECT_FLOAT_EQ(out.data<float>()[3], 0.0f);
  EXPECT_THROW(campplus_stats_pool(row_tensor({1, 2}, 2), out), ShapeError);
}

TEST(BatchNormFold, FoldedConvEqualsConvThenBatchNorm) {
  const std::vector<float> mean = {0.5f, -1.0f}, var = {2.0f, 0.25f};
  const std::vector<float> gamma = {1.5f, -0.5f}, beta = {0.1f, 0.2f};
  const auto bn = layers::BatchNorm::from_stats(mean, var, gamma, beta, 1e-5f);
  std::vector<float> wv = {0.3f, -0.2f, 0.7f, 0.1f, 0.4f, -0.6f};  // [2, 1, 3]
  const Tensor w = Tensor::from_span<float>(wv, {2, 1, 3});
  const Tensor x = Tensor::from_span<float>(std::vector<float>{1, -2, 3, 0.5f, 4}, {1, 1, 5});
  ExecContext ctx;
  ops::Conv1dOptions o;
  o.pad_left = o.pad_right = 1;
  Tensor y, y_bn;
  ops::conv1d(ctx, x, w, nullptr, o, y);
  bn.forward(ctx, y, y_bn);
  Tensor wf = w.clone(), bf;
  bn.fold_into(wf, bf);
  Tensor y_fold;
  ops::conv1d(ctx, x, wf, &bf, o, y_fold);
  for (std::int64_t i = 0; i < y.numel(); ++i) {
    const std::int64_t c = i / 5;
    const float expect =
        (y.data<float>()[i] - mean[c]) / std::sqrt(var[c] + 1e-5f) * gamma[c] + beta[c];
    EXPECT_NEAR(y_bn.data<float>()[i], expect, 1e-5f);
    EXPECT_NEAR(y_fold.data<float>()[i], expect, 1e-5f);
  }
  // affine = false: (x - mean) / sqrt(var + eps) only.
  const auto plain = layers::BatchNorm::from_stats(mean, var, {}, {}, 1e-5f);
  EXPECT_FLOAT_EQ(plain.shift()[0], -0.5f / std::sqrt(2.0f + 1e-5f));
  EXPECT_FLOAT_EQ(plain.scale()[1], 1.0f / std::sqrt(0.25f + 1e-5f));
}

CampPlusConfig tiny_campplus() {
  CampPlusConfig c;
  c.growth_rate = 4;
  c.bn_size = 2;
  c.init_channels = 8;
  c.m_channels = 4;
  c.block_num_layers = {2, 3, 2};
  return c;
}

// Synthetic weights with positive BatchNorm variances (the generator draws U(-a, a)).
std::shared_ptr<WeightStore> synthetic_campplus(const CampPlusConfig& cfg) {
  const auto raw = make_synthetic_weights(campplus_tensor_specs(cfg), 11, "synthetic:campplus");
  std::map<std::string, Tensor, std::less<>> tensors;
  for (const auto& info : raw->tensors()) {
    Tensor t = raw->get_any(info.name);
    if (info.name.ends_with("running_var")) {
      t = t.clone();
      for (std::int64_t i = 0; i < t.numel(); ++i) {
        t.data<float>()[i] = 1.0f + std::fabs(t.data<float>()[i]);
      }
    }
    tensors.emplace(info.name, t);
  }
  return WeightStore::from_tensors(std::move(tensors), "synthetic:campplus");
}

class CampPlusNet : public ::testing::Test {
 protected:
  CampPlusConfig cfg_ = tiny_campplus();
  std::shared_ptr<WeightStore> store_ = synthetic_campplus(cfg_);
  CampPlus net_{*store_, cfg_};
  ExecContext ctx_;
};

Tensor ramp_fbank(std::int64_t frames, std::int64_t bins) {
  Tensor t = Tensor::empty({frames, bins}, DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data<float>()[i] = std::sin(0.37f * static_cast<float>(i));
  }
  return t;
}

TEST_F(CampPlusNet, OutputShapeAndThreadInvariance) {
  const Tensor fb = ramp_fbank(230, cfg_.feat_dim);  // 115 frames after the TDNN: 2 segments
  const Tensor a = net_.embed(ctx_, fb);
  ASSERT_EQ(a.shape(), Shape({1, cfg_.embedding_size}));
  ThreadPool pool(2);
  ExecContext pctx;
  pctx.pool = &pool;
  const Tensor b = net_.embed(pctx, fb.reshape({1, 230, cfg_.feat_dim}));
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(a.data<float>()[i]));
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i],
                1e-5f * (1 + std::fabs(a.data<float>()[i])));
  }
}

TEST_F(CampPlusNet, RejectsBadFeatures) {
  EXPECT_THROW(net_.embed(ctx_, Tensor::zeros({0, cfg_.feat_dim}, DType::F32)), InvalidArgument);
  EXPECT_THROW(net_.embed(ctx_, Tensor::zeros({2, cfg_.feat_dim}, DType::F32)), InvalidArgument);
  EXPECT_THROW(net_.embed(ctx_, Tensor::zeros({50, cfg_.feat_dim - 8}, DType::F32)), ShapeError);
  // 3 frames -> 2 after the stride-2 TDNN: the smallest valid input.
  EXPECT_NO_THROW(net_.embed(ctx_, ramp_fbank(3, cfg_.feat_dim)));
}

}  // namespace
}  // namespace chatterd
