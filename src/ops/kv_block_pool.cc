#include "ops/kv_block_pool.h"

#include <algorithm>
#include <new>

#include "core/check.h"

namespace chatterd::ops {

void KvLayout::validate() const {
  CHATTERD_CHECK(n_kv_heads > 0 && head_dim > 0, InvalidArgument,
                 "kv_cache: n_kv_heads ({}) and head_dim ({}) must be positive", n_kv_heads,
                 head_dim);
  CHATTERD_CHECK(block_tokens > 0, InvalidArgument, "kv_cache: block_tokens ({}) must be positive",
                 block_tokens);
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::F16, DTypeError,
                 "kv_cache: storage dtype must be f32 or f16, got {}", dtype_name(dtype));
}

namespace {

const KvLayout& validated(const KvLayout& layout) {
  layout.validate();
  return layout;
}

}  // namespace

KvBlockPool::KvBlockPool(const KvLayout& layout)
    : layout_(validated(layout)),
      block_bytes_(2 * layout_.half_block_bytes()),
      stride_bytes_((kHeaderBytes + block_bytes_ + 63) / 64 * 64) {}

KvBlockPool::~KvBlockPool() = default;

void KvBlockPool::SlabDelete::operator()(std::byte* p) const {
  ::operator delete (p, std::align_val_t{64});
}

std::atomic<int>& KvBlockPool::refs(const std::byte* block) const {
  // The header is raw slab memory in which acquire() constructed the counter.
  return *std::launder(
      reinterpret_cast<std::atomic<int>*>(const_cast<std::byte*>(block) - kHeaderBytes));
}

std::byte* KvBlockPool::acquire() {
  std::byte* block = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (free_.empty()) {
      // Slabs are 64-byte aligned so every block (and its header line) is.
      std::unique_ptr<std::byte, SlabDelete> slab(static_cast<std::byte*>(
          ::operator new (stride_bytes_* kSlabBlocks, std::align_val_t{64})));
      for (std::int64_t i = kSlabBlocks - 1; i >= 0; --i) {
        free_.push_back(slab.get() + static_cast<std::size_t>(i) * stride_bytes_ + kHeaderBytes);
      }
      slabs_.push_back(std::move(slab));
    }
    block = free_.back();
    free_.pop_back();
    ++in_use_;
    peak_in_use_ = std::max(peak_in_use_, in_use_);
  }
  new (block - kHeaderBytes) std::atomic<int>(1);
  return block;
}

void KvBlockPool::retain(std::byte* block) {
  refs(block).fetch_add(1, std::memory_order_relaxed);
}

void KvBlockPool::release(std::byte* block) {
  if (refs(block).fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  std::lock_guard lock(mutex_);
  free_.push_back(block);
  --in_use_;
}

int KvBlockPool::references(const std::byte* block) const {
  return refs(block).load(std::memory_order_acquire);
}

KvPoolStats KvBlockPool::stats() const {
  std::lock_guard lock(mutex_);
  KvPoolStats s;
  s.blocks_allocated = static_cast<std::int64_t>(slabs_.size()) * kSlabBlocks;
  s.blocks_in_use = in_use_;
  s.peak_blocks_in_use = peak_in_use_;
  s.block_bytes = block_bytes_;
  return s;
}

}  // namespace chatterd::ops
