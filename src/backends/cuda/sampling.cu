// The Turbo/Nano sampling chain on the device (kernels.h, "sampling"). One block of kThreads per
// stream holds the row's (score, index) pairs in shared memory, sorts them ascending with a
// bitonic sort on (score, index) (the CPU's stable sort order), and does the reductions and
// prefix sums as block scans. Sums run in a different order than the CPU's serial loops, so a
// token can differ only where a cumulative mass lands within float rounding of a threshold.

#include <algorithm>
#include <cfloat>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device_math.cuh"
#include "backends/cuda/kernels.h"

namespace chatterd::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

// (a_val, a_idx) < (b_val, b_idx): ascending scores, ties by index (what std::stable_sort of the
// index list by score gives); -inf first. A bitonic network always terminates, whatever NaNs do.
__device__ __forceinline__ bool less(float av, int ai, float bv, int bi) {
  return av < bv || (av == bv && ai < bi);
}

// Inclusive prefix sums of v over the block, thread order (each thread passes one value).
__device__ float block_inclusive_scan(float v, float* warp_sums) {
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  for (int o = 1; o < 32; o <<= 1) {
    const float n = __shfl_up_sync(detail::kFullMask, v, o);
    if (lane >= o) v += n;
  }
  __syncthreads();
  if (lane == 31) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    float w = lane < kWarps ? warp_sums[lane] : 0.0f;
    for (int o = 1; o < 32; o <<= 1) {
      const float n = __shfl_up_sync(detail::kFullMask, w, o);
      if (lane >= o) w += n;
    }
    if (lane < kWarps) warp_sums[lane] = w;  // inclusive over warps
  }
  __syncthreads();
  return warp > 0 ? v + warp_sums[warp - 1] : v;
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* __restrict__ logits, std::int64_t vocab, int padded,
                  const TurboSampling* __restrict__ params, std::uint8_t* __restrict__ seen,
                  const float* __restrict__ uniforms, float* __restrict__ processed,
                  std::int32_t* __restrict__ ids) {
  extern __shared__ unsigned char smem[];
  float* vals = reinterpret_cast<float*>(smem);
  int* idx = reinterpret_cast<int*>(vals + padded);
  __shared__ float scratch[32];
  __shared__ float warp_sums[32];
  __shared__ int pick;
  const std::int64_t b = blockIdx.x;
  const TurboSampling p = params[b];
  const float* row = logits + b * vocab;
  float* out = processed + b * vocab;
  std::uint8_t* seen_row = seen + b * vocab;
  const int n = static_cast<int>(vocab);
  const bool scale = p.temperature > 0.0f && p.temperature != 1.0f;

  // 1. Temperature; the pairs to sort (padding sorts last: +inf with indices past the row).
  for (int i = threadIdx.x; i < padded; i += kThreads) {
    if (i < n) {
      const float x = scale ? row[i] / p.temperature : row[i];
      out[i] = x;
      vals[i] = x;
    } else {
      vals[i] = INFINITY;
    }
    idx[i] = i;
  }
  __syncthreads();

  const bool top_k = p.top_k > 0 && p.top_k < n;
  const bool top_p = p.top_p < 1.0f;
  if (top_k || top_p) {
    // 2. Bitonic sort ascending by (score, index).
    for (int size = 2; size <= padded; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int i = threadIdx.x; i < padded; i += kThreads) {
          const int j = i ^ stride;
          if (j > i) {
            const bool up = (i & size) == 0;
            const bool swap = up ? less(vals[j], idx[j], vals[i], idx[i])
                                 : less(vals[i], idx[i], vals[j], idx[j]);
            if (swap) {
              const float tv = vals[i];
              vals[i] = vals[j];
              vals[j] = tv;
              const int ti = idx[i];
              idx[i] = idx[j];
              idx[j] = ti;
            }
          }
        }
        __syncthreads();
      }
    }
    // 3. Top-k: keep scores >= the k-th largest (ties kept); in sorted order, a suffix.
    int first_kept = 0;
    if (top_k) {
      const float threshold = vals[n - p.top_k];
      for (int i = threadIdx.x; i < n; i += kThreads) {
        if (vals[i] < threshold) {
          out[idx[i]] = -INFINITY;
          vals[i] = -INFINITY;  // sorted order is unchanged: these are all at the front
        }
      }
      __syncthreads();
    }
    // First sorted position holding a live score (the -inf ones come first).
    if (threadIdx.x == 0) pick = n;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += kThreads) {
      if (vals[i] != -INFINITY) atomicMin(&pick, i);
    }
    __syncthreads();
    first_kept = pick;
    __syncthreads();
    // 4. Top-p over the live suffix [first_kept, n): drop ascending entries while the
    //    cumulative probability stays <= 1 - top_p; the largest (position n - 1) always stays.
    if (top_p && n - first_kept > 1) {
      const float max_v = vals[n - 1];
      float local = 0.0f;
      const int chunk = (n + kThreads - 1) / kThreads;
      const int begin = static_cast<int>(threadIdx.x) * chunk;
      const int end = min(begin + chunk, n);
      for (int i = begin; i < end; ++i) {
        if (i >= first_kept) local += expf(vals[i] - max_v);
      }
      const float total = detail::block_sum(local, scratch);
      // Per-thread chunk prefix, then the element prefixes within the chunk.
      const float before = block_inclusive_scan(local / total, warp_sums) - local / total;
      float cumulative = before;
      const float threshold = 1.0f - p.top_p;
      for (int i = begin; i < end; ++i) {
        if (i < first_kept) continue;
        cumulative += expf(vals[i] - max_v) / total;
        if (i < n - 1 && cumulative <= threshold) out[idx[i]] = -INFINITY;
      }
      __syncthreads();
    }
  }

  // 5. Repetition penalty on the filtered scores.
  if (p.repetition_penalty != 1.0f) {
    for (int i = threadIdx.x; i < n; i += kThreads) {
      if (seen_row[i] != 0) {
        const float s = out[i];
        out[i] = s < 0.0f ? s * p.repetition_penalty : s / p.repetition_penalty;
      }
    }
  }
  __syncthreads();

  // 6. The pick, over the processed scores in index order (each thread a contiguous chunk).
  const int chunk = (n + kThreads - 1) / kThreads;
  const int begin = static_cast<int>(threadIdx.x) * chunk;
  const int end = min(begin + chunk, n);
  float local_max = -INFINITY;
  int local_arg = -1;
  for (int i = begin; i < end; ++i) {
    if (out[i] > local_max) {
      local_max = out[i];
      local_arg = i;
    }
  }
  const float max_v = detail::block_max(local_max, scratch);
  if (threadIdx.x == 0) pick = max_v == -INFINITY ? -1 : 0x7fffffff;
  __syncthreads();
  if (max_v == -INFINITY) {
    // Nothing can be drawn: -1 (the CPU sampler's answer too).
  } else if (p.greedy != 0) {
    if (local_max == max_v) atomicMin(&pick, local_arg);  // the first maximum
  } else {
    float local = 0.0f;
    for (int i = begin; i < end; ++i) local += expf(out[i] - max_v);
    const float total = detail::block_sum(local, scratch);
    const float u = uniforms[b];
    float cumulative = block_inclusive_scan(local / total, warp_sums) - local / total;
    int found = -1;
    int last_positive = -1;  // as the CPU: a probability (not just an exp) above 0
    for (int i = begin; i < end && found < 0; ++i) {
      const float q = expf(out[i] - max_v) / total;
      if (q <= 0.0f) continue;
      last_positive = i;
      cumulative += q;
      if (u < cumulative) found = i;
    }
    // The first index whose cumulative mass passes u; else the last live index.
    if (found >= 0) atomicMin(&pick, found);
    __syncthreads();
    if (pick == 0x7fffffff) {
      __syncthreads();
      if (threadIdx.x == 0) pick = -1;
      __syncthreads();
      if (last_positive >= 0) atomicMax(&pick, last_positive);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    ids[b] = pick;
    if (pick >= 0) seen_row[pick] = 1;
  }
}

}  // namespace

