#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/blas.h"
#include "core/check.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kQueryBlock = 64;  // queries per work item
constexpr std::int64_t kMinGemmRows = 4;  // below this a block uses the dot-product path

// Keys and values of one sequence: head h, key j at base + h * head_stride + j * row_stride.
struct KvView {
  const float* k = nullptr;
  const float* v = nullptr;
  std::int64_t n_keys = 0;
  std::int64_t n_heads = 0;
  std::int64_t row_stride = 0;
  std::int64_t head_stride = 0;
};

void check_q(const Tensor& q) {
  check_dtype(q, DType::F32, "attention: q");
  check_rank(q, 3, "attention: q");
}

void run_attention(const ExecContext& ctx, const Tensor& q, const KvView& kv,
                   const AttentionOptions& options, Tensor& out) {
  const std::int64_t Tq = q.dim(0);
  const std::int64_t Hq = q.dim(1);
  const std::int64_t D = q.dim(2);
  const std::int64_t Tk = kv.n_keys;
  CHATTERD_CHECK(D > 0, ShapeError, "attention: head dim must be positive (q {})", q.to_string());
  CHATTERD_CHECK(kv.n_heads > 0 && Hq % kv.n_heads == 0, ShapeError,
                 "attention: kv heads {} must divide query heads {}", kv.n_heads, Hq);
  const std::int64_t group = Hq / kv.n_heads;
  const std::int64_t q_offset = options.q_offset.value_or(Tk - Tq);
  CHATTERD_CHECK(!options.causal || q_offset >= 0, InvalidArgument,
                 "attention: q_offset {} must be >= 0 (Tq {}, Tk {})", q_offset, Tq, Tk);
  const float scale = options.scale.value_or(1.0f / std::sqrt(static_cast<float>(D)));
  const bool* mask = nullptr;
  if (options.key_padding_mask != nullptr) {
    const Tensor& m = *options.key_padding_mask;
    check_dtype(m, DType::Bool, "attention: key_padding_mask");
    check_shape(m, Shape{Tk}, "attention: key_padding_mask");
    mask = m.data<bool>();
  }
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

  ctx.parallel_for(Hq * n_blocks, 1, [&](std::int64_t item0, std::int64_t item1) {
    // Per thread and kept: it reaches its largest size once, so decode steps do not allocate.
    thread_local std::vector<float> scores;
    for (std::int64_t item = item0; item < item1; ++item) {
      const std::int64_t h = item / n_blocks;
      const std::int64_t i0 = (item % n_blocks) * kQueryBlock;
      const std::int64_t i1 = std::min(Tq, i0 + kQueryBlock);
      const std::int64_t rows = i1 - i0;
      const std::int64_t n_keys = key_end(i1 - 1);  // widest row of the block
      const float* kh = kv.k + (h / group) * kv.head_stride;
      const float* vh = kv.v + (h / group) * kv.head_stride;
      const float* qh = qd + i0 * q_row + h * D;
      float* oh = od + i0 * q_row + h * D;
      scores.resize(static_cast<std::size_t>(rows * std::max<std::int64_t>(n_keys, 1)));
      float* s = scores.data();

      if (rows >= kMinGemmRows && n_keys > 0) {
        cpu::sgemm(false, true, rows, n_keys, D, scale, qh, q_row, kh, kv.row_stride, 0.0f, s,
                   n_keys);
      } else {
        for (std::int64_t r = 0; r < rows; ++r) {
          const std::int64_t end = key_end(i0 + r);
          for (std::int64_t j = 0; j < end; ++j) {
            s[r * n_keys + j] = scale * kern.dot(qh + r * q_row, kh + j * kv.row_stride, D);
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
      if (rows >= kMinGemmRows && n_keys > 0 && dead_rows < rows) {
        cpu::sgemm(false, false, rows, D, n_keys, 1.0f, s, n_keys, vh, kv.row_stride, 0.0f, oh,
                   q_row);
      } else {
        for (std::int64_t r = 0; r < rows; ++r) {
          float* orow = oh + r * q_row;
          std::fill(orow, orow + D, 0.0f);
          const float* sr = s + r * n_keys;
          const std::int64_t end = key_end(i0 + r);
          for (std::int64_t j = 0; j < end; ++j) {
            if (sr[j] != 0.0f) kern.axpy(sr[j], vh + j * kv.row_stride, orow, D);
          }
        }
      }
    }
  });
}

}  // namespace

void attention(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
               const AttentionOptions& options, Tensor& out) {
  check_q(q);
  check_dtype(k, DType::F32, "attention: k");
  check_dtype(v, DType::F32, "attention: v");
  check_rank(k, 3, "attention: k");
  CHATTERD_CHECK(k.dim(2) == q.dim(2), ShapeError,
                 "attention: k head dim {} != q head dim {} ({} vs {})", k.dim(2), q.dim(2),
                 k.to_string(), q.to_string());
  check_shape(v, k.shape(), "attention: v");
  const std::int64_t Hkv = k.dim(1);
  const std::int64_t D = k.dim(2);
  KvView kv{k.data<float>(), v.data<float>(), k.dim(0), Hkv, Hkv * D, D};
  run_attention(ctx, q, kv, options, out);
}

void attention(const ExecContext& ctx, const Tensor& q, const KvCache& cache,
               const AttentionOptions& options, Tensor& out) {
  check_q(q);
  CHATTERD_CHECK(cache.n_kv_heads() > 0, InvalidArgument, "attention: cache is not constructed");
  CHATTERD_CHECK(cache.head_dim() == q.dim(2), ShapeError,
                 "attention: cache head dim {} != q head dim {} (q {})", cache.head_dim(), q.dim(2),
                 q.to_string());
  KvView kv{cache.k_data(),     cache.v_data(),   cache.length(),
            cache.n_kv_heads(), cache.head_dim(), cache.head_stride()};
  run_attention(ctx, q, kv, options, out);
}

}  // namespace chatterd::ops
