#include "ops/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "backends/cpu/qdot_kernels.h"
#include "core/thread_pool.h"
#include "ops/matmul.h"
#include "ops_test_util.h"

namespace chatterd {
namespace {

using ops::WeightLayout;
using test::context_for;
using test::random_f32;

// Stores `w` (f32) as `dtype`; `deq` receives exactly the f32 values the stored weight holds.
Tensor make_weight(const Tensor& w, DType dtype, std::vector<float>& deq) {
  const float* p = w.data<float>();
  const std::int64_t n = w.numel();
  deq.assign(p, p + n);
  switch (dtype) {
    case DType::F32:
      return w.clone();
    case DType::F16: {
      Tensor t = Tensor::empty(w.shape(), DType::F16);
      for (std::int64_t i = 0; i < n; ++i) {
        t.data<Half>()[i] = float_to_half(p[i]);
        deq[static_cast<std::size_t>(i)] = half_to_float(t.data<Half>()[i]);
      }
      return t;
    }
    case DType::BF16: {
      Tensor t = Tensor::empty(w.shape(), DType::BF16);
      for (std::int64_t i = 0; i < n; ++i) {
        t.data<BFloat16>()[i] = float_to_bf16(p[i]);
        deq[static_cast<std::size_t>(i)] = bf16_to_float(t.data<BFloat16>()[i]);
      }
      return t;
    }
    case DType::Q8_0: {
      Tensor t;
      ops::quantize_q8_0(ExecContext{}, w, t);
      const auto* blocks = static_cast<const BlockQ8*>(t.raw_data());
      for (std::int64_t i = 0; i < n; ++i) {
        const BlockQ8& b = blocks[i / kQ8BlockSize];
        deq[static_cast<std::size_t>(i)] = b.scale * static_cast<float>(b.q[i % kQ8BlockSize]);
      }
      return t;
    }
    default:
      break;
  }
  ADD_FAILURE() << "bad dtype";
  return {};
}

// x [m, k] (k % 32 == 0) as the q8_0 decode path sees it: quantised per block, dequantised.
Tensor quantized_activation(const Tensor& x) {
  const std::int64_t nb = x.numel() / kQ8BlockSize;
  std::vector<BlockQ8> q(static_cast<std::size_t>(nb));
  cpu::quantize_row_q8_0(x.data<float>(), q.data(), nb);
  Tensor out = Tensor::empty(x.shape(), DType::F32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const BlockQ8& b = q[static_cast<std::size_t>(i / kQ8BlockSize)];
    out.data<float>()[i] = b.scale * static_cast<float>(b.q[i % kQ8BlockSize]);
  }
  return out;
}

// Double-precision reference, plus the per-output sum of |x*w| that scales the tolerance.
void reference_linear(const Tensor& x, const std::vector<float>& w, const Tensor* bias,
                      WeightLayout layout, std::int64_t k, std::int64_t n, std::vector<double>& ref,
                      std::vector<double>& mag) {
  const std::int64_t m = x.numel() / std::max<std::int64_t>(k, 1);
  ref.assign(static_cast<std::size_t>(m * n), 0.0);
  mag.assign(ref.size(), 0.0);
  const float* px = x.data<float>();
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t c = 0; c < n; ++c) {
      double s = bias != nullptr ? bias->data<float>()[c] : 0.0;
      double a = std::fabs(s);
      for (std::int64_t j = 0; j < k; ++j) {
        const double wv = layout == WeightLayout::OutIn ? w[static_cast<std::size_t>(c * k + j)]
                                                        : w[static_cast<std::size_t>(j * n + c)];
        s += px[i * k + j] * wv;
        a += std::fabs(px[i * k + j] * wv);
      }
      ref[static_cast<std::size_t>(i * n + c)] = s;
      mag[static_cast<std::size_t>(i * n + c)] = a;
    }
  }
}

void expect_linear_close(const Tensor& got, const std::vector<double>& ref,
                         const std::vector<double>& mag, std::int64_t k, const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(ref.size())) << what;
  const double eps = std::numeric_limits<float>::epsilon();
  const double factor = eps * (2.0 * std::sqrt(static_cast<double>(k)) + 2.0);
  int failures = 0;
  for (std::size_t i = 0; i < ref.size() && failures < 5; ++i) {
    const double g = got.data<float>()[i];
    if (!(std::fabs(g - ref[i]) <= factor * mag[i] + 1e-30)) {
      ADD_FAILURE() << what << " [" << i << "]: got " << g << " want " << ref[i] << " (diff "
                    << std::fabs(g - ref[i]) << ", allowed " << factor * mag[i] << ")";
      ++failures;
    }
  }
}