void sample_turbo_rows(StreamHandle stream, const float* logits, std::int64_t batch,
                       std::int64_t vocab, const TurboSampling* params, std::uint8_t* seen,
                       const float* uniforms, float* processed, std::int32_t* ids) {
  if (batch == 0) return;
  if (vocab < 1 || vocab > kSamplingMaxVocab || batch < 0 || batch > 2147483647) {
    detail::throw_unsupported("sample_turbo_rows: vocabulary of " + std::to_string(vocab) +
                              " (at most " + std::to_string(kSamplingMaxVocab) + ")");
  }
  int padded = 1;
  while (padded < vocab) padded <<= 1;
  const std::size_t smem = static_cast<std::size_t>(padded) * (sizeof(float) + sizeof(int));
  // Up to 128 KiB of shared memory for 16384 pairs (the default cap is 48 KiB). The attribute is
  // per device, so it is set on every launch (cheap).
  detail::check(cudaFuncSetAttribute(sample_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(smem)),
                "sample_turbo_rows: shared memory opt-in");
  sample_kernel<<<static_cast<unsigned>(batch), kThreads, smem, stream>>>(
      logits, vocab, padded, params, seen, uniforms, processed, ids);
  detail::check_launch("sample_turbo_rows");
}

}  // namespace chatterd::cuda
