#pragma once
// PCM16 little-endian and WAV framing for HTTP responses.

#include <cstdint>
#include <span>
#include <string>

namespace chatterd::serving {

enum class AudioFormat { Wav, Pcm };

// Appends round(x * 32768) clamped to int16, little-endian (the same quantisation as write_wav).
void append_pcm16(std::string& out, std::span<const float> samples);
// A 44-byte PCM16 mono WAV header. `data_bytes` unknown (streaming): pass kUnknownWavSize, which
// writes 0xFFFFFFFF in both size fields (what streaming players and ffmpeg accept).
inline constexpr std::uint32_t kUnknownWavSize = 0xFFFFFFFFu;
std::string wav_header(int sample_rate_hz, std::uint32_t data_bytes);
const char* content_type(AudioFormat format);

}  // namespace chatterd::serving