const char* dtype_label(DType d) {
  switch (d) {
    case DType::F32:
      return "f32";
    case DType::F16:
      return "f16";
    case DType::BF16:
      return "bf16";
    default:
      return "q8_0";
  }
}

TEST(Linear, AllDtypesLayoutsIsasAndRowCounts) {
  std::uint32_t seed = 1;
  for (const auto isa : cpu::supported_isas()) {
    for (const DType dtype : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
      for (const WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut}) {
        for (const std::int64_t m : {1, 2, 3, 4, 5, 9, 17, 130}) {
          for (const std::int64_t k : {1, 17, 32, 96, 161}) {
            for (const std::int64_t n : {1, 13, 32, 70, 160}) {
              // q8_0 blocks run along the last dimension: k for OutIn, n for InOut.
              const std::int64_t last = layout == WeightLayout::OutIn ? k : n;
              if (dtype == DType::Q8_0 && last % kQ8BlockSize != 0) continue;
              const Shape wshape = layout == WeightLayout::OutIn ? Shape{n, k} : Shape{k, n};
              const Tensor wf = random_f32(wshape, seed++);
              std::vector<float> deq;
              const Tensor w = make_weight(wf, dtype, deq);
              const Tensor x = random_f32(Shape{m, k}, seed++);
              const Tensor bias = random_f32(Shape{n}, seed++);
              // q8_0 [out, in] on the row kernels (decode, and up to
              // kLinearReducedRowKernelMaxRows rows) quantises x to q8_0 too: the exact semantics
              // are dequant(q8_0(x)) . dequant(w); beyond, sgemm of f32 x and dequant(w).
              const bool quant_x = dtype == DType::Q8_0 && layout == WeightLayout::OutIn &&
                                   m <= ops::kLinearReducedRowKernelMaxRows;
              const Tensor xref = quant_x ? quantized_activation(x) : x;
              for (const bool with_bias : {false, true}) {
                const Tensor* b = with_bias ? &bias : nullptr;
                Tensor out;
                ops::linear(context_for(isa), x, w, b, out, layout);
                ASSERT_EQ(out.shape(), (Shape{m, n}));
                std::vector<double> ref;
                std::vector<double> mag;
                reference_linear(xref, deq, b, layout, k, n, ref, mag);
                expect_linear_close(out, ref, mag, k,
                                    fmt::format("{} {} {} m={} k={} n={} bias={}",
                                                cpu::isa_name(isa), dtype_label(dtype),
                                                layout == WeightLayout::OutIn ? "OutIn" : "InOut",
                                                m, k, n, with_bias));
              }
            }
          }
        }
      }
    }
  }
}

TEST(Linear, BatchedLeadingDimsAndPreallocatedOut) {
  const Tensor x = random_f32(Shape{2, 3, 64}, 7);
  const Tensor w = random_f32(Shape{40, 64}, 8);
  Tensor out = Tensor::zeros(Shape{2, 3, 40}, DType::F32);
  const void* before = out.raw_data();
  ops::linear(ExecContext{}, x, w, nullptr, out);
  EXPECT_EQ(out.raw_data(), before);  // written in place
  Tensor flat;
  ops::linear(ExecContext{}, x.reshape({6, 64}), w, nullptr, flat);
  test::expect_equal(out.reshape({6, 40}), flat, "batched vs flat");
}

TEST(Linear, ParallelMatchesSingleThread) {
  ThreadPool pool(3);
  for (const auto isa : cpu::supported_isas()) {
    for (const DType dtype : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
      for (const WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut}) {
        for (const std::int64_t m : {1, 3, 12, 37}) {
          const std::int64_t k = 256;
          const std::int64_t n = 544;
          const Shape wshape = layout == WeightLayout::OutIn ? Shape{n, k} : Shape{k, n};
          std::vector<float> deq;
          const Tensor w = make_weight(random_f32(wshape, 11), dtype, deq);
          const Tensor x = random_f32(Shape{m, k}, 12);
          const Tensor bias = random_f32(Shape{n}, 13);
          Tensor one;
          Tensor many;
          ops::linear(context_for(isa), x, w, &bias, one, layout);
          ops::linear(context_for(isa, &pool), x, w, &bias, many, layout);
          const std::string what =
              fmt::format("{} {} m={}", cpu::isa_name(isa), dtype_label(dtype), m);
          const bool rows = m <= ops::kLinearGemvMaxRows ||
                            (dtype != DType::F32 && m <= ops::kLinearReducedRowKernelMaxRows);
          if (rows) {
            test::expect_equal(many, one, what);  // same per-output arithmetic, any split
          } else {
            std::vector<double> ref;
            std::vector<double> mag;
            reference_linear(x, deq, &bias, layout, k, n, ref, mag);
            expect_linear_close(many, ref, mag, k, what);
          }
        }
      }
    }
  }
}

