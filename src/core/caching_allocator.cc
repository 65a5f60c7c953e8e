#include "core/caching_allocator.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "core/check.h"

namespace chatterd {
namespace {

constexpr std::size_t kSmallGranule = 512;
constexpr std::size_t kLargeGranule = std::size_t{2} << 20;
constexpr std::size_t kSmallLimit = std::size_t{1} << 20;

}  // namespace

struct CachingAllocator::State {
  std::unique_ptr<RawAllocator> raw;
  mutable std::mutex mutex;
  std::multimap<std::size_t, void*> free_blocks;  // rounded size -> block
  CachingAllocatorStats stats;
  bool closed = false;  // the allocator is gone: returned blocks go straight back to `raw`
  std::vector<std::shared_ptr<void>>* capture_sink = nullptr;
  std::weak_ptr<State> self;  // for the handles made for capture_sink

  void release_free_locked() {
    for (auto& [size, p] : free_blocks) {
      raw->release(p, size);
      ++stats.raw_releases;
    }
    free_blocks.clear();
    stats.bytes_cached = 0;
  }

  void give_back(void* p, std::size_t size) noexcept {
    const std::lock_guard lock(mutex);
    if (capture_sink != nullptr && !closed) {
      try {  // still in use (by the graph): a new handle with the same return path
        capture_sink->push_back(std::shared_ptr<void>(
            p, [state = self.lock(), size](void* q) { state->give_back(q, size); }));
        return;
      } catch (...) {  // no memory for the handle: fall through and cache the block
      }
    }
    stats.bytes_in_use -= size;
    if (closed) {
      raw->release(p, size);
      ++stats.raw_releases;
      return;
    }
    free_blocks.emplace(size, p);
    stats.bytes_cached += size;
  }
};

CachingAllocator::CachingAllocator(std::unique_ptr<RawAllocator> raw)
    : state_(std::make_shared<State>()) {
  state_->self = state_;
  CHATTERD_CHECK(raw != nullptr, InvalidArgument, "CachingAllocator needs a raw allocator");
  state_->raw = std::move(raw);
}

CachingAllocator::~CachingAllocator() {
  const std::lock_guard lock(state_->mutex);
  state_->release_free_locked();
  state_->closed = true;
}

std::size_t CachingAllocator::round_size(std::size_t bytes) {
  const std::size_t granule = bytes < kSmallLimit ? kSmallGranule : kLargeGranule;
  return std::max(granule, (bytes + granule - 1) / granule * granule);
}

std::shared_ptr<void> CachingAllocator::allocate(std::size_t bytes) {
  const std::size_t size = round_size(bytes);
  CHATTERD_CHECK(size >= bytes, InvalidArgument, "CachingAllocator: {} bytes overflow", bytes);
  State& s = *state_;
  void* p = nullptr;
  std::size_t got = size;
  {
    const std::lock_guard lock(s.mutex);
    // Best fit, wasting at most a quarter of the block: steady-state loops ask for the same
    // sizes, so exact hits are the rule; the slack covers sizes that drift a little.
    auto it = s.free_blocks.lower_bound(size);
    if (it != s.free_blocks.end() && it->first - size <= size / 4) {
      got = it->first;
      p = it->second;
      s.free_blocks.erase(it);
      s.stats.bytes_cached -= got;
      ++s.stats.cache_hits;
    } else {
      p = s.raw->allocate(size);
      if (p == nullptr && s.capture_sink == nullptr) {
        // Out of memory: the cache may hold what we need in other sizes (not while capturing:
        // freeing device memory is illegal inside a capture).
        s.release_free_locked();
        p = s.raw->allocate(size);
      }
      CHATTERD_CHECK(p != nullptr, Unavailable, "{}: out of memory allocating {} bytes ({} in use)",
                     s.raw->name(), size, s.stats.bytes_in_use);
      ++s.stats.raw_allocations;
    }
    s.stats.bytes_in_use += got;
    s.stats.peak_bytes_in_use = std::max(s.stats.peak_bytes_in_use, s.stats.bytes_in_use);
  }
  // The deleter keeps the state alive, so a handle may outlive the allocator.
  return {p, [state = state_, got](void* q) { state->give_back(q, got); }};
}

void CachingAllocator::set_capture_sink(std::vector<std::shared_ptr<void>>* sink) {
  const std::lock_guard lock(state_->mutex);
  state_->capture_sink = sink;
}

void CachingAllocator::release_cached() {
  const std::lock_guard lock(state_->mutex);
  state_->release_free_locked();
}

CachingAllocatorStats CachingAllocator::stats() const {
  const std::lock_guard lock(state_->mutex);
  return state_->stats;
}

}  // namespace chatterd
