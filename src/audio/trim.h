#pragma once
// librosa.effects.trim: drop leading/trailing frames whose RMS is more than top_db below the
// loudest frame's RMS. RMS frames are centred with zero padding (librosa.feature.rms defaults).

#include <cstdint>
#include <span>

namespace chatterd::audio {

struct TrimOptions {
  double top_db = 20.0;  // the VoiceEncoder's trim_top_db
  int frame_length = 2048;
  int hop_length = 512;
};

// [start, end) sample range kept (librosa's second return value). Like librosa, an all-zero signal
// keeps everything (every frame sits at the 1e-10 power floor, 0 dB below the reference).
// Throws InvalidArgument on an empty or non-finite signal.
struct TrimRange {
  std::int64_t start = 0;
  std::int64_t end = 0;
};
TrimRange trim_silence(std::span<const float> signal, const TrimOptions& options = {});

}  // namespace chatterd::audio
