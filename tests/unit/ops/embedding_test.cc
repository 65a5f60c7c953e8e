#include "ops/embedding.h"

#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "ops/convert.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using test::context_for;
using test::random_f32;

TEST(Embedding, AllTableDtypesAndIdTypes) {
  ThreadPool pool(3);
  for (const auto isa : cpu::supported_isas()) {
    for (const std::int64_t d : {1, 7, 16, 33}) {
      const Tensor table32 = random_f32(Shape{11, d}, 4);
      for (const DType dt : {DType::F32, DType::F16, DType::BF16}) {
        Tensor table;
        ops::convert(ExecContext{}, table32, dt, table);
        Tensor deq;  // the values the stored table holds, in f32
        ops::convert(ExecContext{}, table, DType::F32, deq);
        std::vector<std::int64_t> ids64 = {0, 10, 3, 3, 5, 1};
        std::vector<std::int32_t> ids32(ids64.begin(), ids64.end());
        for (const bool wide : {false, true}) {
          const Tensor ids = wide ? Tensor::from_span<std::int64_t>(ids64, Shape{2, 3})
                                  : Tensor::from_span<std::int32_t>(ids32, Shape{2, 3});
          Tensor out;
          ops::embedding(context_for(isa, &pool), table, ids, out);
          ASSERT_EQ(out.shape(), (Shape{2, 3, d}));
          for (std::size_t i = 0; i < ids64.size(); ++i) {
            for (std::int64_t j = 0; j < d; ++j) {
              ASSERT_EQ(out.data<float>()[static_cast<std::int64_t>(i) * d + j],
                        deq.data<float>()[ids64[i] * d + j]);
            }
          }
        }
      }
    }
  }
}

TEST(Embedding, Errors) {
  const Tensor table = random_f32(Shape{5, 4}, 1);
  Tensor out;
  std::vector<std::int32_t> bad = {1, 5};
  try {
    ops::embedding(ExecContext{}, table, Tensor::from_span<std::int32_t>(bad, Shape{2}), out);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("id 5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("5 rows"), std::string::npos) << e.what();
  }
  std::vector<std::int64_t> neg = {-1};
  EXPECT_THROW(
      ops::embedding(ExecContext{}, table, Tensor::from_span<std::int64_t>(neg, Shape{1}), out),
      InvalidArgument);
  EXPECT_THROW(ops::embedding(ExecContext{}, table, random_f32(Shape{2}, 1), out), DTypeError);
  EXPECT_THROW(ops::embedding(ExecContext{}, random_f32(Shape{5}, 1),
                              Tensor::from_span<std::int32_t>(bad, Shape{2}), out),
               ShapeError);
}

}  // namespace
}  // namespace chatterd
