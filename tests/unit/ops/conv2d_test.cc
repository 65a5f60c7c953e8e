#include "ops/conv2d.h"

#include <gtest/gtest.h>

#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd::ops {
namespace {

// Direct definition: out[b, o, y, x] = bias[o] + sum_{c,i,j} w[o,c,i,j] * in[b, c, y*sh-ph+i, ...]
std::vector<float> conv2d_reference(const Tensor& x, const Tensor& w, const Tensor* bias,
                                    const Conv2dOptions& o) {
  const std::int64_t B = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  const std::int64_t O = w.dim(0), KH = w.dim(2), KW = w.dim(3);
  const std::int64_t HO = (H + 2 * o.pad_h - KH) / o.stride_h + 1;
  const std::int64_t WO = (W + 2 * o.pad_w - KW) / o.stride_w + 1;
  std::vector<float> out(static_cast<std::size_t>(B * O * HO * WO));
  const float* xs = x.data<float>();
  const float* ws = w.data<float>();
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t oc = 0; oc < O; ++oc)
      for (std::int64_t y = 0; y < HO; ++y)
        for (std::int64_t xo = 0; xo < WO; ++xo) {
          double acc = bias != nullptr ? bias->data<float>()[oc] : 0.0;
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t i = 0; i < KH; ++i)
              for (std::int64_t j = 0; j < KW; ++j) {
                const std::int64_t iy = y * o.stride_h - o.pad_h + i;
                const std::int64_t ix = xo * o.stride_w - o.pad_w + j;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += static_cast<double>(ws[((oc * C + c) * KH + i) * KW + j]) *
                       xs[((b * C + c) * H + iy) * W + ix];
              }
          out[static_cast<std::size_t>(((b * O + oc) * HO + y) * WO + xo)] =
              static_cast<float>(acc);
        }
  return out;
}

TEST(Conv2d, MatchesScalarReference) {
  ThreadPool pool(3);
  struct Case {
    Shape x, w;
    Conv2dOptions o;
    bool bias;
  };
  const Case cases[] = {
      {{1, 1, 80, 37}, {5, 1, 3, 3}, {1, 1, 1, 1}, false},  // FCM conv1
      {{1, 4, 17, 9}, {4, 4, 3, 3}, {2, 1, 1, 1}, true},    // (2, 1) stride, odd height
      {{2, 3, 8, 6}, {5, 3, 1, 1}, {2, 1, 0, 0}, false},    // shortcut 1x1
      {{1, 2, 5, 7}, {3, 2, 2, 3}, {1, 2, 0, 1}, true},     // rectangular kernel, stride on W
  };
  std::uint32_t seed = 1;
  for (const Case& c : cases) {
    const Tensor x = test::random_f32(c.x, seed++);
    const Tensor w = test::random_f32(c.w, seed++);
    const Tensor b = test::random_f32({c.w.dim(0)}, seed++);
    const auto ref = conv2d_reference(x, w, c.bias ? &b : nullptr, c.o);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      ExecContext ctx;
      ctx.pool = p;
      Tensor out;
      conv2d(ctx, x, w, c.bias ? &b : nullptr, c.o, out);
      ASSERT_EQ(static_cast<std::size_t>(out.numel()), ref.size());
      for (std::size_t i = 0; i < ref.size(); ++i) {
        EXPECT_NEAR(out.data<float>()[i], ref[i], 1e-5f) << i;
      }
    }
  }
}

TEST(Conv2d, Errors) {
  ExecContext ctx;
  Tensor out;
  const Tensor x = Tensor::zeros({1, 2, 4, 4}, DType::F32);
  EXPECT_THROW(conv2d(ctx, x, Tensor::zeros({3, 1, 3, 3}, DType::F32), nullptr, {}, out),
               ShapeError);
  EXPECT_THROW(conv2d(ctx, x, Tensor::zeros({3, 2, 5, 5}, DType::F32), nullptr, {}, out),
               ShapeError);
  EXPECT_THROW(conv2d(ctx, Tensor::zeros({2, 4, 4}, DType::F32),
                      Tensor::zeros({3, 2, 3, 3}, DType::F32), nullptr, {}, out),
               ShapeError);
  Conv2dOptions bad;
  bad.stride_h = 0;
  EXPECT_THROW(conv2d(ctx, x, Tensor::zeros({3, 2, 3, 3}, DType::F32), nullptr, bad, out),
               InvalidArgument);
}

}  // namespace
}  // namespace chatterd::ops
