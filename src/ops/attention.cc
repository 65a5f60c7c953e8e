#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/convert_kernels.h"
#include "chatterd/core/half.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kQueryBlock = 64;  // queries per work item
constexpr std::int64_t kMinGemmRows = 4;  // below this a block uses the dot-product path

// Keys and values of one sequence in runs ("blocks") of block_tokens keys: key j lies in block
// j / block_tokens; within a block, head h's key i is at head h * head_stride + i * row_stride
// (elements of dtype). A plain tensor is one block; a KvCache is a list of pool blocks.
struct KvView {
  const void* const* k_blocks = nullptr;
  const void* const* v_blocks = nullptr;
  std::int64_t block_tokens = 0;
  std::int64_t n_keys = 0;
  std::int64_t n_heads = 0;
  std::int64_t row_stride = 0;
  std::int64_t head_stride = 0;
  DType dtype = DType::F32;
};

// Head h's keys/values of one block (element pointer of the view's dtype, as bytes).
const std::byte* head_rows(const void* block, const KvView& kv, std::int64_t h) {
  const std::size_t esize = kv.dtype == DType::F16 ? 2 : 4;
  return static_cast<const std::byte*>(block) +
         static_cast<std::size_t>(h * kv.head_stride) * esize;
}

// Rows [0, n) of one head's block as f32 with stride `row_stride` (f16 converted into `tmp`, then
// stride d), for sgemm.
const float* rows_f32(const std::byte* rows, const KvView& kv, std::int64_t n, std::int64_t d,
                      void (*to_f32)(const Half*, float*, std::int64_t), std::vector<float>& tmp,
                      std::int64_t& stride) {
  if (kv.dtype == DType::F32) {
    stride = kv.row_stride;
    return reinterpret_cast<const float*>(rows);
  }
  tmp.resize(static_cast<std::size_t>(n * d));
  const auto* h = reinterpret_cast<const Half*>(rows);
  if (kv.row_stride == d) {  // cache blocks: one contiguous run
    to_f32(h, tmp.data(), n * d);
  } else {
    for (std::int64_t j = 0; j < n; ++j) to_f32(h + j * kv.row_stride, tmp.data() + j * d, d);
  }
  stride = d;
  return tmp.data();
}

void check_q(const Tensor& q) {
  check_dtype(q, DType::F32, "attention: q");
  check_rank(q, 3, "attention: q");
}

// k/v given as tensors [Tk, Hkv, D] (either backend; dtypes are the caller's to check).
void check_kv(const Tensor& q, const Tensor& k, const Tensor& v) {
  check_rank(k, 3, "attention: k");
  CHATTERD_CHECK(k.dim(2) == q.dim(2), ShapeError,
                 "attention: k head dim {} != q head dim {} ({} vs {})", k.dim(2), q.dim(2),
                 k.to_string(), q.to_string());
  check_shape(v, k.shape(), "attention: v");
}

// The call's dimensions, offset and scale, checked once for every backend.
struct AttentionDims {
  std::int64_t tq = 0, hq = 0, d = 0, tk = 0, hkv = 0, q_offset = 0;
  float scale = 1.0f;
};

AttentionDims attention_dims(const Tensor& q, std::int64_t tk, std::int64_t hkv,
                             const AttentionOptions& options) {
  AttentionDims a;
  a.tq = q.dim(0);
  a.hq = q.dim(1);
  a.d = q.dim(2);
  a.tk = tk;
  a.hkv = hkv;
  CHATTERD_CHECK(a.d > 0, ShapeError, "attention: head dim must be positive (q {})", q.to_string());
  CHATTERD_CHECK(hkv > 0 && a.hq % hkv == 0, ShapeError,
                 "attention: kv heads {} must divide query heads {}", hkv, a.hq);
  a.q_offset = options.q_offset.value_or(tk - a.tq);
  CHATTERD_CHECK(!options.causal || a.q_offset >= 0, InvalidArgument,
                 "attention: q_offset {} must be >= 0 (Tq {}, Tk {})", a.q_offset, a.tq, tk);
  a.scale = options.scale.value_or(1.0f / std::sqrt(static_cast<float>(a.d)));
  if (options.key_padding_mask != nullptr) {
    check_dtype(*options.key_padding_mask, DType::Bool, "attention: key_padding_mask");
    check_shape(*options.key_padding_mask, Shape{tk}, "attention: key_padding_mask");
  }
  return a;
}

