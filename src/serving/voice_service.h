#pragma once
// POST /v1/voices behind the server: turns an uploaded clip into a voice of the served engine.
// Only Chatterbox engines clone; for others can_clone() is false and why_not() says so.
// add() runs the voice networks and changes the engine's voice table, so the server calls it on
// the Scheduler worker (a SynthesisJob::task): never beside a synthesis (chatterbox_engine.h).

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "chatterd/engine/tts_engine.h"
#include "core/thread_pool.h"

namespace chatterd {
class ChatterboxEngine;
class VoiceStore;
}  // namespace chatterd

namespace chatterd::serving {

struct VoiceAdded {
  std::string name;
  std::string family;      // "turbo" / "standard"
  std::string key;         // SHA-256 content key of the decoded clip
  bool cache_hit = false;  // the same clip was built before
  double build_seconds = 0.0;
};

class VoiceService {
 public:
  // `model` is the served EngineConfig::model (its directory holds the voice networks);
  // `store_dir` "" keeps voices in memory only. Nothing heavy happens until the first add().
  // `on_added` runs after each add() (the server clears its request cache there: a request
  // naming a replaced voice must not replay the old voice's audio).
  VoiceService(TtsEngine& engine, std::string model, std::string store_dir, int n_threads,
               std::function<void()> on_added = {});
  ~VoiceService();
  VoiceService(const VoiceService&) = delete;
  VoiceService& operator=(const VoiceService&) = delete;

  bool can_clone() const { return chatterbox_ != nullptr; }
  std::string why_not() const;
  // Decodes `clip` (WAV/FLAC/OGG/... bytes), builds the voice and adds it to the engine as
  // `name`. Throws InvalidArgument for a bad name or clip, Unsupported when !can_clone().
  // Scheduler worker only.
  VoiceAdded add(const std::string& name, std::span<const std::byte> clip);

  // The names requests may use (the engine's at start-up + every add); any thread.
  std::vector<std::string> names() const;
  bool known(const std::string& name) const;

 private:
  TtsEngine& engine_;
  ChatterboxEngine* chatterbox_ = nullptr;
  std::string model_;
  std::string store_dir_;
  int n_threads_ = 1;
  std::unique_ptr<ThreadPool> pool_;  // worker-only, created with store_
  std::unique_ptr<VoiceStore> store_;
  std::function<void()> on_added_;
  mutable std::mutex names_mutex_;
  std::vector<std::string> names_;
};

}  // namespace chatterd::serving
