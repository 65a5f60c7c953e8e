#include "ops/lstm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"

namespace chatterd::ops {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float bound) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uniform_real_distribution<float> dist(-bound, bound);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<LstmLayerWeights> random_layers(std::int64_t L, std::int64_t I, std::int64_t H,
                                            std::mt19937& rng) {
  const float k = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's init range
  std::vector<LstmLayerWeights> layers;
  for (std::int64_t l = 0; l < L; ++l) {
    layers.push_back({random_tensor({4 * H, l == 0 ? I : H}, rng, k),
                      random_tensor({4 * H, H}, rng, k), random_tensor({4 * H}, rng, k),
                      random_tensor({4 * H}, rng, k)});
  }
  return layers;
}

struct Ref {
  std::vector<double> out, h_n, c_n;
};

// Straight from the PyTorch formulas, in double.
Ref reference_lstm(const Tensor& x, const std::vector<LstmLayerWeights>& layers) {
  const std::int64_t B = x.dim(0), T = x.dim(1), I = x.dim(2);
  const std::int64_t H = layers[0].w_hh.dim(1);
  std::vector<double> in(x.data<float>(), x.data<float>() + x.numel());
  Ref ref;
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  std::int64_t in_size = I;
  for (const auto& w : layers) {
    const float* w_ih = w.w_ih.data<float>();
    const float* w_hh = w.w_hh.data<float>();
    const float* b_ih = w.b_ih.data<float>();
    const float* b_hh = w.b_hh.data<float>();
    std::vector<double> next(static_cast<std::size_t>(B * T * H));
    for (std::int64_t b = 0; b < B; ++b) {
      std::vector<double> h(H, 0.0), c(H, 0.0);
      for (std::int64_t t = 0; t < T; ++t) {
        std::vector<double> pre(4 * H);
        for (std::int64_t r = 0; r < 4 * H; ++r) {
          double acc = double{b_ih[r]} + b_hh[r];
          for (std::int64_t i = 0; i < in_size; ++i) {
            acc += w_ih[r * in_size + i] * in[(b * T + t) * in_size + i];
          }
          for (std::int64_t i = 0; i < H; ++i) acc += w_hh[r * H + i] * h[i];
          pre[r] = acc;
        }
        for (std::int64_t j = 0; j < H; ++j) {
          c[j] = sig(pre[H + j]) * c[j] + sig(pre[j]) * std::tanh(pre[2 * H + j]);
          h[j] = sig(pre[3 * H + j]) * std::tanh(c[j]);
          next[(b * T + t) * H + j] = h[j];
        }
      }
      ref.h_n.insert(ref.h_n.end(), h.begin(), h.end());
      ref.c_n.insert(ref.c_n.end(), c.begin(), c.end());
    }
    in = std::move(next);
    in_size = H;
  }
  ref.out = in;
  return ref;
}

void expect_close(const Tensor& got, const std::vector<double>& want, double tol,
                  const char* what) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size())) << what;
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.data<float>()[i], want[i], tol) << what << " at " << i;
  }
}

TEST(Lstm, MatchesScalarReference) {
  std::mt19937 rng(31);
  ThreadPool pool(3);
  for (std::int64_t H : {32, 256}) {
    for (std::int64_t B : {1, 3}) {
      const std::int64_t L = 3, I = 40, T = 160;
      const auto layers = random_layers(L, I, H, rng);
      Tensor x = random_tensor({B, T, I}, rng, 1.0f);
      const Ref ref = reference_lstm(x, layers);
      Tensor out, h_n, c_n;
      lstm({}, x, layers, out, &h_n, &c_n);
      SCOPED_TRACE(testing::Message() << "H=" << H << " B=" << B);
      ASSERT_EQ(out.shape(), (Shape{B, T, H}));
      ASSERT_EQ(h_n.shape(), (Shape{L, B, H}));
      expect_close(out, ref.out, 2e-5, "out");
      expect_close(h_n, ref.h_n, 2e-5, "h_n");
      expect_close(c_n, ref.c_n, 2e-5, "c_n");
      // The top layer's h_n is the last output step.
      for (std::int64_t b = 0; b < B; ++b) {
        for (std::int64_t j = 0; j < H; ++j) {
          ASSERT_EQ(h_n.data<float>()[((L - 1) * B + b) * H + j],
                    out.data<float>()[(b * T + T - 1) * H + j]);
        }
      }
      Tensor pout;
      lstm(ExecContext{&pool}, x, layers, pout);
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        ASSERT_EQ(out.data<float>()[i], pout.data<float>()[i]);
      }
    }
  }
}

TEST(Lstm, Errors) {
  std::mt19937 rng(1);
  auto layers = random_layers(2, 8, 4, rng);
  Tensor out;
  Tensor x = Tensor::zeros({1, 5, 7}, DType::F32);  // input size 7 != 8
  EXPECT_THROW(lstm({}, x, layers, out), ShapeError);
  Tensor x8 = Tensor::zeros({1, 5, 8}, DType::F32);
  EXPECT_NO_THROW(lstm({}, x8, layers, out));
  EXPECT_THROW(lstm({}, x8, std::span<const LstmLayerWeights>{}, out), InvalidArgument);
  auto bad = layers;
  bad[1].w_hh = Tensor::zeros({16, 5}, DType::F32);
  EXPECT_THROW(lstm({}, x8, bad, out), ShapeError);
  bad = layers;
  bad[0].b_hh = Tensor::zeros({15}, DType::F32);
  EXPECT_THROW(lstm({}, x8, bad, out), ShapeError);
  bad = layers;
  bad[0].w_ih = Tensor::zeros({16, 8}, DType::I32);
  EXPECT_THROW(lstm({}, x8, bad, out), DTypeError);
  Tensor x2 = Tensor::zeros({5, 8}, DType::F32);
  EXPECT_THROW(lstm({}, x2, layers, out), ShapeError);
}

}  // namespace
}  // namespace chatterd::ops