void run_attention(const ExecContext& ctx, const Tensor& q, const KvView& kv,
                   const AttentionOptions& options, Tensor& out) {
  const AttentionDims dims = attention_dims(q, kv.n_keys, kv.n_heads, options);
  const std::int64_t Tq = dims.tq;
  const std::int64_t Hq = dims.hq;
  const std::int64_t D = dims.d;
  const std::int64_t Tk = dims.tk;
  const std::int64_t group = Hq / kv.n_heads;
  const std::int64_t q_offset = dims.q_offset;
  const float scale = dims.scale;
  const bool* mask =
      options.key_padding_mask != nullptr ? options.key_padding_mask->data<bool>() : nullptr;
  out.resize({Tq, Hq, D}, DType::F32);
  if (Tq == 0) return;

  const float* qd = q.data<float>();
  float* od = out.data<float>();
  const std::int64_t q_row = Hq * D;  // stride between query rows (and output rows)
  const auto& kern = cpu::attention_kernels(ctx.isa);
  const std::int64_t n_blocks = (Tq + kQueryBlock - 1) / kQueryBlock;
  const bool causal = options.causal;
  auto key_end = [&](std::int64_t i) {  // keys [0, key_end) are visible to query i (before mask)
    return causal ? std::clamp<std::int64_t>(q_offset + i + 1, 0, Tk) : Tk;
  };
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  const std::int64_t n_kv_blocks =
      kv.block_tokens > 0 ? (Tk + kv.block_tokens - 1) / kv.block_tokens : 0;
  const bool f16 = kv.dtype == DType::F16;
  const auto to_f32 = cpu::convert_kernels(ctx.isa).f16_to_f32;
  // One query row against n keys / values of one block's head rows, in the cache's dtype.
  auto block_scores = [&](const float* qr, const std::byte* keys, std::int64_t n, float* dst) {
    if (f16) {
      kern.scores_f16(qr, reinterpret_cast<const Half*>(keys), n, D, kv.row_stride, scale, dst);
    } else {
      kern.scores_f32(qr, reinterpret_cast<const float*>(keys), n, D, kv.row_stride, scale, dst);
    }
  };
  auto block_accum = [&](const float* p, const std::byte* values, std::int64_t n, float* dst) {
    if (f16) {
      kern.accum_f16(p, reinterpret_cast<const Half*>(values), n, D, kv.row_stride, dst);
    } else {
      kern.accum_f32(p, reinterpret_cast<const float*>(values), n, D, kv.row_stride, dst);
    }
  };

  ctx.parallel_for(Hq * n_blocks, 1, [&](std::int64_t item0, std::int64_t item1) {
    // Per thread and kept: they reach their largest size once, so decode steps do not allocate.
    thread_local std::vector<float> scores;
    thread_local std::vector<float> rows_tmp;
    for (std::int64_t item = item0; item < item1; ++item) {
      const std::int64_t h = item / n_blocks;
      const std::int64_t hk = h / group;
      const std::int64_t i0 = (item % n_blocks) * kQueryBlock;
      const std::int64_t i1 = std::min(Tq, i0 + kQueryBlock);
      const std::int64_t rows = i1 - i0;
      const std::int64_t n_keys = key_end(i1 - 1);  // widest row of the block
      const float* qh = qd + i0 * q_row + h * D;
      float* oh = od + i0 * q_row + h * D;
      scores.resize(static_cast<std::size_t>(rows * std::max<std::int64_t>(n_keys, 1)));
      float* s = scores.data();
      const bool gemm = rows >= kMinGemmRows && n_keys > 0;
      // Keys [j0, j0 + n) of KV block b, clipped to `end`.
      auto block_keys = [&](std::int64_t b, std::int64_t end) {
        const std::int64_t j0 = b * kv.block_tokens;
        return std::pair{j0, std::max<std::int64_t>(0, std::min(end, j0 + kv.block_tokens) - j0)};
      };

      if (gemm) {
        for (std::int64_t b = 0; b < n_kv_blocks; ++b) {
          const auto [j0, n] = block_keys(b, n_keys);
          if (n == 0) break;
          std::int64_t ld = 0;
          const float* kb =
              rows_f32(head_rows(kv.k_blocks[b], kv, hk), kv, n, D, to_f32, rows_tmp, ld);
          cpu::sgemm(false, true, rows, n, D, scale, qh, q_row, kb, ld, 0.0f, s + j0, n_keys);
        }
      } else {
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t end = key_end(i0 + r);
          for (std::int64_t b = 0; b < n_kv_blocks; ++b) {
            const auto [j0, n] = block_keys(b, end);
            if (n == 0) break;
            block_scores(qh + r * q_row, head_rows(kv.k_blocks[b], kv, hk), n, s + r * n_keys + j0);
          }
        }
      }
      // Masked softmax per row; entries past the row's causal end become 0.
      std::int64_t dead_rows = 0;
      for (std::int64_t r = 0; r < rows; ++r) {
        float* sr = s + r * n_keys;
        const std::int64_t end = key_end(i0 + r);
        if (mask != nullptr) {
          for (std::int64_t j = 0; j < end; ++j) {
            if (!mask[j]) sr[j] = kNegInf;
          }
        }
        const float m = kern.max(sr, end);
        if (m != kNegInf) {
          kern.scale(sr, 1.0f / kern.exp_sub_sum(sr, m, end), end);
          std::fill(sr + end, sr + n_keys, 0.0f);
        } else {  // no visible key: an all-zero row of probabilities, so a zero output
          std::fill(sr, sr + n_keys, 0.0f);
          ++dead_rows;
        }
      }
      if (gemm && dead_rows < rows) {
        for (std::int64_t b = 0; b < n_kv_blocks; ++b) {
          const auto [j0, n] = block_keys(b, n_keys);
          if (n == 0) break;
          std::int64_t ld = 0;
          const float* vb =
              rows_f32(head_rows(kv.v_blocks[b], kv, hk), kv, n, D, to_f32, rows_tmp, ld);
          cpu::sgemm(false, false, rows, D, n, 1.0f, s + j0, n_keys, vb, ld, b == 0 ? 0.0f : 1.0f,
                     oh, q_row);
        }
      } else {
        for (std::int64_t r = 0; r < rows; ++r) {
          float* orow = oh + r * q_row;
          std::fill(orow, orow + D, 0.0f);
          const float* sr = s + r * n_keys;
          const std::int64_t end = key_end(i0 + r);
          for (std::int64_t b = 0; b < n_kv_blocks; ++b) {
            const auto [j0, n] = block_keys(b, end);
            if (n == 0) break;
            block_accum(sr + j0, head_rows(kv.v_blocks[b], kv, hk), n, orow);
          }
        }
      }
    }
  });
}

}  // namespace

