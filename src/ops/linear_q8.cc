#include "ops/linear_q8.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "backends/cpu/q4_rows.h"
#include "backends/cpu/q8_rows.h"
#include "core/check.h"
#include "ops/gemm_bf16.h"
#include "ops/linear.h"

namespace chatterd::ops {
namespace {

// Each chunk of output features does at least this many multiply-adds (as ops::linear).
constexpr std::int64_t kMinQ8ChunkMacs = 16384;
// More than kQ8RowsMaxM rows take several passes over the weight: walking a thread's range in
// tiles of about this many bytes makes every pass after the first read the tile from L2.
constexpr std::int64_t kTileBytes = 256 * 1024;

// Many rows (a text prefill) on AMX: C^T = W X^T. The activation rows are packed once as the
// panels of a bf16 "weight" (pack_linear_bf16: [pairs][32 rows][2], the B side); each block of 32
// output features is dequantised to bf16 rows (the A side, row-major: no transpose of the
// weight) and multiplied against every activation panel. The weight is read once; x and w are
// rounded to bf16 (finer than the q8_0 of x the row kernels use), sums are f32.
// to_bf16(r0, r1, out) dequantises weight rows [r0, r1) to out [r1 - r0, k].
template <class ToBf16>
void prefill_amx(const ExecContext& ctx, const Tensor& x, std::int64_t m,
                 const PackedQuantWeight& w, const float* pb, float* py, const ToBf16& to_bf16) {
  const std::int64_t k = w.k;
  const std::int64_t n = w.n;
  const PackedBf16Weight xp = pack_linear_bf16(ctx, x.reshape({m, k}), WeightLayout::OutIn);
  const std::int64_t pairs = xp.seg_pairs();  // k / 2: k % 64 == 0
  const std::int64_t panels = xp.panels.dim(0);
  const auto* xpanels = xp.panels.data<BFloat16>();
  const std::int64_t blocks = round_up(n, Bf16Blocks::kMaxRows) / Bf16Blocks::kMaxRows;
  ctx.parallel_for(blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    Bf16Blocks engine(ctx);
    std::vector<BFloat16> wt(static_cast<std::size_t>(Bf16Blocks::kMaxRows * k));
    alignas(64) float buf[Bf16Blocks::kMaxRows * Bf16Blocks::kCols];
    for (std::int64_t b = b0; b < b1; ++b) {
      const std::int64_t r0 = b * Bf16Blocks::kMaxRows;
      const std::int64_t nr = std::min<std::int64_t>(Bf16Blocks::kMaxRows, n - r0);
      to_bf16(r0, r0 + nr, wt.data());
      std::fill(wt.begin() + nr * k, wt.end(), BFloat16{});
      const BFloat16* a = wt.data();
      for (std::int64_t pn = 0; pn < panels; ++pn) {
        engine.run(&a, k, 1, pairs, xpanels + pn * pairs * Bf16Blocks::kCols * 2,
                   static_cast<int>(nr), buf);
        const std::int64_t na =
            std::min<std::int64_t>(Bf16Blocks::kCols, m - pn * Bf16Blocks::kCols);
        // buf is [features][activation rows] and small (L1); y is row-major: write each
        // activation row's nr features contiguously.
        for (std::int64_t i = 0; i < na; ++i) {
          float* yrow = py + (pn * Bf16Blocks::kCols + i) * n + r0;
          for (std::int64_t f = 0; f < nr; ++f) {
            yrow[f] = buf[f * Bf16Blocks::kCols + i] + (pb != nullptr ? pb[r0 + f] : 0.0f);
          }
        }
      }
    }
  });
}

}  // namespace

bool q8_rows_available(const ExecContext& ctx, std::int64_t k) {
  // CHATTERD_Q8_ROWS=0 keeps q8_0 weights (side-by-side measurements).
  static const bool enabled = [] {
    const char* env = std::getenv("CHATTERD_Q8_ROWS");
    return env == nullptr || std::string_view(env) != "0";
  }();
  return enabled && k > 0 && k % cpu::kQ8RowsAlign == 0 && cpu::q8_rows_kernel(ctx.isa) != nullptr;
}

bool q4_rows_available(std::int64_t k) {
  return k > 0 && k % cpu::kQ4RowsAlign == 0;
}

