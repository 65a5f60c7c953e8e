#include "pipeline/caching_engine.h"

#include <bit>
#include <cstring>
#include <utility>

#include "core/check.h"

namespace chatterd {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string normalise_whitespace(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const char c : text) {
    if (is_ascii_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

// Length-prefixed fields: no separator inside a field can make two requests collide.
void put(std::string& key, const std::string& field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

template <typename T>
void put(std::string& key, const std::optional<T>& value) {
  if (!value) {
    key += "-;";
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    key += std::to_string(std::bit_cast<std::uint32_t>(*value));
  } else {
    key += std::to_string(*value);
  }
  key += ';';
}

}  // namespace

void RequestCacheConfig::validate() const {
  // Every value is meaningful (0 bytes = off); nothing to refuse yet. Kept for the config pattern.
}

std::string request_cache_key(const SynthesisRequest& request, bool streamed,
                              const RequestCacheConfig& config) {
  const SynthesisOptions& o = request.options;
  if (!o.seed && !config.cache_unseeded) return {};
  std::string key;
  key.reserve(request.text.size() + request.voice.size() + 96);
  put(key, normalise_whitespace(request.text));
  put(key, request.voice);
  put(key, o.language);
  put(key, o.seed);
  put(key, o.temperature);
  put(key, o.top_k);
  put(key, o.top_p);
  put(key, o.min_p);
  put(key, o.repetition_penalty);
  put(key, o.cfg_weight);
  put(key, o.exaggeration);
  put(key, o.max_speech_tokens);
  // A streamed run's audio and chunks depend on the chunk sizes; a one-call run's do not (so
  // /configure-streaming leaves whole-response entries reachable).
  if (streamed && o.streaming) {
    key += "s";
    key += std::to_string(o.chunk_tokens);
    key += '/';
    key += std::to_string(o.first_chunk_tokens);
  } else {
    key += streamed ? "c" : "w";  // chunks of a one-call run: one per text chunk
  }
  return key;
}

std::size_t CachingEngine::Entry::bytes() const {
  return samples.size() * sizeof(float) + chunk_sizes.size() * sizeof(std::size_t) + key.size() +
         sizeof(Entry);
}

CachingEngine::CachingEngine(std::shared_ptr<TtsEngine> inner, RequestCacheConfig config)
    : inner_(std::move(inner)), config_(config) {
  CHATTERD_CHECK(inner_ != nullptr, InvalidArgument, "CachingEngine: no engine to wrap");
  config_.validate();
}

std::shared_ptr<const CachingEngine::Entry> CachingEngine::lookup(const std::string& key) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return *it->second;
}

void CachingEngine::store(std::shared_ptr<const Entry> entry) {
  const std::size_t size = entry->bytes();
  if (size > config_.max_bytes) return;
  if (config_.max_entry_bytes > 0 && size > config_.max_entry_bytes) return;
  const std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = index_.find(entry->key); it != index_.end()) {
    stats_.bytes -= (*it->second)->bytes();
    lru_.erase(it->second);
    index_.erase(it);
  }
  while (!lru_.empty() && stats_.bytes + size > config_.max_bytes) {
    const std::shared_ptr<const Entry>& victim = lru_.back();
    stats_.bytes -= victim->bytes();
    index_.erase(victim->key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(std::move(entry));
  index_.emplace(lru_.front()->key, lru_.begin());
  stats_.bytes += size;
  stats_.entries = static_cast<std::int64_t>(lru_.size());
}

SynthesisResult CachingEngine::synthesize(const SynthesisRequest& request,
                                          const ChunkCallback& on_chunk) {
  const bool streamed = static_cast<bool>(on_chunk);
  std::string key =
      config_.max_bytes > 0 ? request_cache_key(request, streamed, config_) : std::string();
  if (key.empty()) {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.uncacheable;
    }
    return inner_->synthesize(request, on_chunk);
  }

  if (const std::shared_ptr<const Entry> hit = lookup(key)) {
    SynthesisResult result;
    result.sample_rate_hz = hit->sample_rate_hz;
    result.samples = hit->samples;
    result.stats = hit->stats;
    result.stats.total_ms = 0.0;
    result.stats.time_to_first_audio_ms = 0.0;
    result.stats.real_time_factor = 0.0;
    // A hit ran no stage: its original timings would count twice in the server's histograms.
    result.stats.time_to_first_token_ms = 0.0;
    result.stats.decode_steps = 0;
    result.stats.decode_ms = 0.0;
    result.stats.stages.clear();
    result.stats.cached = true;
    if (on_chunk) {
      std::size_t offset = 0;
      for (std::size_t i = 0; i < hit->chunk_sizes.size(); ++i) {
        AudioChunk piece;
        piece.samples = std::span<const float>(result.samples).subspan(offset, hit->chunk_sizes[i]);
        piece.sample_rate_hz = result.sample_rate_hz;
        piece.index = static_cast<std::int64_t>(i);
        piece.is_last = i + 1 == hit->chunk_sizes.size();
        offset += hit->chunk_sizes[i];
        if (!on_chunk(piece)) {
          result.cancelled = !piece.is_last;
          result.samples.resize(offset);
          break;
        }
      }
    }
    return result;
  }

  auto entry = std::make_shared<Entry>();
  entry->key = std::move(key);
  ChunkCallback recording;
  if (on_chunk) {
    recording = [&](const AudioChunk& piece) {
      entry->chunk_sizes.push_back(piece.samples.size());
      return on_chunk(piece);
    };
  }
  SynthesisResult result = inner_->synthesize(request, recording);
  if (result.cancelled) return result;
  std::size_t streamed_total = 0;
  for (const std::size_t n : entry->chunk_sizes) streamed_total += n;
  if (streamed_total != result.samples.size()) {
    // Not a streamed run, or an engine whose pieces do not add up to its result: replay the
    // result as one piece rather than trusting the recorded boundaries.
    entry->chunk_sizes.assign(1, result.samples.size());
  }
  entry->samples = result.samples;
  entry->sample_rate_hz = result.sample_rate_hz;
  entry->stats = result.stats;
  store(std::move(entry));
  return result;
}

RequestCacheStats CachingEngine::stats() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingEngine::clear() {
  const std::lock_guard<std::mutex> lock(mutex_);
  lru_.clear();
  index_.clear();
  stats_.bytes = 0;
  stats_.entries = 0;
}

EngineMemoryStats CachingEngine::memory_stats() const {
  EngineMemoryStats m = inner_->memory_stats();
  const RequestCacheStats s = stats();
  m.request_cache = true;
  m.request_cache_bytes = static_cast<std::int64_t>(s.bytes);
  m.request_cache_entries = s.entries;
  m.request_cache_hits = s.hits;
  m.request_cache_misses = s.misses;
  m.request_cache_evictions = s.evictions;
  return m;
}

}  // namespace chatterd
