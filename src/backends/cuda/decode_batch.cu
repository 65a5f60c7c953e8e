// Kernels of the batched T3 decode step (kernels.h, "batched decode"): embedding rows by device
// ids, KV appends and attention at device-held slot lengths, the length update and greedy argmax.

#include <algorithm>
#include <cfloat>

#include "backends/cuda/attention_row.cuh"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void gather_kernel(const T* __restrict__ table, std::int64_t rows, std::int64_t d,
                              const std::int32_t* __restrict__ ids, float* __restrict__ out) {
  const std::int64_t i = blockIdx.x;
  const std::int64_t id = ids[i];
  const bool valid = id >= 0 && id < rows;
  for (std::int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    out[i * d + c] = valid ? detail::to_float(table[id * d + c]) : 0.0f;
  }
}

template <class KV>
__global__ void kv_append_kernel(const float* __restrict__ k_new, const float* __restrict__ v_new,
                                 std::int64_t src_stride, void* const* keys, void* const* values,
                                 const std::int32_t* __restrict__ lengths, std::int64_t capacity,
                                 std::int64_t row_elems) {
  const std::int64_t b = blockIdx.x;
  const std::int64_t pos = lengths[b];
  if (pos < 0 || pos >= capacity) return;  // uniform over the block
  KV* kd = static_cast<KV*>(keys[b]) + pos * row_elems;
  KV* vd = static_cast<KV*>(values[b]) + pos * row_elems;
  const float* ks = k_new + b * src_stride;
  const float* vs = v_new + b * src_stride;
  for (std::int64_t c = threadIdx.x; c < row_elems; c += blockDim.x) {
    kd[c] = detail::from_float<KV>(ks[c]);
    vd[c] = detail::from_float<KV>(vs[c]);
  }
}

template <class KV>
__global__ void __launch_bounds__(detail::kAttentionTile)
    attention_batch_kernel(const float* __restrict__ q, std::int64_t q_stride, void* const* keys,
                           void* const* values, const std::int32_t* __restrict__ lengths,
                           std::int64_t capacity, std::int64_t hq, std::int64_t hkv, std::int64_t d,
                           float scale, float* __restrict__ out) {
  const std::int64_t h = blockIdx.x;
  const std::int64_t b = blockIdx.y;
  const std::int64_t kvh = h / (hq / hkv);
  const std::int64_t limit =
      min(capacity, max(std::int64_t{0}, static_cast<std::int64_t>(lengths[b]) + 1));
  const KV* k = static_cast<const KV*>(keys[b]) + kvh * d;
  const KV* v = static_cast<const KV*>(values[b]) + kvh * d;
  detail::attend_row(q + b * q_stride + h * d, k, v, hkv * d, limit, nullptr, d, scale,
                     out + (b * hq + h) * d);
}

__global__ void advance_kernel(std::int32_t* lengths, std::int64_t batch) {
  const std::int64_t b = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (b < batch) lengths[b] += 1;
}

__global__ void argmax_kernel(const float* __restrict__ logits, std::int64_t vocab,
                              std::int32_t* __restrict__ ids) {
  __shared__ float best_v[kThreads];
  __shared__ std::int32_t best_i[kThreads];
  const float* row = logits + blockIdx.x * vocab;
  float v = -INFINITY;
  std::int32_t idx = -1;
  for (std::int64_t c = threadIdx.x; c < vocab; c += blockDim.x) {
    if (row[c] > v) {  // strict: within a thread the first of equal values stays
      v = row[c];
      idx = static_cast<std::int32_t>(c);
    }
  }
  best_v[threadIdx.x] = v;
  best_i[threadIdx.x] = idx;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      const float ov = best_v[threadIdx.x + half];
      const std::int32_t oi = best_i[threadIdx.x + half];
      // Larger value wins; equal values: the smaller index (the CPU's first maximum).
      if (oi >= 0 &&
          (ov > best_v[threadIdx.x] ||
           (ov == best_v[threadIdx.x] && (best_i[threadIdx.x] < 0 || oi < best_i[threadIdx.x])))) {
        best_v[threadIdx.x] = ov;
        best_i[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) ids[blockIdx.x] = best_i[0];
}

unsigned checked_grid(std::int64_t n, const char* what) {
  if (n > 2147483647) detail::throw_unsupported(std::string(what) + ": grid too large");
  return static_cast<unsigned>(n);
}

}  // namespace

