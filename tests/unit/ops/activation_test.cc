#include "ops/activation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

constexpr double kF32Eps = std::numeric_limits<float>::epsilon();
constexpr std::int64_t kSizes[] = {0, 1, 7, 8, 15, 16, 17, 33, 100, 1000};

struct ActivationCase {
  const char* name;
  std::function<void(const ExecContext&, const Tensor&, Tensor&)> op;
  std::function<double(double)> ref;
  double rel;       // tolerance relative to |ref|
  double abs;       // plus this absolute slack
  double xabs = 0;  // plus this times |x| (formulas that cancel: x * (1 + erf(..)) near -1)
};

double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double sigmoid_ref(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
double mish_ref(double x) {
  const double sp = x > 20.0 ? x : std::log1p(std::exp(x));
  return x * std::tanh(sp);
}

std::vector<ActivationCase> cases() {
  // Relative tolerances: a few f32 ulp (1.2e-7 each) for the polynomial/rational approximations;
  // the absolute slack covers results near 0 where x * (1 + erf) or exp(x) - 1 cancel.
  return {
      {"relu", ops::relu, [](double x) { return x > 0 ? x : 0.0; }, 0, 0},
      // 0.5 x (1 + erf) for negative x: a few ulp of 1 in erf/tanh become an absolute error of
      // ~|x| * eps, intrinsic to the f32 formula (PyTorch's f32 GELU has the same).
      {"gelu", ops::gelu, gelu_ref, 2e-6, 1e-30, kF32Eps},
      {"gelu_tanh", ops::gelu_tanh, gelu_tanh_ref, 2e-6, 1e-30, kF32Eps},
      {"silu", ops::silu, [](double x) { return x * sigmoid_ref(x); }, 2e-6, 1e-30},
      {"mish", ops::mish, mish_ref, 2e-6, 1e-30},
      {"tanh", ops::tanh, [](double x) { return std::tanh(x); }, 2e-6, 1e-30},
      {"sigmoid", ops::sigmoid, sigmoid_ref, 2e-6, 1e-30},
      {"exp", ops::exp, [](double x) { return std::exp(x); }, 1e-6, 1e-30},
      {"leaky_relu",
       [](const ExecContext& c, const Tensor& x, Tensor& o) { ops::leaky_relu(c, x, o, 0.2f); },
       [](double x) { return x > 0 ? x : double(0.2f) * x; }, 1e-7, 0},
      {"elu", [](const ExecContext& c, const Tensor& x, Tensor& o) { ops::elu(c, x, o, 1.5f); },
       [](double x) { return x > 0 ? x : 1.5 * std::expm1(x); }, 2e-6, 3e-7},
      {"scale", [](const ExecContext& c, const Tensor& x, Tensor& o) { ops::scale(c, x, 0.3f, o); },
       [](double x) { return x * double(0.3f); }, 1e-7, 0},
      {"add_scalar",
       [](const ExecContext& c, const Tensor& x, Tensor& o) { ops::add_scalar(c, x, 0.3f, o); },
       [](double x) { return x + double(0.3f); }, 1e-7, 1e-7},
  };
}

TEST(Activation, MatchesReferenceOnEveryIsa) {
  for (const auto isa : cpu::supported_isas()) {
    for (const ActivationCase& c : cases()) {
      for (const std::int64_t n : kSizes) {
        Tensor x = random_f32(Shape{n}, static_cast<std::uint32_t>(n + 3), -9.0f, 9.0f);
        // Special values at the front: 0, tiny, large, beyond the saturation thresholds.
        const float special[] = {0.0f, 1e-5f, -1e-5f, 3e-4f, 25.0f, -25.0f, 90.0f, -90.0f, -0.5f};
        for (std::int64_t i = 0; i < n && i < 9; ++i) x.data<float>()[i] = special[i];
        if (std::string(c.name) == "exp") {  // keep exp inside the finite f32 range here
          for (std::int64_t i = 0; i < n; ++i) {
            x.data<float>()[i] = std::fmax(-80.0f, std::fmin(80.0f, x.data<float>()[i]));
          }
        }
        std::vector<double> want(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) want[i] = c.ref(x.data<float>()[i]);
        Tensor out;
        c.op(context_for(isa), x, out);
        ASSERT_EQ(out.shape(), x.shape());
        std::vector<double> slack(want.size());
        for (std::int64_t i = 0; i < n; ++i) {
          slack[i] = c.abs + c.xabs * std::fabs(double(x.data<float>()[i]));
        }
        test::expect_close(out, want, c.rel, slack,
                           fmt::format("{} {} n={}", c.name, cpu::isa_name(isa), n));
        // In place gives the same bytes.
        Tensor inplace = x.clone();
        c.op(context_for(isa), inplace, inplace);
        test::expect_equal(inplace, out, fmt::format("{} in place", c.name));
      }
    }
  }
}

TEST(Activation, ExpLimits) {
  for (const auto isa : cpu::supported_isas()) {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> v = {-inf, -200.0f, 200.0f, inf, 0.0f};
    const Tensor x = Tensor::from_span<float>(v, Shape{5});
    Tensor out;
    ops::exp(context_for(isa), x, out);
    EXPECT_EQ(out.data<float>()[0], 0.0f);
    EXPECT_EQ(out.data<float>()[1], 0.0f);
    EXPECT_EQ(out.data<float>()[2], inf);
    EXPECT_EQ(out.data<float>()[3], inf);
    EXPECT_EQ(out.data<float>()[4], 1.0f);
  }
}

TEST(Activation, ParallelMatchesSingleThread) {
  ThreadPool pool(3);
  const Tensor x = random_f32(Shape{3, 50001}, 5, -5.0f, 5.0f);
  for (const ActivationCase& c : cases()) {
    Tensor one;
    Tensor many;
    c.op(ExecContext{}, x, one);
    c.op(context_for(cpu::default_isa(), &pool), x, many);
    test::expect_equal(many, one, c.name);
  }
}

TEST(Snake, MatchesReference) {
  for (const auto isa : cpu::supported_isas()) {
    for (const auto& shape : {Shape{3, 17}, Shape{2, 5, 33}, Shape{4, 1}, Shape{2, 3, 0}}) {
      const std::int64_t ch = shape.dim(-2);
      const Tensor x = random_f32(shape, 9, -20.0f, 20.0f);
      const Tensor alpha = random_f32(Shape{ch}, 10, 0.05f, 3.0f);
      Tensor out;
      ops::snake(context_for(isa), x, alpha, out);
      ASSERT_EQ(out.shape(), shape);
      std::vector<double> want(static_cast<std::size_t>(x.numel()));
      const std::int64_t t = shape.dim(-1);
      for (std::int64_t i = 0; i < x.numel(); ++i) {
        const double a = alpha.data<float>()[(i / t) % ch];
        const double xv = x.data<float>()[i];
        const double s = std::sin(a * xv);
        want[i] = xv + s * s / (a + 1e-9);
      }
      // sin(alpha x) needs alpha*x rounded to f32 first (as PyTorch does): error ~ |alpha x| ulp.
      test::expect_close(out, want, 1e-6, 2e-6, fmt::format("snake {}", cpu::isa_name(isa)));
    }
  }
}

TEST(Activation, Errors) {
  Tensor out;
  EXPECT_THROW(ops::gelu(ExecContext{}, Tensor::zeros(Shape{3}, DType::F16), out), DTypeError);
  EXPECT_THROW(ops::snake(ExecContext{}, random_f32(Shape{3, 4}, 1), random_f32(Shape{4}, 2), out),
               ShapeError);
  EXPECT_THROW(ops::snake(ExecContext{}, random_f32(Shape{4}, 1), random_f32(Shape{1}, 2), out),
               ShapeError);
}

}  // namespace
}  // namespace chatterd
