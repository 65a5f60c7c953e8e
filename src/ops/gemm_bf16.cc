#include "ops/gemm_bf16.h"

#include <algorithm>
#include <vector>

#include "backends/cpu/gemm_bf16.h"
#include "core/check.h"
#include "ops/convert.h"
#include "ops/scratch.h"

namespace chatterd::ops {
namespace {

// Rows of A per work item: items are (panel, block of rows), panel-major, so a thread's range
// reuses each panel from L2 across its row blocks.
constexpr std::int64_t kItemRows = 64;

// Packs `segments` runs of k input features for n outputs; at(o, s, i) reads weight element
// (output o, segment s, input i) as f32.
template <class At>
PackedBf16Weight pack(std::int64_t n, std::int64_t k, std::int64_t segments, const At& at) {
  PackedBf16Weight p;
  p.n = n;
  p.k = k;
  p.segments = segments;
  p.pairs = ((k + 1) / 2 + cpu::kAmxPairStep - 1) / cpu::kAmxPairStep * cpu::kAmxPairStep;
  const std::int64_t pairs = p.seg_pairs();
  const std::int64_t n_panels = (n + cpu::kPanelCols - 1) / cpu::kPanelCols;
  p.panels = Tensor::zeros({n_panels, segments * pairs, cpu::kPanelCols, 2}, DType::BF16);
  auto* d = p.panels.data<BFloat16>();
  for (std::int64_t pn = 0; pn < n_panels; ++pn) {
    for (std::int64_t s = 0; s < segments; ++s) {
      for (std::int64_t i = 0; i < k; ++i) {
        const std::int64_t row = s * pairs + i / 2;
        for (std::int64_t j = 0; j < cpu::kPanelCols; ++j) {
          const std::int64_t o = pn * cpu::kPanelCols + j;
          if (o >= n) break;
          d[((pn * segments * pairs + row) * cpu::kPanelCols + j) * 2 + i % 2] =
              float_to_bf16(at(o, s, i));
        }
      }
    }
  }
  return p;
}

Tensor as_f32(const ExecContext& ctx, const Tensor& w) {
  if (w.dtype() == DType::F32) return w;
  CHATTERD_CHECK(w.dtype() == DType::F16 || w.dtype() == DType::BF16, DTypeError,
                 "bf16 packing: weight must be f32, f16 or bf16, got {}", w.to_string());
  Tensor f;
  convert(ctx, w, DType::F32, f);
  return f;
}

cpu::GemmBf16Tile tile_kernel(const ExecContext& ctx) {
  const cpu::GemmBf16Tile tile = cpu::gemm_bf16_tile_kernel(ctx.isa);
  CHATTERD_CHECK(tile != nullptr, Unsupported,
                 "bf16 GEMM: this CPU (or the forced ISA {}) has no AVX512_BF16",
                 cpu::isa_name(ctx.isa));
  return tile;
}

// Adds the [rows, nc] corner of a tile (+ bias) to out: row r at out + r * row_stride, column j
// at + j * col_stride. Walks the output contiguously: by rows when they are contiguous, by
// columns when the rows are (a conv's frames: row_stride 1).
void store_tile(const float* tile, int rows, std::int64_t nc, const float* bias, float* out,
                std::int64_t row_stride, std::int64_t col_stride) {
  if (row_stride == 1) {
    for (std::int64_t j = 0; j < nc; ++j) {
      const float add = bias != nullptr ? bias[j] : 0.0f;
      float* o = out + j * col_stride;
      for (int r = 0; r < rows; ++r) o[r] = tile[r * cpu::kPanelCols + j] + add;
    }
    return;
  }
  for (int r = 0; r < rows; ++r) {
    const float* t = tile + r * cpu::kPanelCols;
    float* o = out + r * row_stride;
    for (std::int64_t j = 0; j < nc; ++j) {
      o[j * col_stride] = t[j] + (bias != nullptr ? bias[j] : 0.0f);
    }
  }
}

const float* bias_data(const Tensor* bias, std::int64_t n, const char* what) {
  if (bias == nullptr) return nullptr;
  check_dtype(*bias, DType::F32, what);
  check_shape(*bias, Shape{n}, what);
  return bias->data<float>();
}

}  // namespace

bool bf16_gemm_available(const ExecContext& ctx) {
  return cpu::gemm_bf16_tile_kernel(ctx.isa) != nullptr;
}

bool amx_gemm_enabled(const ExecContext& ctx) {
  return ctx.amx && ctx.isa >= cpu::CpuIsa::Avx512 && cpu::amx_bf16_available();
}

Bf16Blocks::Bf16Blocks(const ExecContext& ctx) : amx_(amx_gemm_enabled(ctx)) {
  if (amx_) {
    cpu::amx_tiles_begin();
  } else {
    tile_ = tile_kernel(ctx);
  }
}

Bf16Blocks::~Bf16Blocks() {
  if (amx_) cpu::amx_tiles_end();
}

void Bf16Blocks::run(const BFloat16* const* base, std::int64_t stride, int segments,
                     std::int64_t pairs, const BFloat16* panel, int valid_rows, float* out) {
  if (amx_) return cpu::gemm_bf16_block_amx(base, stride, segments, pairs, panel, out);
  row_ptrs_.resize(static_cast<std::size_t>(segments * cpu::kGemmRows));
  for (int s = 0; s < segments; ++s) {
    for (int r = 0; r < valid_rows; ++r) {
      row_ptrs_[static_cast<std::size_t>(s * cpu::kGemmRows + r)] = base[s] + r * stride;
    }
  }
  tile_(row_ptrs_.data(), valid_rows, segments, pairs, panel, out);
}

PackedBf16Weight pack_linear_bf16(const ExecContext& ctx, const Tensor& w, WeightLayout layout) {
  check_rank(w, 2, "pack_linear_bf16: w");
  const Tensor f = as_f32(ctx, w);
  const float* d = f.data<float>();
  const bool out_in = layout == WeightLayout::OutIn;
  const std::int64_t n = out_in ? f.dim(0) : f.dim(1);
  const std::int64_t k = out_in ? f.dim(1) : f.dim(0);
  return pack(n, k, 1, [&](std::int64_t o, std::int64_t, std::int64_t i) {
    return out_in ? d[o * k + i] : d[i * n + o];
  });
}

PackedBf16Weight pack_conv1d_bf16(const ExecContext& ctx, const Tensor& w) {
  check_rank(w, 3, "pack_conv1d_bf16: w");
  const Tensor f = as_f32(ctx, w);
  const float* d = f.data<float>();
  const std::int64_t co = f.dim(0), ci = f.dim(1), taps = f.dim(2);
  return pack(co, ci, taps, [&](std::int64_t o, std::int64_t s, std::int64_t i) {
    return d[(o * ci + i) * taps + s];
  });
}

void linear_bf16(const ExecContext& ctx, const Tensor& x, const PackedBf16Weight& w,
                 const Tensor* bias, Tensor& out) {
  check_dtype(x, DType::F32, "linear_bf16: x");
  CHATTERD_CHECK(!w.empty() && w.segments == 1, InvalidArgument,
                 "linear_bf16: the weight is not a packed linear weight");
  CHATTERD_CHECK(x.rank() >= 1 && x.dim(-1) == w.k, ShapeError,
                 "linear_bf16: x {} must end in the weight's {} input features", x.to_string(),
                 w.k);
  CHATTERD_CHECK(&out != &x, InvalidArgument, "linear_bf16: out must not alias x");
  (void)tile_kernel(ctx);  // Unsupported without AVX512_BF16, before any work
  const float* pb = bias_data(bias, w.n, "linear_bf16: bias");
  Shape shape = x.shape();
  shape.set(shape.rank() - 1, w.n);
  out.resize(shape, DType::F32);
  const std::int64_t m = x.shape().outer(-1);
  if (m == 0 || w.n == 0) return;
  const std::int64_t pairs = w.seg_pairs();
  const std::int64_t lda = 2 * pairs;
  // Zero-initialised: the padding pairs, and the rows after m that AMX blocks read.
  thread_local std::vector<BFloat16> a_keep;
  std::vector<BFloat16> a_once;
  BFloat16* a = scratch(a_keep, a_once,
                        static_cast<std::size_t>(round_up(m, Bf16Blocks::kMaxRows) * lda), true);
  const float* px = x.data<float>();
  ctx.parallel_for(m, 16, [&](std::int64_t r0, std::int64_t r1) {
    cpu::rows_to_bf16(ctx.isa, px + r0 * w.k, r1 - r0, w.k, w.k, a + r0 * lda, lda);
  });
  const std::int64_t n_panels = w.panels.dim(0);
  const std::int64_t blocks = (m + kItemRows - 1) / kItemRows;
  const auto* panels = w.panels.data<BFloat16>();
  float* py = out.data<float>();
  ctx.parallel_for(n_panels * blocks, 1, [&](std::int64_t i0, std::int64_t i1) {
    Bf16Blocks engine(ctx);
    alignas(64) float buf[Bf16Blocks::kMaxRows * Bf16Blocks::kCols];
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t pn = item / blocks;
      const std::int64_t c0 = pn * cpu::kPanelCols;
      const std::int64_t nc = std::min<std::int64_t>(cpu::kPanelCols, w.n - c0);
      const BFloat16* panel = panels + pn * pairs * cpu::kPanelCols * 2;
      const std::int64_t t1 = std::min(m, (item % blocks + 1) * kItemRows);
      for (std::int64_t t = item % blocks * kItemRows; t < t1; t += engine.rows()) {
        const int nr = static_cast<int>(std::min<std::int64_t>(engine.rows(), t1 - t));
        const BFloat16* base = a + t * lda;
        engine.run(&base, lda, 1, pairs, panel, nr, buf);
        store_tile(buf, nr, nc, pb != nullptr ? pb + c0 : nullptr, py + t * w.n + c0, w.n, 1);
      }
    }
  });
}

