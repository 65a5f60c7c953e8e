// attention_bf16 (declared in ops/gemm_bf16.h): Q.K^T and P.V on the bf16 GEMM tile (AMX blocks
// where the CPU has them), for the
// estimator's bidirectional self-attention over hundreds of frames, where the two products are a
// third of the FLOPs and sgemm ran them at half the tile's rate.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/gemm_bf16.h"
#include "core/check.h"
#include "ops/gemm_bf16.h"
#include "ops/scratch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kBf16QueryBlock = 64;  // queries per work item
constexpr std::int64_t kCols = cpu::kPanelCols;

}  // namespace

void attention_bf16(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                    const Tensor* key_padding_mask, Tensor& out) {
  check_dtype(q, DType::F32, "attention_bf16: q");
  check_dtype(k, DType::F32, "attention_bf16: k");
  check_dtype(v, DType::F32, "attention_bf16: v");
  check_rank(q, 3, "attention_bf16: q");
  const std::int64_t T = q.dim(0), H = q.dim(1), D = q.dim(2);
  CHATTERD_CHECK(k.rank() == 3 && k.dim(1) == H && k.dim(2) == D && v.shape() == k.shape(),
                 ShapeError, "attention_bf16: k {} and v {} must be [Tk, {}, {}]", k.to_string(),
                 v.to_string(), H, D);
  const std::int64_t Tk = k.dim(0);
  const bool* mask = nullptr;
  if (key_padding_mask != nullptr) {
    check_dtype(*key_padding_mask, DType::Bool, "attention_bf16: key_padding_mask");
    check_shape(*key_padding_mask, Shape{Tk}, "attention_bf16: key_padding_mask");
    mask = key_padding_mask->data<bool>();
  }
  CHATTERD_CHECK(bf16_gemm_available(ctx), Unsupported, "attention_bf16: no AVX512_BF16 (ISA {})",
                 cpu::isa_name(ctx.isa));
  out.resize({T, H, D}, DType::F32);
  if (T == 0 || D == 0) return;
  float* od = out.data<float>();
  if (Tk == 0) {
    std::fill(od, od + out.numel(), 0.0f);
    return;
  }

  // Per head: Q rows [T][dp] bf16; K as panels of 32 keys x dp/2 pairs; V as panels of 32 dims x
  // kp/2 pairs (tails zero; dp and kp whole AMX steps of 32). Packing is O(T D) per head against
  // O(T Tk D) of products. AMX reads 32 query rows at a time: qb has 32 spare zero rows.
  const std::int64_t dp = round_up(D, 2 * cpu::kAmxPairStep);
  const std::int64_t kp = round_up(Tk, 2 * cpu::kAmxPairStep);
  const std::int64_t k_panels = (Tk + kCols - 1) / kCols;
  const std::int64_t v_panels = (D + kCols - 1) / kCols;
  const std::int64_t k_panel_size = dp * kCols;  // bf16 elements: dp / 2 pairs x 32 x 2
  const std::int64_t v_panel_size = kp * kCols;
  thread_local std::vector<BFloat16> q_keep, k_keep, v_keep;
  std::vector<BFloat16> q_once, k_once, v_once;
  BFloat16* qb =
      scratch(q_keep, q_once, static_cast<std::size_t>((H * T + cpu::kAmxBlockRows) * dp), true);
  BFloat16* kb =
      scratch(k_keep, k_once, static_cast<std::size_t>(H * k_panels * k_panel_size), true);
  BFloat16* vb =
      scratch(v_keep, v_once, static_cast<std::size_t>(H * v_panels * v_panel_size), true);
  const float* qd = q.data<float>();
  const float* kd = k.data<float>();
  const float* vd = v.data<float>();
  const std::int64_t row = H * D;
  ctx.parallel_for(H, 1, [&](std::int64_t h0, std::int64_t h1) {
    for (std::int64_t h = h0; h < h1; ++h) {
      for (std::int64_t t = 0; t < T; ++t) {
        cpu::rows_to_bf16(ctx.isa, qd + t * row + h * D, 1, D, D, qb + (h * T + t) * dp, dp);
      }
      BFloat16* kh = kb + h * k_panels * k_panel_size;
      for (std::int64_t j = 0; j < Tk; ++j) {
        BFloat16* panel = kh + (j / kCols) * k_panel_size;
        for (std::int64_t d = 0; d < D; ++d) {
          panel[((d / 2) * kCols + j % kCols) * 2 + d % 2] = float_to_bf16(kd[j * row + h * D + d]);
        }
      }
      BFloat16* vh = vb + h * v_panels * v_panel_size;
      for (std::int64_t j = 0; j < Tk; ++j) {
        for (std::int64_t d = 0; d < D; ++d) {
          BFloat16* panel = vh + (d / kCols) * v_panel_size;
          panel[((j / 2) * kCols + d % kCols) * 2 + j % 2] = float_to_bf16(vd[j * row + h * D + d]);
        }
      }
    }
  });

  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  const auto& kern = cpu::attention_kernels(ctx.isa);
  const std::int64_t n_blocks = (T + kBf16QueryBlock - 1) / kBf16QueryBlock;
  const std::int64_t ldp = k_panels * kCols;  // scores row stride (whole key panels)
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  ctx.parallel_for(H * n_blocks, 1, [&](std::int64_t i0, std::int64_t i1) {
    // Per worker thread; probs' padding columns must be zero, scores are written before read.
    thread_local std::vector<float> s_keep;
    thread_local std::vector<BFloat16> p_keep;
    std::vector<float> s_once;
    std::vector<BFloat16> p_once;
    float* scores = scratch(s_keep, s_once, static_cast<std::size_t>(kBf16QueryBlock * ldp), false);
    BFloat16* probs = scratch(p_keep, p_once, static_cast<std::size_t>(kBf16QueryBlock * kp), true);
    alignas(64) float buf[Bf16Blocks::kMaxRows * kCols];
    Bf16Blocks engine(ctx);
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t h = item / n_blocks;
      const std::int64_t t0 = (item % n_blocks) * kBf16QueryBlock;
      const std::int64_t nt = std::min(kBf16QueryBlock, T - t0);
      const BFloat16* qh = qb + (h * T + t0) * dp;
      const BFloat16* kh = kb + h * k_panels * k_panel_size;
      const BFloat16* vh = vb + h * v_panels * v_panel_size;
      // Rows past nt in a block are spare or another head's: computed, not used.
      for (std::int64_t r0 = 0; r0 < nt; r0 += engine.rows()) {
        const int nr = static_cast<int>(std::min<std::int64_t>(engine.rows(), nt - r0));
        const BFloat16* base = qh + r0 * dp;
        for (std::int64_t p = 0; p < k_panels; ++p) {
          engine.run(&base, dp, 1, dp / 2, kh + p * k_panel_size, nr, buf);
          for (int r = 0; r < nr; ++r) {
            float* s = scores + (r0 + r) * ldp + p * kCols;
            for (std::int64_t j = 0; j < kCols; ++j) s[j] = scale * buf[r * kCols + j];
          }
        }
      }
      for (std::int64_t r = 0; r < nt; ++r) {
        float* s = scores + r * ldp;
        if (mask != nullptr) {
          for (std::int64_t j = 0; j < Tk; ++j) {
            if (!mask[j]) s[j] = kNegInf;
          }
        }
        const float m = kern.max(s, Tk);
        if (m != kNegInf) {
          kern.scale(s, 1.0f / kern.exp_sub_sum(s, m, Tk), Tk);
        } else {
          std::fill(s, s + Tk, 0.0f);  // no visible key: zeros, as ops::attention
        }
        cpu::rows_to_bf16(ctx.isa, s, 1, Tk, ldp, probs + r * kp, kp);
      }
      // probs has kBf16QueryBlock rows, a whole number of blocks.
      for (std::int64_t r0 = 0; r0 < nt; r0 += engine.rows()) {
        const int nr = static_cast<int>(std::min<std::int64_t>(engine.rows(), nt - r0));
        const BFloat16* base = probs + r0 * kp;
        for (std::int64_t p = 0; p < v_panels; ++p) {
          engine.run(&base, kp, 1, kp / 2, vh + p * v_panel_size, nr, buf);
          const std::int64_t nd = std::min(kCols, D - p * kCols);
          for (int r = 0; r < nr; ++r) {
            float* o = od + (t0 + r0 + r) * row + h * D + p * kCols;
            std::copy(buf + r * kCols, buf + r * kCols + nd, o);
          }
        }
      }
    }
  });
}

}  // namespace chatterd::ops
