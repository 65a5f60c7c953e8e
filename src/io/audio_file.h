#pragma once
// Audio file reading/writing through libsndfile (WAV, FLAC, OGG/Vorbis, ... whatever it reads),
// from a path or from a memory buffer (uploads). Samples are float in [-1, 1], interleaved.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace chatterd {

struct AudioData {
  int sample_rate_hz = 0;
  int channels = 0;
  std::vector<float> samples;  // interleaved: frame f, channel c at [f * channels + c]

  std::int64_t frames() const {
    return channels == 0 ? 0 : static_cast<std::int64_t>(samples.size()) / channels;
  }
  double seconds() const {
    return sample_rate_hz == 0 ? 0.0 : static_cast<double>(frames()) / sample_rate_hz;
  }
};

struct AudioReadOptions {
  double max_seconds = 600.0;  // longer input is rejected rather than decoded into memory
};

// Throw IoError when the file cannot be opened and ModelFormatError when it is not decodable
// audio, has no frames, an absurd rate/channel count or exceeds max_seconds; messages name the
// file.
AudioData read_audio(const std::filesystem::path& path, const AudioReadOptions& options = {});
AudioData read_audio(std::span<const std::byte> bytes, std::string_view name = "<memory>",
                     const AudioReadOptions& options = {});

// Channel average per frame.
std::vector<float> mix_to_mono(const AudioData& audio);

enum class WavFormat { Pcm16, Float32 };

// PCM16 quantises as round(x * 32768) clamped to [-32768, 32767], the inverse of the reader's
// x / 32768, so k / 32768 values survive a round trip exactly. Throws IoError on failure.
void write_wav(const std::filesystem::path& path, const AudioData& audio, WavFormat format);

}  // namespace chatterd