namespace {

// attention on CUDA tensors: keys/values f32 or f16, contiguous [Tk, Hkv, D].
void attention_cuda(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                    const AttentionOptions& options, Tensor& out) {
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, "attention", {&k, &v, options.key_padding_mask});
  CHATTERD_CHECK(k.dtype() == DType::F32 || k.dtype() == DType::F16, DTypeError,
                 "attention: CUDA keys must be f32 or f16, got {}", k.to_string());
  check_kv(q, k, v);
  check_dtype(v, k.dtype(), "attention: v");
  const AttentionDims dims = attention_dims(q, k.dim(0), k.dim(1), options);
  cuda::AttentionShape s;
  s.tq = dims.tq;
  s.hq = dims.hq;
  s.d = dims.d;
  s.tk = dims.tk;
  s.hkv = dims.hkv;
  s.q_offset = dims.q_offset;
  s.causal = options.causal;
  s.scale = dims.scale;
  const std::uint8_t* mask =
      options.key_padding_mask != nullptr
          ? reinterpret_cast<const std::uint8_t*>(options.key_padding_mask->device_data<bool>())
          : nullptr;
  dc.ensure(out, Shape{s.tq, s.hq, s.d}, DType::F32);
  cuda::attention_f32(dc.stream().handle(), s, q.device_data<float>(), k.raw_data(), v.raw_data(),
                      k.dtype(), mask, out.device_data<float>());
#else
  (void)ctx, (void)q, (void)k, (void)v, (void)options, (void)out;
  detail::no_cuda_build("attention");
#endif
}

}  // namespace

void attention(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
               const AttentionOptions& options, Tensor& out) {
  check_q(q);
  if (detail::on_cuda(q)) {
    attention_cuda(ctx, q, k, v, options, out);
    return;
  }
  detail::require_host(&k, "attention");
  detail::require_host(&v, "attention");
  detail::require_host(options.key_padding_mask, "attention");
  check_dtype(k, DType::F32, "attention: k");
  check_dtype(v, DType::F32, "attention: v");
  check_kv(q, k, v);
  const std::int64_t Hkv = k.dim(1);
  const std::int64_t D = k.dim(2);
  const void* k_block = k.raw_data();
  const void* v_block = v.raw_data();
  KvView kv{&k_block, &v_block,  std::max<std::int64_t>(k.dim(0), 1), k.dim(0), Hkv, Hkv * D,
            D,        DType::F32};
  run_attention(ctx, q, kv, options, out);
}

void attention(const ExecContext& ctx, const Tensor& q, const KvCache& cache,
               const AttentionOptions& options, Tensor& out) {
  check_q(q);
  CHATTERD_CHECK(cache.n_kv_heads() > 0, InvalidArgument, "attention: cache is not constructed");
  CHATTERD_CHECK(cache.head_dim() == q.dim(2), ShapeError,
                 "attention: cache head dim {} != q head dim {} (q {})", cache.head_dim(), q.dim(2),
                 q.to_string());
  // Block pointers of this call; kept per thread so decode steps do not allocate.
  thread_local std::vector<const void*> k_blocks;
  thread_local std::vector<const void*> v_blocks;
  k_blocks.resize(static_cast<std::size_t>(cache.n_blocks()));
  v_blocks.resize(k_blocks.size());
  for (std::int64_t b = 0; b < cache.n_blocks(); ++b) {
    k_blocks[static_cast<std::size_t>(b)] = cache.block_keys(b);
    v_blocks[static_cast<std::size_t>(b)] = cache.block_values(b);
  }
  const std::int64_t D = cache.head_dim();
  KvView kv{k_blocks.data(),          v_blocks.data(),    cache.block_tokens(),
            cache.length(),           cache.n_kv_heads(), D,
            cache.block_tokens() * D, cache.dtype()};
  run_attention(ctx, q, kv, options, out);
}

}  // namespace chatterd::ops