PackedQuantWeight pack_q8_rows(const ExecContext& ctx, const Tensor& w) {
  check_dtype(w, DType::Q8_0, "pack_q8_rows: w");
  check_rank(w, 2, "pack_q8_rows: w");
  PackedQuantWeight p;
  p.n = w.dim(0);
  p.k = w.dim(1);
  CHATTERD_CHECK(p.k % cpu::kQ8RowsAlign == 0, ShapeError,
                 "pack_q8_rows: input features {} are not a multiple of {}", p.k,
                 cpu::kQ8RowsAlign);
  const std::int64_t nb = p.k / kQ8BlockSize;
  p.codes = Tensor::empty({p.n, p.k}, DType::I8);
  p.scales = Tensor::empty({p.n, nb}, DType::F32);
  const auto* blocks = static_cast<const BlockQ8*>(w.raw_data());
  auto* codes = static_cast<std::uint8_t*>(p.codes.raw_data());
  float* scales = p.scales.data<float>();
  ctx.parallel_for(p.n * nb, 1024, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      scales[b] = blocks[b].scale;
      for (int t = 0; t < kQ8BlockSize; ++t) {
        codes[b * kQ8BlockSize + t] = static_cast<std::uint8_t>(blocks[b].q[t] + 128);
      }
    }
  });
  return p;
}

PackedQuantWeight pack_q4_rows(const ExecContext& ctx, const Tensor& w) {
  check_dtype(w, DType::Q4_0, "pack_q4_rows: w");
  check_rank(w, 2, "pack_q4_rows: w");
  PackedQuantWeight p;
  p.format = RowQuant::Int4;
  p.n = w.dim(0);
  p.k = w.dim(1);
  CHATTERD_CHECK(q4_rows_available(p.k), ShapeError,
                 "pack_q4_rows: input features {} are not a multiple of {}", p.k,
                 cpu::kQ4RowsAlign);
  const std::int64_t nb = p.k / kQ4BlockSize;
  p.codes = Tensor::empty({p.n, p.k / 2}, DType::I8);
  p.scales = Tensor::empty({p.n, nb}, DType::F16);
  const auto* blocks = static_cast<const BlockQ4*>(w.raw_data());
  auto* codes = static_cast<std::uint8_t*>(p.codes.raw_data());
  Half* scales = p.scales.data<Half>();
  // Block b of a row is the low (b % 4 < 2) or high nibbles of bytes 32 x (b % 2) .. + 32 of its
  // 128-code group; a q4_0 block holds values j and j + 16 in byte j.
  constexpr int kHalfBlock = kQ4BlockSize / 2;
  ctx.parallel_for(p.n, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      std::uint8_t* row = codes + r * (p.k / 2);
      std::fill(row, row + p.k / 2, std::uint8_t{0});
      for (std::int64_t b = 0; b < nb; ++b) {
        const BlockQ4& blk = blocks[r * nb + b];
        scales[r * nb + b] = float_to_half(blk.scale);
        const std::int64_t t = b % 4;
        std::uint8_t* bytes = row + (b / 4) * (cpu::kQ4RowsAlign / 2) + (t % 2) * kQ4BlockSize;
        const int shift = t < 2 ? 0 : 4;
        for (int j = 0; j < kHalfBlock; ++j) {
          bytes[j] |= static_cast<std::uint8_t>((blk.q[j] & 15) << shift);
          bytes[j + kHalfBlock] |= static_cast<std::uint8_t>((blk.q[j] >> 4) << shift);
        }
      }
    }
  });
  return p;
}

