#include "ops/norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/thread_pool.h"
#include "ops/softmax.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

constexpr std::int64_t kDims[] = {1, 2, 7, 16, 17, 31, 100, 515};
constexpr double kEps = std::numeric_limits<float>::epsilon();

TEST(Softmax, MatchesReferenceOnEveryIsa) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (const auto isa : cpu::supported_isas()) {
    for (const std::int64_t d : kDims) {
      Tensor x = random_f32(Shape{3, d}, static_cast<std::uint32_t>(d), -30.0f, 30.0f);
      x.data<float>()[0] = ninf;  // a masked entry in row 0
      for (std::int64_t j = 0; j < d; ++j) x.data<float>()[2 * d + j] = ninf;  // row 2 all -inf
      std::vector<double> sm(static_cast<std::size_t>(3 * d));
      std::vector<double> lsm(sm.size());
      std::vector<double> sm_tol(sm.size());
      std::vector<double> lsm_tol(sm.size());
      for (int r = 0; r < 3; ++r) {
        const float* row = x.data<float>() + r * d;
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < d; ++j) mx = std::max(mx, double(row[j]));
        double s = 0;
        if (mx != -INFINITY) {
          for (std::int64_t j = 0; j < d; ++j) s += std::exp(row[j] - mx);
        }
        for (std::int64_t j = 0; j < d; ++j) {
          const std::size_t i = static_cast<std::size_t>(r * d + j);
          if (mx == -INFINITY) {  // the documented fully-masked row
            sm[i] = 0.0;
            lsm[i] = -INFINITY;
            continue;
          }
          sm[i] = std::exp(row[j] - mx) / s;
          lsm[i] = row[j] - mx - std::log(s);
          // x - max rounds to f32 (relative eps): exp turns that into a relative error of
          // eps * |x - max|; plus a few ulp for exp, the sum and the division.
          const double dx = row[j] == -INFINITY ? 0.0 : std::fabs(row[j] - mx);
          sm_tol[i] = sm[i] * kEps * (dx + 8);
          lsm_tol[i] = kEps * (dx + std::fabs(std::log(s)) + 4);
        }
      }
      const std::string what = fmt::format("{} d={}", cpu::isa_name(isa), d);
      Tensor out;
      ops::softmax(context_for(isa), x, out);
      test::expect_close(out, sm, 0.0, sm_tol, "softmax " + what);
      ops::log_softmax(context_for(isa), x, out);
      test::expect_close(out, lsm, 0.0, lsm_tol, "log_softmax " + what);
      Tensor inplace = x.clone();
      ops::softmax(context_for(isa), inplace, inplace);
      ops::softmax(context_for(isa), x, out);
      test::expect_equal(inplace, out, "softmax in place " + what);
    }
  }
}

TEST(LayerNorm, MatchesReferenceOnEveryIsa) {
  ThreadPool pool(2);
  for (const auto isa : cpu::supported_isas()) {
    for (const std::int64_t d : kDims) {
      const Tensor x = random_f32(Shape{2, 3, d}, static_cast<std::uint32_t>(d + 1), -2.0f, 5.0f);
      const Tensor g = random_f32(Shape{d}, 2);
      const Tensor b = random_f32(Shape{d}, 3);
      for (const bool affine : {false, true}) {
        std::vector<double> want(static_cast<std::size_t>(x.numel()));
        for (std::int64_t r = 0; r < 6; ++r) {
          const float* row = x.data<float>() + r * d;
          double mean = 0;
          for (std::int64_t j = 0; j < d; ++j) mean += row[j];
          mean /= double(d);
          double var = 0;
          for (std::int64_t j = 0; j < d; ++j) var += (row[j] - mean) * (row[j] - mean);
          var /= double(d);
          const double rs = 1.0 / std::sqrt(var + 1e-5);
          for (std::int64_t j = 0; j < d; ++j) {
            double y = (row[j] - mean) * rs;
            if (affine) y = y * g.data<float>()[j] + b.data<float>()[j];
            want[static_cast<std::size_t>(r * d + j)] = y;
          }
        }
        Tensor out;
        ops::layer_norm(context_for(isa), x, affine ? &g : nullptr, affine ? &b : nullptr, out,
                        1e-5f);
        // Normalised values are O(1); mean/variance sums carry ~sqrt(d) eps error.
        const double tol = kEps * (4 + 2 * std::sqrt(double(d)));
        test::expect_close(
            out, want, tol, tol,
            fmt::format("layer_norm {} d={} affine={}", cpu::isa_name(isa), d, affine));
        Tensor par;
        ops::layer_norm(context_for(isa, &pool), x, affine ? &g : nullptr, affine ? &b : nullptr,
                        par, 1e-5f);
        test::expect_equal(par, out, "layer_norm parallel");
      }
    }
  }
}

TEST(RmsNorm, MatchesReferenceOnEveryIsa) {
  for (const auto isa : cpu::supported_isas()) {
    for (const std::int64_t d : kDims) {
      const Tensor x = random_f32(Shape{4, d}, static_cast<std::uint32_t>(d + 7), -3.0f, 3.0f);
      const Tensor g = random_f32(Shape{d}, 4);
      std::vector<double> want(static_cast<std::size_t>(x.numel()));
      for (std::int64_t r = 0; r < 4; ++r) {
        const float* row = x.data<float>() + r * d;
        double ms = 0;
        for (std::int64_t j = 0; j < d; ++j) ms += double(row[j]) * row[j];
        ms /= double(d);
        const double rs = 1.0 / std::sqrt(ms + 1e-6);
        for (std::int64_t j = 0; j < d; ++j) {
          want[static_cast<std::size_t>(r * d + j)] = row[j] * rs * g.data<float>()[j];
        }
      }
      Tensor out = x.clone();
      ops::rms_norm(context_for(isa), out, &g, out, 1e-6f);  // in place
      const double tol = kEps * (4 + 2 * std::sqrt(double(d)));
      test::expect_close(out, want, tol, tol,
                         fmt::format("rms_norm {} d={}", cpu::isa_name(isa), d));
    }
  }
}

TEST(Norm, Errors) {
  Tensor out;
  const Tensor x = random_f32(Shape{2, 8}, 1);
  const Tensor g7 = random_f32(Shape{7}, 2);
  EXPECT_THROW(ops::layer_norm(ExecContext{}, x, &g7, nullptr, out), ShapeError);
  EXPECT_THROW(ops::rms_norm(ExecContext{}, x, &g7, out), ShapeError);
  EXPECT_THROW(ops::rms_norm(ExecContext{}, Tensor::zeros(Shape{2, 8}, DType::BF16), nullptr, out),
               DTypeError);
  EXPECT_THROW(ops::softmax(ExecContext{}, Tensor::zeros(Shape{2}, DType::I32), out), DTypeError);
}

}  // namespace
}  // namespace chatterd
