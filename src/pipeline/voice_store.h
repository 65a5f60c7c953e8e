#pragma once
// The voices a server knows: an in-memory map name -> Voice backed by a folder
//   <dir>/voices/<name>.safetensors   named voices (chatterd voice files)
//   <dir>/cache/<key>.safetensors     built voices by clip content key
// The key is the SHA-256 of the decoded clip (samples as f32 little-endian bytes, rate, channel
// count), the voice family and kVoiceBuilderVersion: the same clip is never processed twice, even
// under another name or across restarts. Thread-safe; concurrent adds of one clip build it once.

#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/audio_file.h"
#include "ops/exec_context.h"
#include "pipeline/voice.h"
#include "pipeline/voice_builder.h"

namespace chatterd {

// Names are 1..64 of [A-Za-z0-9_-.], not starting with '.'. Throws InvalidArgument.
void check_voice_name(std::string_view name);

std::string voice_clip_key(const AudioData& audio, VoiceFamily family);

class VoiceStore {
 public:
  // `models` may be null for a read-only store (list/get); `dir` empty = memory only. The folder
  // is created when missing. `ctx` (its pool) must outlive the store.
  VoiceStore(std::shared_ptr<const VoiceModels> models, std::filesystem::path dir,
             ExecContext ctx = {});

  struct AddResult {
    Voice voice;
    std::string key;
    bool cache_hit = false;  // true: no network ran
  };
  // Builds (or finds) the voice of `clip` and stores it as `name` (replacing a voice of that
  // name). Throws InvalidArgument for a bad name or clip, Unsupported without models.
  AddResult add(const std::string& name, const AudioData& clip);
  AddResult add_file(const std::string& name, const std::filesystem::path& clip);
  // Registers an already built voice (e.g. a model's conds.pt) under voice.name.
  void put(Voice voice);

  std::optional<Voice> get(std::string_view name) const;
  std::vector<std::string> list() const;  // sorted
  std::size_t builds() const;             // build_voice runs so far (for tests)

 private:
  std::filesystem::path named_path(std::string_view name) const;
  std::filesystem::path cache_path(std::string_view key) const;
  std::optional<Voice> load_cached(const std::string& key) const;

  std::shared_ptr<const VoiceModels> models_;
  std::filesystem::path dir_;
  ExecContext ctx_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Voice, std::less<>> voices_;
  std::map<std::string, std::shared_future<Voice>> by_key_;
  std::size_t builds_ = 0;
};

}  // namespace chatterd