void gather_rows(StreamHandle stream, const void* table, DType table_dtype, std::int64_t rows,
                 std::int64_t d, const std::int32_t* ids, std::int64_t n, float* out) {
  if (n == 0 || d == 0) return;
  const unsigned grid = checked_grid(n, "gather_rows");
  const auto threads = static_cast<unsigned>(std::min<std::int64_t>(kThreads, (d + 31) / 32 * 32));
  switch (table_dtype) {
    case DType::F32:
      gather_kernel<<<grid, threads, 0, stream>>>(static_cast<const float*>(table), rows, d, ids,
                                                  out);
      break;
    case DType::F16:
      gather_kernel<<<grid, threads, 0, stream>>>(static_cast<const __half*>(table), rows, d, ids,
                                                  out);
      break;
    case DType::BF16:
      gather_kernel<<<grid, threads, 0, stream>>>(static_cast<const __nv_bfloat16*>(table), rows, d,
                                                  ids, out);
      break;
    default:
      detail::throw_unsupported("gather_rows: " + std::string(dtype_name(table_dtype)) + " table");
  }
  detail::check_launch("gather_rows");
}

void kv_append_batch(StreamHandle stream, const float* k_new, const float* v_new,
                     std::int64_t src_stride, void* const* keys, void* const* values,
                     DType kv_dtype, const std::int32_t* lengths, std::int64_t capacity,
                     std::int64_t batch, std::int64_t row_elems) {
  if (batch == 0 || row_elems == 0) return;
  const unsigned grid = checked_grid(batch, "kv_append_batch");
  if (kv_dtype == DType::F16) {
    kv_append_kernel<__half><<<grid, kThreads, 0, stream>>>(k_new, v_new, src_stride, keys, values,
                                                            lengths, capacity, row_elems);
  } else if (kv_dtype == DType::F32) {
    kv_append_kernel<float><<<grid, kThreads, 0, stream>>>(k_new, v_new, src_stride, keys, values,
                                                           lengths, capacity, row_elems);
  } else {
    detail::throw_unsupported("kv_append_batch: " + std::string(dtype_name(kv_dtype)) + " slots");
  }
  detail::check_launch("kv_append_batch");
}

void attention_decode_batch(StreamHandle stream, const float* q, std::int64_t q_stride,
                            const void* const* keys, const void* const* values, DType kv_dtype,
                            const std::int32_t* lengths, std::int64_t capacity, std::int64_t batch,
                            std::int64_t hq, std::int64_t hkv, std::int64_t d, float scale,
                            float* out) {
  if (batch == 0 || hq == 0) return;
  if (d > kAttentionMaxHeadDim || hkv <= 0 || hq % hkv != 0 || batch > 65535) {
    detail::throw_unsupported("attention_decode_batch: " + std::to_string(batch) + " streams, " +
                              std::to_string(hq) + "/" + std::to_string(hkv) + " heads of " +
                              std::to_string(d));
  }
  const dim3 grid(checked_grid(hq, "attention_decode_batch"), static_cast<unsigned>(batch));
  auto* k = const_cast<void* const*>(keys);
  auto* v = const_cast<void* const*>(values);
  if (kv_dtype == DType::F16) {
    attention_batch_kernel<__half><<<grid, detail::kAttentionTile, 0, stream>>>(
        q, q_stride, k, v, lengths, capacity, hq, hkv, d, scale, out);
  } else if (kv_dtype == DType::F32) {
    attention_batch_kernel<float><<<grid, detail::kAttentionTile, 0, stream>>>(
        q, q_stride, k, v, lengths, capacity, hq, hkv, d, scale, out);
  } else {
    detail::throw_unsupported("attention_decode_batch: " + std::string(dtype_name(kv_dtype)) +
                              " slots");
  }
  detail::check_launch("attention_decode_batch");
}

void advance_lengths(StreamHandle stream, std::int32_t* lengths, std::int64_t batch) {
  if (batch == 0) return;
  const auto blocks = static_cast<unsigned>((batch + kThreads - 1) / kThreads);
  advance_kernel<<<blocks, kThreads, 0, stream>>>(lengths, batch);
  detail::check_launch("advance_lengths");
}

void argmax_rows(StreamHandle stream, const float* logits, std::int64_t batch, std::int64_t vocab,
                 std::int32_t* ids) {
  if (batch == 0) return;
  argmax_kernel<<<checked_grid(batch, "argmax_rows"), kThreads, 0, stream>>>(logits, vocab, ids);
  detail::check_launch("argmax_rows");
}

}  // namespace chatterd::cuda
