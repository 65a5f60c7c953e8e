#pragma once
// A request cache in front of any TtsEngine (a decorator at the engine seam, so the CLI, the
// servers and the benchmarks all get it): an identical request -- normalised text, voice, every
// option, seed, and whether it streams -- returns the stored audio instead of synthesising again.
//
// - Only seeded requests are cacheable by default: an unseeded request asks for fresh randomness,
//   and replaying it would silently change its meaning. RequestCacheConfig::cache_unseeded opts in.
// - LRU with a byte budget (samples + key). An entry bigger than the budget is not stored.
// - A hit replays the stored audio with the chunk boundaries the original run produced, so a
//   streamed hit looks exactly like the first streamed run (streamed audio can differ from the
//   non-streamed audio by a bounded amount, so the two are cached apart).
// - Cancelled or failed syntheses are never stored. Two identical misses at the same time both
//   synthesise (no single-flight): simple, and the second store just refreshes the entry.
// - Voices are keyed by name: whoever replaces a voice's content must call clear() (the server
//   does when a voice is uploaded).

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatterd/engine/tts_engine.h"

namespace chatterd {

struct RequestCacheConfig {
  std::size_t max_bytes = std::size_t{256} << 20;  // 0 disables the cache
  // The largest entry stored (0: max_bytes). A server caps it so that a streamed replay, which
  // hands over all its chunks at once, stays within what a stream may queue for its client.
  std::size_t max_entry_bytes = 0;
  bool cache_unseeded = false;
  void validate() const;
};

struct RequestCacheStats {
  std::int64_t hits = 0;
  std::int64_t misses = 0;       // cacheable requests that were synthesised
  std::int64_t uncacheable = 0;  // unseeded (without cache_unseeded) or cache disabled
  std::int64_t evictions = 0;
  std::int64_t entries = 0;
  std::size_t bytes = 0;
};

class CachingEngine final : public TtsEngine {
 public:
  CachingEngine(std::shared_ptr<TtsEngine> inner, RequestCacheConfig config);

  const EngineInfo& info() const override { return inner_->info(); }
  void set_observer(EngineObserver* observer) override { inner_->set_observer(observer); }
  int max_concurrency() const override { return inner_->max_concurrency(); }
  // The inner engine's, plus the cache's own (EngineMemoryStats::request_cache_*).
  EngineMemoryStats memory_stats() const override;
  SynthesisResult synthesize(const SynthesisRequest& request,
                             const ChunkCallback& on_chunk = {}) override;

  RequestCacheStats stats() const;
  void clear();
  TtsEngine& inner() { return *inner_; }

 private:
  struct Entry {
    std::string key;
    std::vector<float> samples;
    std::vector<std::size_t> chunk_sizes;  // the original run's chunk lengths (sum = samples)
    int sample_rate_hz = 0;
    SynthesisStats stats;  // of the original run (speech tokens, chunks)
    std::size_t bytes() const;
  };
  using Lru = std::list<std::shared_ptr<const Entry>>;

  std::shared_ptr<const Entry> lookup(const std::string& key);
  void store(std::shared_ptr<const Entry> entry);

  std::shared_ptr<TtsEngine> inner_;
  RequestCacheConfig config_;
  mutable std::mutex mutex_;
  Lru lru_;  // front = most recently used
  std::unordered_map<std::string, Lru::iterator> index_;
  RequestCacheStats stats_;
};

// The cache key: whitespace-normalised text (runs of ASCII whitespace collapsed to one space,
// trimmed), voice, every option (floats by bit pattern), and `streamed`. Empty when the
// request is not cacheable under `config` (unseeded).
std::string request_cache_key(const SynthesisRequest& request, bool streamed,
                              const RequestCacheConfig& config);

}  // namespace chatterd
