#pragma once
// Per-layer key/value cache for incremental decoding, held in fixed-size blocks from a
// KvBlockPool (ops/kv_block_pool.h).
//
// Block layout: keys [n_kv_heads, block_tokens, head_dim], then values the same way, f32 or f16
// (the pool's layout). Within a block one head's keys are contiguous, so a decode step streams
// each head's history linearly, block after block. Appending scatters the new [T, H_kv, D] rows
// into place (rounding to f16 where the cache is f16) and takes a block from the pool each
// block_tokens tokens: memory follows the tokens actually generated, never a reservation for the
// longest possible request, and growing never copies.
//
// Copies share blocks (a voice's conditioning prefix is computed once and every request starts
// from a copy that costs no memory); a block is copied only before a write into one that is
// shared. Not thread-safe: one cache is used by one request at a time (sharing across threads is
// safe because shared blocks are never written).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"
#include "ops/kv_block_pool.h"

namespace chatterd::ops {

class KvCache {
 public:
  KvCache() = default;
  // A cache drawing blocks from `pool`.
  explicit KvCache(std::shared_ptr<KvBlockPool> pool);
  // A cache with a pool of its own: f32, `block_tokens` per block (tests, tools).
  KvCache(std::int64_t n_kv_heads, std::int64_t head_dim, std::int64_t block_tokens = 64);
  KvCache(const KvCache& other);
  KvCache& operator=(const KvCache& other);
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  ~KvCache();

  // Append k_new, v_new: f32 [T, n_kv_heads, head_dim].
  void append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new);
  // Forget the contents and return the blocks to the pool, e.g. for a new request.
  void clear();
  // Drop tokens from the end: keep the first `n_tokens` (whole blocks past them go back).
  void truncate(std::int64_t n_tokens);
  // Replaces the contents by `src`'s tokens (same layout): shares its blocks when both draw from
  // one pool, else copies them. Restores a cached prefix into a request's own cache.
  void assign(const KvCache& src);

  std::int64_t length() const { return length_; }
  std::int64_t n_kv_heads() const { return layout().n_kv_heads; }
  std::int64_t head_dim() const { return layout().head_dim; }
  DType dtype() const { return layout().dtype; }
  std::int64_t block_tokens() const { return layout().block_tokens; }
  // Tokens the blocks held now can take.
  std::int64_t capacity() const {
    return static_cast<std::int64_t>(blocks_.size()) * block_tokens();
  }
  std::int64_t n_blocks() const { return static_cast<std::int64_t>(blocks_.size()); }
  const std::shared_ptr<KvBlockPool>& pool() const { return pool_; }

  // Block b's keys / values, [n_kv_heads, block_tokens, head_dim] of dtype(); tokens at or past
  // length() are garbage.
  const void* block_keys(std::int64_t b) const { return blocks_[static_cast<std::size_t>(b)]; }
  const void* block_values(std::int64_t b) const {
    return blocks_[static_cast<std::size_t>(b)] + layout().half_block_bytes();
  }

 private:
  const KvLayout& layout() const;
  void release_all();
  // Makes block b exist and be this cache's alone (copies a shared one), for a write.
  std::byte* writable_block(std::int64_t b);

  std::shared_ptr<KvBlockPool> pool_;
  std::vector<std::byte*> blocks_;
  std::int64_t length_ = 0;
};

}  // namespace chatterd::ops
