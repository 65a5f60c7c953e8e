// libFuzzer target: audio decoding from memory (every format libsndfile sniffs). Only
// chatterd::Error may escape; anything else crashes the fuzzer on purpose.
#include <cstddef>
#include <cstdint>
#include <span>

#include "chatterd/core/error.h"
#include "io/audio_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chatterd::AudioReadOptions options;
  options.max_seconds = 30.0;  // keeps forged lengths from exhausting the fuzzer's memory limit
  try {
    const chatterd::AudioData audio = chatterd::read_audio(
        std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz.wav", options);
    (void)chatterd::mix_to_mono(audio);
  } catch (const chatterd::Error&) {
  }
  return 0;
}