void linear_quant_rows(const ExecContext& ctx, const Tensor& x, const PackedQuantWeight& w,
                       const Tensor* bias, Tensor& out) {
  check_dtype(x, DType::F32, "linear_quant_rows: x");
  CHATTERD_CHECK(!w.empty() && x.rank() >= 1 && x.dim(-1) == w.k, ShapeError,
                 "linear_quant_rows: x {} must end in the weight's {} input features",
                 x.to_string(), w.k);
  CHATTERD_CHECK(&out != &x, InvalidArgument, "linear_quant_rows: out must not alias x");
  const bool int4 = w.format == RowQuant::Int4;
  const cpu::Q8RowsKernel q8_kernel = int4 ? nullptr : cpu::q8_rows_kernel(ctx.isa);
  const cpu::Q4RowsKernel q4_kernel = int4 ? cpu::q4_rows_kernel(ctx.isa) : nullptr;
  CHATTERD_CHECK(
      int4 || q8_kernel != nullptr, Unsupported,
      "linear_quant_rows: this CPU (or the forced ISA {}) has no AVX512-VNNI for int8 rows",
      cpu::isa_name(ctx.isa));
  const float* pb = nullptr;
  if (bias != nullptr) {
    check_dtype(*bias, DType::F32, "linear_quant_rows: bias");
    check_shape(*bias, Shape{w.n}, "linear_quant_rows: bias");
    pb = bias->data<float>();
  }
  Shape shape = x.shape();
  shape.set(shape.rank() - 1, w.n);
  out.resize(shape, DType::F32);
  const std::int64_t m = x.shape().outer(-1);
  const std::int64_t k = w.k;
  const std::int64_t n = w.n;
  if (m == 0 || n == 0) return;
  const float* px = x.data<float>();
  float* py = out.data<float>();
  const auto* codes = static_cast<const std::uint8_t*>(w.codes.raw_data());
  const float* q8_scales = int4 ? nullptr : w.scales.data<float>();
  const Half* q4_scales = int4 ? w.scales.data<Half>() : nullptr;
  const auto add_bias = [&](std::int64_t c0, std::int64_t c1) {
    if (pb == nullptr) return;
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t c = c0; c < c1; ++c) py[i * n + c] += pb[c];
    }
  };

  if (m > kLinearGemvMaxRows && amx_gemm_enabled(ctx)) {
    return prefill_amx(ctx, x, m, w, pb, py, [&](std::int64_t r0, std::int64_t r1, BFloat16* o) {
      if (int4) return cpu::q4_rows_to_bf16_avx512_bf16(codes, q4_scales, k, r0, r1, o);
      cpu::q8_rows_to_bf16_avx512_bf16(codes, q8_scales, k, r0, r1, o);
    });
  }
  if (m <= kLinearReducedRowKernelMaxRows) {
    // Per calling thread, so a decode loop does not allocate after its first step.
    thread_local cpu::Q8RowsActivation act;
    act.prepare(px, m, k, k, int4 ? cpu::kQ4RowsZero : 128, ctx.isa);
    const std::int64_t grain = std::max<std::int64_t>(1, kMinQ8ChunkMacs / (k * m));
    const std::int64_t per_tile = std::max<std::int64_t>(1, kTileBytes / (int4 ? k / 2 : k));
    const cpu::Q8RowsActivation& a = act;
    ctx.parallel_for(n, grain, [&](std::int64_t r0, std::int64_t r1) {
      const std::int64_t step = m <= cpu::kQ8RowsMaxM ? r1 - r0 : per_tile;
      for (std::int64_t t0 = r0; t0 < r1; t0 += step) {
        const std::int64_t t1 = std::min(r1, t0 + step);
        for (std::int64_t i = 0; i < m; i += cpu::kQ8RowsMaxM) {
          const std::int64_t rows = std::min<std::int64_t>(cpu::kQ8RowsMaxM, m - i);
          if (int4) {
            q4_kernel(a, i, rows, codes, q4_scales, t0, t1, py + i * n, n);
          } else {
            q8_kernel(a, i, rows, codes, q8_scales, t0, t1, py + i * n, n);
          }
        }
      }
      add_bias(r0, r1);
    });
    return;
  }

  // Prefill without AMX: weight tiles dequantised to f32 for sgemm.
  const std::int64_t nb = k / kQ8BlockSize;
  detail::linear_f32_tiles(ctx, px, m, k, n, pb, py, WeightLayout::OutIn,
                           [&](std::int64_t c0, std::int64_t c1, float* tile) {
                             if (int4)
                               return cpu::q4_rows_to_f32(codes, q4_scales, k, c0, c1, tile);
                             for (std::int64_t r = c0; r < c1; ++r) {
                               float* dst = tile + (r - c0) * k;
                               for (std::int64_t j = 0; j < k; ++j) {
                                 dst[j] =
                                     q8_scales[r * nb + j / kQ8BlockSize] *
                                     static_cast<float>(static_cast<int>(codes[r * k + j]) - 128);
                               }
                             }
                           });
}

}  // namespace chatterd::ops
