#pragma once
// Internal to layers: appending to and attending over either KV cache (the host's block-pooled
// ops::KvCache or the CUDA device's ops::DeviceKvCache), so a block's forward is written once as a
// template over the cache type.

#include "chatterd/core/tensor.h"
#include "ops/attention.h"
#include "ops/device_kv_cache.h"
#include "ops/exec_context.h"
#include "ops/kv_cache.h"

namespace chatterd::layers::detail {

inline void append_kv(const ExecContext& ctx, ops::KvCache& cache, const Tensor& k,
                      const Tensor& v) {
  cache.append(ctx, k, v);
}

inline void append_kv(const ExecContext& ctx, ops::DeviceKvCache& cache, const Tensor& k,
                      const Tensor& v) {
  cache.append(ctx, k, v);
}

inline void attend(const ExecContext& ctx, const Tensor& q, const ops::KvCache& cache,
                   const ops::AttentionOptions& opt, Tensor& out) {
  ops::attention(ctx, q, cache, opt, out);
}

inline void attend(const ExecContext& ctx, const Tensor& q, const ops::DeviceKvCache& cache,
                   const ops::AttentionOptions& opt, Tensor& out) {
  ops::attention(ctx, q, cache.keys(), cache.values(), opt, out);
}

}  // namespace chatterd::layers::detail
