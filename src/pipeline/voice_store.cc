#include "pipeline/voice_store.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <set>

#include "core/check.h"
#include "core/logging.h"
#include "pipeline/sha256.h"

namespace chatterd {

void check_voice_name(std::string_view name) {
  const bool ok_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
  CHATTERD_CHECK(
      !name.empty() && name.size() <= 64 && name.front() != '.' && ok_chars, InvalidArgument,
      "invalid voice name '{}': use 1 to 64 of A-Z a-z 0-9 _ - . (not starting with '.')", name);
}

std::string voice_clip_key(const AudioData& audio, VoiceFamily family) {
  static_assert(std::endian::native == std::endian::little, "clip keys hash little-endian floats");
  Sha256 h;
  h.update(fmt::format("chatterd-voice-clip|rate={}|channels={}|family={}|builder={}|",
                       audio.sample_rate_hz, audio.channels, voice_family_name(family),
                       kVoiceBuilderVersion));
  h.update(std::as_bytes(std::span(audio.samples)));
  return h.hex_digest();
}

VoiceStore::VoiceStore(std::shared_ptr<const VoiceModels> models, std::filesystem::path dir,
                       ExecContext ctx)
    : models_(std::move(models)), dir_(std::move(dir)), ctx_(ctx) {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir_ / "voices", ec);
  if (!ec) std::filesystem::create_directories(dir_ / "cache", ec);
  CHATTERD_CHECK(!ec, IoError, "{}: cannot create the voice store folder: {}", dir_.string(),
                 ec.message());
}

std::filesystem::path VoiceStore::named_path(std::string_view name) const {
  return dir_ / "voices" / (std::string(name) + ".safetensors");
}
std::filesystem::path VoiceStore::cache_path(std::string_view key) const {
  return dir_ / "cache" / (std::string(key) + ".safetensors");
}

std::optional<Voice> VoiceStore::load_cached(const std::string& key) const {
  if (dir_.empty() || !std::filesystem::exists(cache_path(key))) return std::nullopt;
  try {
    Voice v = load_voice(cache_path(key));
    if (v.source_sha256 == key && v.builder_version == kVoiceBuilderVersion) return v;
    logger().warn("{}: stale voice cache entry, rebuilding", cache_path(key).string());
  } catch (const Error& e) {
    logger().warn("voice cache entry unusable, rebuilding: {}", e.what());
  }
  return std::nullopt;
}

VoiceStore::AddResult VoiceStore::add(const std::string& name, const AudioData& clip) {
  check_voice_name(name);
  CHATTERD_CHECK(models_ != nullptr, Unsupported,
                 "this voice store has no model loaded: it cannot build voice '{}'", name);
  const VoiceFamily family = voice_family(models_->hp.variant);
  AddResult result;
  result.key = voice_clip_key(clip, family);

  std::shared_future<Voice> future;
  std::promise<Voice> promise;
  bool builder = false;
  {
    std::lock_guard lock(mu_);
    const auto it = by_key_.find(result.key);
    if (it != by_key_.end()) {
      future = it->second;
      result.cache_hit = true;
    } else {
      future = promise.get_future().share();
      by_key_.emplace(result.key, future);
      builder = true;
    }
  }
  if (builder) {
    try {
      std::optional<Voice> v = load_cached(result.key);
      result.cache_hit = v.has_value();
      if (!v) {
        v = build_voice(ctx_, *models_, clip, name);
        v->source_sha256 = result.key;
        if (!dir_.empty()) save_voice(*v, cache_path(result.key));
        std::lock_guard lock(mu_);
        ++builds_;
      }
      promise.set_value(std::move(*v));
    } catch (...) {
      promise.set_exception(std::current_exception());
      std::lock_guard lock(mu_);
      by_key_.erase(result.key);  // a failed build is not cached
      throw;
    }
  }
  result.voice = future.get();
  result.voice.name = name;
  put(result.voice);
  return result;
}

VoiceStore::AddResult VoiceStore::add_file(const std::string& name,
                                           const std::filesystem::path& clip) {
  check_voice_name(name);
  return add(name, read_voice_clip(clip));
}

void VoiceStore::put(Voice voice) {
  check_voice_name(voice.name);
  validate_voice(voice, voice.name);
  if (!dir_.empty()) save_voice(voice, named_path(voice.name));
  std::lock_guard lock(mu_);
  const std::string name = voice.name;
  voices_.insert_or_assign(name, std::move(voice));
}

std::optional<Voice> VoiceStore::get(std::string_view name) const {
  {
    std::lock_guard lock(mu_);
    const auto it = voices_.find(name);
    if (it != voices_.end()) return it->second;
  }
  if (dir_.empty()) return std::nullopt;
  check_voice_name(name);
  const auto path = named_path(name);
  if (!std::filesystem::exists(path)) return std::nullopt;
  Voice v = load_voice(path);
  std::lock_guard lock(mu_);
  voices_.insert_or_assign(std::string(name), v);
  return v;
}

std::vector<std::string> VoiceStore::list() const {
  std::set<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, v] : voices_) names.insert(n);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "voices", ec)) {
      if (e.path().extension() == ".safetensors" && e.path().stem().string().front() != '.') {
        names.insert(e.path().stem().string());
      }
    }
  }
  return {names.begin(), names.end()};
}

std::size_t VoiceStore::builds() const {
  std::lock_guard lock(mu_);
  return builds_;
}

}  // namespace chatterd
