#pragma once
// Fixed-size blocks of key/value storage shared by every KvCache of one layout (one T3 model).
//
// A block holds `block_tokens` tokens of one layer: keys [n_kv_heads, block_tokens, head_dim],
// then values in the same layout, in f32 or f16. Blocks are carved from slabs of kSlabBlocks and
// kept on a free list when released, so a request's cache grows a block at a time (no
// reservation for the longest possible output, no copy when it grows) and a finished request's
// blocks serve the next one without touching the system allocator.
//
// Blocks are reference-counted so that caches can share read-only prefixes (a voice's
// conditioning rows): KvCache copies share blocks and copy a block only before writing into a
// shared one. Thread-safe: requests on different threads take and return blocks concurrently.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "chatterd/core/dtype.h"

namespace chatterd::ops {

struct KvLayout {
  std::int64_t n_kv_heads = 0;
  std::int64_t head_dim = 0;
  DType dtype = DType::F32;  // F32 or F16
  std::int64_t block_tokens = 64;
  // Throws InvalidArgument naming the bad field.
  void validate() const;
  std::size_t element_bytes() const { return dtype == DType::F16 ? 2 : 4; }
  // Bytes of one block's keys (= of its values).
  std::size_t half_block_bytes() const {
    return static_cast<std::size_t>(n_kv_heads * block_tokens * head_dim) * element_bytes();
  }
};

struct KvPoolStats {
  std::int64_t blocks_allocated = 0;  // carved from slabs so far (in use + free)
  std::int64_t blocks_in_use = 0;
  std::int64_t peak_blocks_in_use = 0;
  std::size_t block_bytes = 0;  // keys + values of one block
  std::size_t bytes_allocated() const {
    return static_cast<std::size_t>(blocks_allocated) * block_bytes;
  }
  std::size_t bytes_in_use() const { return static_cast<std::size_t>(blocks_in_use) * block_bytes; }
  std::size_t peak_bytes_in_use() const {
    return static_cast<std::size_t>(peak_blocks_in_use) * block_bytes;
  }
};

class KvBlockPool {
 public:
  explicit KvBlockPool(const KvLayout& layout);
  ~KvBlockPool();
  KvBlockPool(const KvBlockPool&) = delete;
  KvBlockPool& operator=(const KvBlockPool&) = delete;

  const KvLayout& layout() const { return layout_; }

  // A block with one reference; contents undefined.
  std::byte* acquire();
  // One more reference to a block of this pool.
  void retain(std::byte* block);
  // Drops one reference; the last returns the block to the free list.
  void release(std::byte* block);
  // References held on a block (1: the holder may write into it).
  int references(const std::byte* block) const;

  KvPoolStats stats() const;

 private:
  static constexpr std::int64_t kSlabBlocks = 16;
  // Each block is preceded by a header line holding its reference count.
  static constexpr std::size_t kHeaderBytes = 64;

  std::atomic<int>& refs(const std::byte* block) const;

  KvLayout layout_;
  std::size_t block_bytes_ = 0;   // keys + values
  std::size_t stride_bytes_ = 0;  // header + block, rounded to 64 bytes
  mutable std::mutex mutex_;
  struct SlabDelete {
    void operator()(std::byte* p) const;
  };
  std::vector<std::unique_ptr<std::byte, SlabDelete>> slabs_;
  std::vector<std::byte*> free_;
  std::int64_t in_use_ = 0;
  std::int64_t peak_in_use_ = 0;
};

}  // namespace chatterd::ops