// Batched decode (5..16 rows) walks the weight in L2-sized tiles: with weights several tiles
// large, both paths still agree with the reference, for every dtype, layout and ISA.
TEST(Linear, RowKernelsAndGemmAgreeOnBatchedDecodeSizes) {
  ThreadPool pool(2);
  for (const auto isa : cpu::supported_isas()) {
    for (const DType dtype : {DType::F32, DType::BF16, DType::Q8_0}) {
      for (const WeightLayout layout : {WeightLayout::OutIn, WeightLayout::InOut}) {
        const std::int64_t m = 8;
        const std::int64_t k = 1024;
        const std::int64_t n = 544;  // f32 OutIn: 64 features per 256 KiB tile -> 9 tiles
        const Shape wshape = layout == WeightLayout::OutIn ? Shape{n, k} : Shape{k, n};
        std::vector<float> deq;
        const Tensor w = make_weight(random_f32(wshape, 21), dtype, deq);
        const Tensor x = random_f32(Shape{m, k}, 22);
        const Tensor bias = random_f32(Shape{n}, 23);
        for (const ops::LinearPath path : {ops::LinearPath::RowKernels, ops::LinearPath::Gemm}) {
          const bool quant_x = dtype == DType::Q8_0 && layout == WeightLayout::OutIn &&
                               path == ops::LinearPath::RowKernels;
          Tensor out;
          ops::linear(context_for(isa, &pool), x, w, &bias, out, layout, path);
          std::vector<double> ref;
          std::vector<double> mag;
          reference_linear(quant_x ? quantized_activation(x) : x, deq, &bias, layout, k, n, ref,
                           mag);
          expect_linear_close(out, ref, mag, k,
                              fmt::format("{} {} {} {}", cpu::isa_name(isa), dtype_label(dtype),
                                          layout == WeightLayout::OutIn ? "OutIn" : "InOut",
                                          path == ops::LinearPath::Gemm ? "gemm" : "rows"));
        }
      }
    }
  }
}

// Reduced-precision weights with 17..128 rows (a text prefill from a cached prefix) take the row
// kernels in groups of 16 on the Auto path: every group, including a ragged last one, agrees with
// the reference (the q8_0 OutIn kernels quantise the activation, as in decode).
TEST(Linear, ReducedWeightsUpTo128RowsRunTheRowKernelsInGroups) {
  ThreadPool pool(2);
  const auto isa = cpu::default_isa();
  for (const DType dtype : {DType::F16, DType::BF16, DType::Q8_0}) {
    for (const std::int64_t m : {17, 40, 128}) {
      const std::int64_t k = 256, n = 96;
      std::vector<float> deq;
      const Tensor w = make_weight(random_f32(Shape{n, k}, 31), dtype, deq);
      const Tensor x = random_f32(Shape{2, m / 2, k}, 32);  // rank 3: rows are flattened
      const Tensor xm = m % 2 == 0 ? x : random_f32(Shape{m, k}, 32);
      const Tensor bias = random_f32(Shape{n}, 33);
      Tensor out;
      ops::linear(context_for(isa, &pool), xm, w, &bias, out, WeightLayout::OutIn);
      ASSERT_EQ(out.numel(), m * n);
      std::vector<double> ref;
      std::vector<double> mag;
      const Tensor x2 = xm.reshape({m, k});
      reference_linear(dtype == DType::Q8_0 ? quantized_activation(x2) : x2, deq, &bias,
                       WeightLayout::OutIn, k, n, ref, mag);
      expect_linear_close(out.reshape({m, n}), ref, mag, k,
                          fmt::format("{} m {}", dtype_label(dtype), m));
    }
  }
}

