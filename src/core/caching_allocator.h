#pragma once
// A caching allocator for memory whose raw allocation is slow or synchronising (cudaMalloc,
// cudaHostAlloc): a freed block goes to a free list and serves a later request of about its size,
// so a steady-state decode loop never reaches the raw allocator. Device-agnostic: the raw
// allocator is an interface, which is how the bookkeeping is tested on hosts without a GPU.
//
// Ordering is the owner's job: a block returns to the cache when its last handle goes, and the
// next user may get it at once. With one allocator per CUDA stream that is safe (stream order);
// anything else must synchronise before dropping the handle.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace chatterd {

class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  // nullptr when out of memory: the cache is then emptied and the request tried once more.
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void release(void* p, std::size_t bytes) noexcept = 0;
  virtual std::string_view name() const = 0;  // for messages: "cuda:0", "pinned host"
};

struct CachingAllocatorStats {
  std::size_t bytes_in_use = 0;       // handed out (rounded sizes)
  std::size_t bytes_cached = 0;       // in free lists
  std::size_t peak_bytes_in_use = 0;  // since construction
  std::uint64_t raw_allocations = 0;  // calls that reached the raw allocator and succeeded
  std::uint64_t raw_releases = 0;
  std::uint64_t cache_hits = 0;
};

class CachingAllocator {
 public:
  explicit CachingAllocator(std::unique_ptr<RawAllocator> raw);
  // Releases the cached blocks; blocks still handed out go back to the raw allocator when their
  // last handle goes (handles may outlive the allocator).
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // At least `bytes` (rounded up by round_size), returned to the cache when the last copy of the
  // handle goes. Throws Unavailable when the raw allocator has no memory even with the cache
  // emptied.
  std::shared_ptr<void> allocate(std::size_t bytes);
  // Hands every cached block back to the raw allocator (memory pressure, a model unloaded).
  void release_cached();
  // While set (CUDA graph capture), blocks given back are handed to `sink` as new handles
  // instead of the cache: work recorded during the capture keeps using them at every replay.
  // The cache is then also never emptied to satisfy a request. Null ends it.
  void set_capture_sink(std::vector<std::shared_ptr<void>>* sink);
  CachingAllocatorStats stats() const;

  // 512-byte granules below 1 MiB, 2 MiB ones above: small scratch packs tightly, large
  // tensors do not fragment the raw allocator. 0 bytes still takes one granule.
  static std::size_t round_size(std::size_t bytes);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace chatterd
