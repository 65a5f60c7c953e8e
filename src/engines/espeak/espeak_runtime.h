#pragma once
// The one owner of espeak-ng's process-global state. espeak-ng keeps its voice, buffers and synth
// callback in globals and is not thread-safe, so (style.md §2.4) a single EspeakRuntime initialises
// it once per process and serialises every synthesis with a mutex. Engines borrow it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace chatterd::espeak {

// Receives espeak's native PCM (int16, mono, sample_rate_hz()) as it is produced. Return false to
// stop the synthesis.
using PcmSink = std::function<bool(std::span<const std::int16_t>)>;

class EspeakRuntime {
 public:
  // The process-wide runtime, initialised by the first call with `data_dir` (empty: the library's
  // built-in path, /usr/lib/x86_64-linux-gnu/espeak-ng-data with Debian's espeak-ng-data).
  // Throws ModelFormatError when espeak-ng cannot load its data, and InvalidArgument when it is
  // already initialised with a different data directory (espeak-ng holds one per process).
  static EspeakRuntime& instance(const std::filesystem::path& data_dir = {});

  EspeakRuntime(const EspeakRuntime&) = delete;
  EspeakRuntime& operator=(const EspeakRuntime&) = delete;
  ~EspeakRuntime();

  int sample_rate_hz() const { return sample_rate_hz_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  // Language codes of the installed voices ("en", "en-us", "fr-fr", ...), lower case, sorted.
  const std::vector<std::string>& voices() const { return voices_; }
  // `name` (any case) is one of voices(); returns the canonical spelling, or empty if unknown.
  std::string find_voice(std::string_view name) const;

  // Synthesises UTF-8 `text` (plain text, no SSML) with `voice` (one of voices()), feeding `sink`
  // under the process-wide lock. Returns false when `sink` stopped it. An exception thrown by
  // `sink` stops espeak and is rethrown here. Throws InvalidArgument for an unknown voice.
  bool synthesize(std::string_view voice, const std::string& text, const PcmSink& sink);

 private:
  EspeakRuntime(std::filesystem::path data_dir, int sample_rate_hz,
                std::vector<std::string> voices);

  const std::filesystem::path data_dir_;
  const int sample_rate_hz_;
  const std::vector<std::string> voices_;
  std::mutex mutex_;           // serialises every espeak-ng call after initialisation
  std::string current_voice_;  // guarded by mutex_
};

// "en, en-us, fr-fr, de, ... (131 in all)": a short list for error messages.
std::string describe_voices(const std::vector<std::string>& voices, std::size_t max_shown = 8);

}  // namespace chatterd::espeak