TEST(Linear, ZeroSizes) {
  Tensor out;
  ops::linear(ExecContext{}, Tensor::empty(Shape{0, 8}, DType::F32), random_f32(Shape{5, 8}, 1),
              nullptr, out);
  EXPECT_EQ(out.shape(), (Shape{0, 5}));
  const Tensor bias = random_f32(Shape{3}, 2);
  ops::linear(ExecContext{}, Tensor::empty(Shape{2, 0}, DType::F32),
              Tensor::empty(Shape{3, 0}, DType::F32), &bias, out);
  ASSERT_EQ(out.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out.data<float>()[i], bias.data<float>()[i % 3]);
}

TEST(Linear, Errors) {
  const ExecContext ctx;
  const Tensor x = random_f32(Shape{2, 8}, 1);
  Tensor out;
  EXPECT_THROW(ops::linear(ctx, x, random_f32(Shape{4, 9}, 2), nullptr, out), ShapeError);
  EXPECT_THROW(ops::linear(ctx, x, random_f32(Shape{9, 4}, 2), nullptr, out, WeightLayout::InOut),
               ShapeError);
  EXPECT_THROW(ops::linear(ctx, x, Tensor::zeros(Shape{4, 8}, DType::I32), nullptr, out),
               DTypeError);
  EXPECT_THROW(ops::linear(ctx, Tensor::zeros(Shape{2, 8}, DType::F16), random_f32(Shape{4, 8}, 2),
                           nullptr, out),
               DTypeError);
  const Tensor bad_bias = random_f32(Shape{5}, 3);
  EXPECT_THROW(ops::linear(ctx, x, random_f32(Shape{4, 8}, 2), &bad_bias, out), ShapeError);
  Tensor alias = x;
  EXPECT_THROW(ops::linear(ctx, alias, random_f32(Shape{8, 8}, 2), nullptr, alias),
               InvalidArgument);
}

TEST(QuantizeQ8, MatchesScalarReference) {
  for (const DType src : {DType::F32, DType::F16, DType::BF16}) {
    Tensor wf = random_f32(Shape{5, 96}, 21, -3.0f, 3.0f);
    // One all-zero block and one with an exact halfway code.
    for (int j = 0; j < 32; ++j) wf.data<float>()[32 + j] = 0.0f;
    std::vector<float> vals;
    const Tensor w = make_weight(wf, src, vals);
    Tensor q;
    ops::quantize_q8_0(ExecContext{}, w, q);
    ASSERT_EQ(q.dtype(), DType::Q8_0);
    ASSERT_EQ(q.shape(), w.shape());
    const auto* blocks = static_cast<const BlockQ8*>(q.raw_data());
    for (std::int64_t b = 0; b < q.numel() / kQ8BlockSize; ++b) {
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(vals[b * 32 + j]));
      const float scale = amax / 127.0f;
      ASSERT_EQ(blocks[b].scale, scale) << b;
      for (int j = 0; j < 32; ++j) {
        const float want = scale == 0.0f ? 0.0f : std::round(vals[b * 32 + j] * (1.0f / scale));
        ASSERT_EQ(blocks[b].q[j], static_cast<std::int8_t>(want)) << b << " " << j;
        // Quantisation error is at most half a step.
        EXPECT_LE(std::fabs(blocks[b].scale * blocks[b].q[j] - vals[b * 32 + j]),
                  0.5f * scale * (1.0f + 1e-5f) + 1e-30f);
      }
    }
    Tensor back;
    ops::dequantize_q8_0(ExecContext{}, q, back);
    for (std::int64_t i = 0; i < back.numel(); ++i) {
      EXPECT_EQ(back.data<float>()[i], blocks[i / 32].scale * blocks[i / 32].q[i % 32]);
    }
  }
}

TEST(QuantizeQ8, Errors) {
  Tensor q;
  EXPECT_THROW(ops::quantize_q8_0(ExecContext{}, random_f32(Shape{2, 33}, 1), q), ShapeError);
  EXPECT_THROW(ops::quantize_q8_0(ExecContext{}, Tensor::zeros(Shape{32}, DType::I32), q),
               DTypeError);
  Tensor bad = random_f32(Shape{32}, 1);
  bad.data<float>()[3] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(ops::quantize_q8_0(ExecContext{}, bad, q), InvalidArgument);
}

}  // namespace
}  // namespace chatterd
