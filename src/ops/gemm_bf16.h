#pragma once
// Linear and conv1d with weights packed for the bf16 GEMM tile (backends/cpu/gemm_bf16.h): the
// vocoder's reduced-precision path (EngineConfig::vocoder_dtype = bf16). Activations are rounded
// to bf16 per call, weights once at load; products are summed in f32. Only where the CPU has
// AVX512_BF16 (bf16_gemm_available): elsewhere the layers keep f32 weights and sgemm. Where the
// CPU also has AMX-BF16 (and ExecContext::amx), the products run on AMX tiles, 32 x 32 blocks.

#include <cstdint>
#include <vector>

#include "backends/cpu/gemm_bf16.h"
#include "chatterd/core/tensor.h"
#include "ops/conv1d.h"
#include "ops/exec_context.h"
#include "ops/linear.h"

namespace chatterd::ops {

// A weight as panels of cpu::kPanelCols output features: bf16
// [n_panels, segments * pairs, kPanelCols, 2] (see gemm_bf16.h), zero-padded: pairs is ceil(k / 2)
// rounded up to whole AMX steps (cpu::kAmxPairStep), so one packing serves both tiles.
struct PackedBf16Weight {
  Tensor panels;
  std::int64_t n = 0;         // output features
  std::int64_t k = 0;         // input features per segment
  std::int64_t segments = 0;  // 1 for a linear layer, kernel taps for a conv
  std::int64_t pairs = 0;     // input pairs per segment, padded
  bool empty() const { return segments == 0; }
  std::int64_t seg_pairs() const { return pairs; }
};

bool bf16_gemm_available(const ExecContext& ctx);
// AMX blocks are used: ctx.amx, an AVX-512 ISA and cpu::amx_bf16_available().
bool amx_gemm_enabled(const ExecContext& ctx);

inline std::int64_t round_up(std::int64_t v, std::int64_t to) {
  return (v + to - 1) / to * to;
}

// The bf16 block engine of one thread (construct it inside a parallel chunk): AMX blocks of 32
// rows where amx_gemm_enabled(ctx), else the vdpbf16ps tile, 8 rows. Row r of segment s is read
// at base[s] + r * stride for the rows() rows of a block (AMX reads them all: callers pad their
// buffers to whole blocks of kMaxRows; the tile reads only the valid ones). Throws Unsupported
// without AVX512_BF16.
class Bf16Blocks {
 public:
  static constexpr int kMaxRows = cpu::kAmxBlockRows;
  static constexpr int kCols = cpu::kPanelCols;
  explicit Bf16Blocks(const ExecContext& ctx);
  ~Bf16Blocks();
  Bf16Blocks(const Bf16Blocks&) = delete;
  Bf16Blocks& operator=(const Bf16Blocks&) = delete;

  int rows() const { return amx_ ? cpu::kAmxBlockRows : cpu::kGemmRows; }
  // out[r * kCols + j] for r < valid_rows (<= rows()): the panel's 32 columns.
  void run(const BFloat16* const* base, std::int64_t stride, int segments, std::int64_t pairs,
           const BFloat16* panel, int valid_rows, float* out);

 private:
  bool amx_;
  cpu::GemmBf16Tile tile_ = nullptr;
  std::vector<const BFloat16*> row_ptrs_;  // the tile's per-row pointers
};

// w: f32, f16 or bf16 linear weight in `layout`.
PackedBf16Weight pack_linear_bf16(const ExecContext& ctx, const Tensor& w, WeightLayout layout);
// w: f32, f16 or bf16 conv1d weight [C_out, C_in, K] (groups 1).
PackedBf16Weight pack_conv1d_bf16(const ExecContext& ctx, const Tensor& w);

// out[..., n] = x[..., k] @ W^T + bias (x, bias, out f32). Needs bf16_gemm_available(ctx).
void linear_bf16(const ExecContext& ctx, const Tensor& x, const PackedBf16Weight& w,
                 const Tensor* bias, Tensor& out);
// conv1d (groups 1) of x f32 [B, C_in, T] -> out f32 [B, C_out, T_out] as an implicit GEMM: x is
// transposed to frames x channels in bf16 once, and each kernel tap is one run of the tile's A
// rows (no im2col). Needs bf16_gemm_available(ctx).
void conv1d_bf16(const ExecContext& ctx, const Tensor& x, const PackedBf16Weight& w,
                 const Tensor* bias, const Conv1dOptions& options, Tensor& out);

// Bidirectional self-attention with bf16 products: q [T, H, D], k, v [Tk, H, D] f32 (same heads),
// optional key padding mask Bool [Tk] (false = masked); out [T, H, D] f32. Q.K^T and P.V run on
// the tile (Q, K, the probabilities and V rounded to bf16); the scale, mask and softmax are f32.
// A row with no visible key gets zeros, as ops::attention. Needs bf16_gemm_available(ctx).
void attention_bf16(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                    const Tensor* key_padding_mask, Tensor& out);

}  // namespace chatterd::ops