void conv1d_bf16(const ExecContext& ctx, const Tensor& x, const PackedBf16Weight& w,
                 const Tensor* bias, const Conv1dOptions& options, Tensor& out) {
  check_dtype(x, DType::F32, "conv1d_bf16: x");
  check_rank(x, 3, "conv1d_bf16: x");
  CHATTERD_CHECK(!w.empty(), InvalidArgument, "conv1d_bf16: the weight is not packed");
  CHATTERD_CHECK(options.groups == 1, InvalidArgument, "conv1d_bf16: groups must be 1, got {}",
                 options.groups);
  CHATTERD_CHECK(x.dim(1) == w.k, ShapeError, "conv1d_bf16: x {} must have {} channels",
                 x.to_string(), w.k);
  CHATTERD_CHECK(&out != &x, InvalidArgument, "conv1d_bf16: out must not alias x");
  (void)tile_kernel(ctx);  // Unsupported without AVX512_BF16, before any work
  const float* pb = bias_data(bias, w.n, "conv1d_bf16: bias");
  const std::int64_t B = x.dim(0), T = x.dim(2);
  const std::int64_t To = conv1d_output_length(T, w.segments, options);
  out.resize({B, w.n, To}, DType::F32);
  if (out.numel() == 0) return;
  const std::int64_t pairs = w.seg_pairs();
  const std::int64_t lda = 2 * pairs;
  const std::int64_t pl = options.pad_left;
  const std::int64_t frames = T + pl + options.pad_right;
  // Frames x channels in bf16 with the padding as zero frames: every tap of every output frame
  // is one in-bounds row. Transposed and rounded in one pass (16 x 16 register blocks), in
  // blocks of 64 channels x 64 frames. AMX blocks read 32 output frames' rows for every tap:
  // whole blocks past the last output frame stay inside each batch item's (zero) frames.
  const std::int64_t frames_alloc =
      std::max(frames, (round_up(To, Bf16Blocks::kMaxRows) - 1) * options.stride +
                           (w.segments - 1) * options.dilation + 1);
  // Scratch (ops/scratch.h): only the padding is zeroed, the transpose writes the rest.
  thread_local std::vector<BFloat16> a_keep;
  std::vector<BFloat16> a_once;
  BFloat16* a = scratch(a_keep, a_once, static_cast<std::size_t>(B * frames_alloc * lda), false);
  for (std::int64_t b = 0; b < B; ++b) {
    BFloat16* ab = a + b * frames_alloc * lda;
    std::fill(ab, ab + pl * lda, BFloat16{});
    std::fill(ab + (pl + T) * lda, ab + frames_alloc * lda, BFloat16{});
    if (lda > w.k) {
      for (std::int64_t t = pl; t < pl + T; ++t)
        std::fill(ab + t * lda + w.k, ab + (t + 1) * lda, BFloat16{});
    }
  }
  const float* px = x.data<float>();
  constexpr std::int64_t kBlockC = 64, kBlockT = 64;
  const std::int64_t cblocks = (w.k + kBlockC - 1) / kBlockC;
  const std::int64_t tblocks = (T + kBlockT - 1) / kBlockT;
  ctx.parallel_for(B * tblocks * cblocks, 2, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t b = i / (tblocks * cblocks);
      const std::int64_t t0 = i / cblocks % tblocks * kBlockT;
      const std::int64_t c0 = i % cblocks * kBlockC;
      cpu::frames_to_bf16(ctx.isa, px + b * w.k * T, T, c0, std::min(w.k, c0 + kBlockC), t0,
                          std::min(T, t0 + kBlockT), a + (b * frames_alloc + pl) * lda, lda);
    }
  });
  const std::int64_t n_panels = w.panels.dim(0);
  const std::int64_t blocks = (To + kItemRows - 1) / kItemRows;
  const auto* panels = w.panels.data<BFloat16>();
  float* po = out.data<float>();
  const std::int64_t taps = w.segments;
  ctx.parallel_for(B * n_panels * blocks, 1, [&](std::int64_t i0, std::int64_t i1) {
    Bf16Blocks engine(ctx);
    alignas(64) float buf[Bf16Blocks::kMaxRows * Bf16Blocks::kCols];
    std::vector<const BFloat16*> bases(static_cast<std::size_t>(taps));
    for (std::int64_t item = i0; item < i1; ++item) {
      const std::int64_t b = item / (n_panels * blocks);
      const std::int64_t pn = item / blocks % n_panels;
      const std::int64_t c0 = pn * cpu::kPanelCols;
      const std::int64_t nc = std::min<std::int64_t>(cpu::kPanelCols, w.n - c0);
      const BFloat16* panel = panels + pn * taps * pairs * cpu::kPanelCols * 2;
      const BFloat16* ab = a + b * frames_alloc * lda;
      const std::int64_t t1 = std::min(To, (item % blocks + 1) * kItemRows);
      for (std::int64_t t = item % blocks * kItemRows; t < t1; t += engine.rows()) {
        const int nr = static_cast<int>(std::min<std::int64_t>(engine.rows(), t1 - t));
        for (std::int64_t s = 0; s < taps; ++s) {
          bases[static_cast<std::size_t>(s)] =
              ab + (t * options.stride + s * options.dilation) * lda;
        }
        engine.run(bases.data(), options.stride * lda, static_cast<int>(taps), pairs, panel, nr,
                   buf);
        store_tile(buf, nr, nc, pb != nullptr ? pb + c0 : nullptr, po + (b * w.n + c0) * To + t, 1,
                   To);
      }
    }
  });
}

}  // namespace chatterd::ops
