#include "engines/espeak/espeak_runtime.h"

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <exception>
#include <memory>
#include <system_error>

#include "core/check.h"

namespace chatterd::espeak {
namespace {

// espeak hands audio to the synth callback in buffers of this many milliseconds (at most; it also
// flushes at the end of each clause). Small enough for prompt streaming and cancellation.
constexpr int kBufferMs = 50;

std::string status_message(espeak_ng_STATUS status) {
  std::array<char, 512> buf{};
  espeak_ng_GetStatusCodeMessage(status, buf.data(), buf.size());
  return fmt::format("{} (status {:#x})", buf.data(), static_cast<unsigned>(status));
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// Language codes of every installed voice: espeak_VOICE::languages is a list of
// (priority byte, NUL-terminated code) pairs ending with a zero priority byte.
std::vector<std::string> list_voices() {
  std::vector<std::string> codes;
  const espeak_VOICE** voices = espeak_ListVoices(nullptr);
  for (std::size_t i = 0; voices != nullptr && voices[i] != nullptr; ++i) {
    const char* p = voices[i]->languages;
    while (p != nullptr && *p != '\0') {
      const char* code = p + 1;
      if (*code != '\0') codes.push_back(to_lower(code));
      p = code + std::strlen(code) + 1;
    }
  }
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  return codes;
}

std::filesystem::path normalized(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::path c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal() : c;
}

// The synthesis in progress. espeak's callback is a plain function pointer; only one synthesis
// runs at a time (EspeakRuntime::mutex_), so a single pointer routes it.
struct ActiveSynthesis {
  const PcmSink* sink = nullptr;
  bool stopped = false;
  std::exception_ptr error;
};
ActiveSynthesis* g_active = nullptr;

int synth_callback(short* wav, int num_samples, espeak_EVENT* /*events*/) {
  ActiveSynthesis* active = g_active;
  if (active == nullptr || active->stopped) return 1;
  if (wav == nullptr || num_samples <= 0) return 0;
  try {
    if (!(*active->sink)(
            std::span<const std::int16_t>(wav, static_cast<std::size_t>(num_samples)))) {
      active->stopped = true;
    }
  } catch (...) {  // never unwind through C code
    active->error = std::current_exception();
    active->stopped = true;
  }
  return active->stopped ? 1 : 0;  // 1 aborts the synthesis
}

std::mutex g_instance_mutex;
std::unique_ptr<EspeakRuntime> g_instance;  // guarded by g_instance_mutex

}  // namespace

EspeakRuntime& EspeakRuntime::instance(const std::filesystem::path& data_dir) {
  const std::lock_guard<std::mutex> lock(g_instance_mutex);
  if (g_instance != nullptr) {
    CHATTERD_CHECK(data_dir.empty() || normalized(data_dir) == g_instance->data_dir_,
                   InvalidArgument,
                   "espeak-ng is already initialised with data directory '{}'; it holds one per "
                   "process, so '{}' cannot be used as well",
                   g_instance->data_dir_.string(), data_dir.string());
    return *g_instance;
  }
  if (!data_dir.empty()) {
    CHATTERD_CHECK(std::filesystem::is_directory(data_dir), InvalidArgument,
                   "espeak-ng data directory '{}' does not exist", data_dir.string());
  }
  // espeak_ng_InitializePath keeps only a copy of the path, so a temporary string is fine.
  const std::string path = data_dir.string();
  espeak_ng_InitializePath(data_dir.empty() ? nullptr : path.c_str());
  espeak_ng_ERROR_CONTEXT context = nullptr;
  espeak_ng_STATUS status = espeak_ng_Initialize(&context);
  if (status != ENS_OK) {
    espeak_ng_ClearErrorContext(&context);
    CHATTERD_THROW(ModelFormatError,
                   "espeak-ng cannot load its data from '{}': {} (install espeak-ng-data)",
                   data_dir.empty() ? "<built-in path>" : path, status_message(status));
  }
  status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, kBufferMs, nullptr);
  CHATTERD_CHECK(status == ENS_OK, Internal, "espeak-ng output initialisation failed: {}",
                 status_message(status));
  espeak_SetSynthCallback(synth_callback);
  const char* used_path = nullptr;
  espeak_Info(&used_path);
  std::vector<std::string> voices = list_voices();
  CHATTERD_CHECK(!voices.empty(), ModelFormatError, "espeak-ng data in '{}' holds no voices",
                 used_path != nullptr ? used_path : path);
  g_instance.reset(new EspeakRuntime(normalized(used_path != nullptr ? used_path : path),
                                     espeak_ng_GetSampleRate(), std::move(voices)));
  return *g_instance;
}

EspeakRuntime::EspeakRuntime(std::filesystem::path data_dir, int sample_rate_hz,
                             std::vector<std::string> voices)
    : data_dir_(std::move(data_dir)), sample_rate_hz_(sample_rate_hz), voices_(std::move(voices)) {}

EspeakRuntime::~EspeakRuntime() {
  espeak_ng_Terminate();
}

std::string EspeakRuntime::find_voice(std::string_view name) const {
  const std::string key = to_lower(name);
  return std::binary_search(voices_.begin(), voices_.end(), key) ? key : std::string();
}

bool EspeakRuntime::synthesize(std::string_view voice, const std::string& text,
                               const PcmSink& sink) {
  const std::string code = find_voice(voice);
  CHATTERD_CHECK(!code.empty(), InvalidArgument, "unknown espeak voice '{}'; available: {}", voice,
                 describe_voices(voices_));
  const std::lock_guard<std::mutex> lock(mutex_);
  if (code != current_voice_) {
    current_voice_.clear();  // unknown state until the switch succeeds
    // By language, not by name: espeak_ng_SetVoiceByName knows voice file names ("en-us") but
    // not every language code ListVoices reports ("fr-fr"); selection by properties takes them all.
    espeak_VOICE selector{};
    selector.languages = code.c_str();
    const espeak_ng_STATUS status = espeak_ng_SetVoiceByProperties(&selector);
    CHATTERD_CHECK(status == ENS_OK, InvalidArgument, "espeak-ng cannot load voice '{}': {}", code,
                   status_message(status));
    current_voice_ = code;
  }
  ActiveSynthesis active;
  active.sink = &sink;
  g_active = &active;
  const espeak_ng_STATUS status = espeak_ng_Synthesize(
      text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr, nullptr);
  g_active = nullptr;
  if (active.error) std::rethrow_exception(active.error);
  if (active.stopped) return false;
  CHATTERD_CHECK(status == ENS_OK, Internal, "espeak-ng synthesis failed: {}",
                 status_message(status));
  return true;
}

std::string describe_voices(const std::vector<std::string>& voices, std::size_t max_shown) {
  // Well-known codes first, so the message is useful rather than alphabetical ("af, am, an").
  static constexpr std::string_view kPreferred[] = {"en", "en-us", "en-gb", "fr-fr", "de", "es",
                                                    "it", "pt",    "pt-br", "nl",    "ru", "cmn"};
  std::vector<std::string_view> shown;
  for (std::string_view p : kPreferred) {
    if (shown.size() < max_shown && std::binary_search(voices.begin(), voices.end(), p)) {
      shown.push_back(p);
    }
  }
  for (const std::string& v : voices) {
    if (shown.size() >= max_shown) break;
    if (std::find(shown.begin(), shown.end(), v) == shown.end()) shown.push_back(v);
  }
  return fmt::format("{}, ... ({} in all)", fmt::join(shown, ", "), voices.size());
}

}  // namespace chatterd::espeak
