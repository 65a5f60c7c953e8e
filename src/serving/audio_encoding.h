#pragma once
// Response audio: PCM16 little-endian, WAV framing, and the compressed formats (MP3, Ogg Opus,
// FLAC through io/audio_encoder.h), whole or chunk by chunk for streamed responses.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "io/audio_encoder.h"

namespace chatterd::serving {

enum class AudioFormat { Wav, Pcm, Mp3, Opus, Flac };

// "wav", "pcm", "mp3", "opus", "flac" (the OpenAI names); nullopt for anything else.
std::optional<AudioFormat> parse_audio_format(std::string_view name);
// The names parse_audio_format accepts, for error messages: "wav, pcm, mp3, opus, flac".
std::string_view audio_format_names();
std::optional<AudioCodec> codec_of(AudioFormat format);

// Appends round(x * 32768) clamped to int16, little-endian (the same quantisation as write_wav).
void append_pcm16(std::string& out, std::span<const float> samples);
// A 44-byte PCM16 mono WAV header. `data_bytes` unknown (streaming): pass kUnknownWavSize, which
// writes 0xFFFFFFFF in both size fields (what streaming players and ffmpeg accept).
inline constexpr std::uint32_t kUnknownWavSize = 0xFFFFFFFFu;
std::string wav_header(int sample_rate_hz, std::uint32_t data_bytes);
const char* content_type(AudioFormat format);

// The bytes of one streamed response: chunk() per piece of audio, then finish() once. A WAV
// stream starts with a header of unknown size (finish() returns it when no chunk came); a
// compressed stream returns what the codec has made so far, and finish() its tail. Not
// thread-safe: one synthesis feeds it in order.
class StreamedAudioWriter {
 public:
  // Throws InvalidArgument where the format cannot carry `sample_rate_hz` (Opus: 8-48 kHz steps).
  StreamedAudioWriter(AudioFormat format, int sample_rate_hz);
  std::string chunk(std::span<const float> samples);
  std::string finish();

 private:
  AudioFormat format_;
  int sample_rate_hz_;
  bool started_ = false;
  std::unique_ptr<AudioEncoder> encoder_;
};

// A whole response body. Throws InvalidArgument as StreamedAudioWriter does.
std::string encode_body(AudioFormat format, int sample_rate_hz, std::span<const float> samples);

}  // namespace chatterd::serving
