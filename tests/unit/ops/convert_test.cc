#include "ops/convert.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

TEST(Convert, AllDirectionsMatchScalarReference) {
  ThreadPool pool(2);
  for (const auto isa : cpu::supported_isas()) {
    for (const std::int64_t n : {0, 1, 7, 8, 17, 100, 70001}) {
      Tensor x = random_f32(Shape{n}, 5, -70000.0f, 70000.0f);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        const ExecContext ctx = context_for(isa, p);
        Tensor h;
        Tensor b;
        ops::convert(ctx, x, DType::F16, h);
        ops::convert(ctx, x, DType::BF16, b);
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(h.data<Half>()[i].bits, float_to_half(x.data<float>()[i]).bits) << i;
          ASSERT_EQ(b.data<BFloat16>()[i].bits, float_to_bf16(x.data<float>()[i]).bits) << i;
        }
        Tensor back;
        ops::convert(ctx, h, DType::F32, back);
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(back.data<float>()[i], half_to_float(h.data<Half>()[i]));
        }
        Tensor hb;
        ops::convert(ctx, h, DType::BF16, hb);  // f16 -> bf16 through f32
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(hb.data<BFloat16>()[i].bits,
                    float_to_bf16(half_to_float(h.data<Half>()[i])).bits);
        }
        Tensor same;
        ops::convert(ctx, x, DType::F32, same);
        test::expect_equal(same, x, "f32 copy");
      }
    }
  }
}

TEST(Convert, InPlaceAndErrors) {
  Tensor x = random_f32(Shape{5}, 1);
  const Tensor x0 = x.clone();
  ops::convert(ExecContext{}, x, DType::BF16, x);
  ASSERT_EQ(x.dtype(), DType::BF16);
  EXPECT_EQ(x.data<BFloat16>()[2].bits, float_to_bf16(x0.data<float>()[2]).bits);
  Tensor out;
  EXPECT_THROW(ops::convert(ExecContext{}, x0, DType::I32, out), DTypeError);
}

}  // namespace
}  // namespace chatterd
