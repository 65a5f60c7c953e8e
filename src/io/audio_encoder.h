#pragma once
// Compressed audio out (MP3, Ogg Opus, FLAC) through libsndfile, which drives LAME, libopus and
// libFLAC: mono float samples in, file bytes out, incrementally for streamed responses.
//
// The codecs patch a few header bytes when they finish (FLAC's STREAMINFO totals, the MP3 Info
// tag). A whole-file encode keeps them; a stream has sent those bytes already, so it keeps the
// placeholders the formats define for streams of unknown length (what players accept for live
// audio).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace chatterd {

enum class AudioCodec { Mp3, Opus, Flac };

std::string_view codec_name(AudioCodec codec);
// File extension without the dot: "mp3", "opus", "flac".
std::string_view codec_extension(AudioCodec codec);
// Empty where `codec` can carry `sample_rate_hz`; else why not (what AudioEncoder would throw).
std::string codec_rate_problem(AudioCodec codec, int sample_rate_hz);

class AudioEncoder {
 public:
  // Throws InvalidArgument naming the codec for a rate it cannot carry (Opus: 8, 12, 16, 24 or
  // 48 kHz; MP3: 8 to 48 kHz at the MPEG rates) and IoError when libsndfile cannot start it.
  AudioEncoder(AudioCodec codec, int sample_rate_hz);
  ~AudioEncoder();
  AudioEncoder(const AudioEncoder&) = delete;
  AudioEncoder& operator=(const AudioEncoder&) = delete;

  // Encodes `samples` (clamped to [-1, 1]). The codec may hold them until it has a whole frame
  // or page.
  void write(std::span<const float> samples);
  // Flushes the codec and writes its trailer; write() is an error afterwards. Idempotent. With
  // no samples written it writes 20 ms of silence first: libsndfile emits no header for an empty
  // FLAC, and a zero-byte reply is no file at all.
  void finish();
  // The bytes written since the last take(): for a stream, what may go out now.
  std::string take();

  AudioCodec codec() const { return codec_; }

 private:
  struct Sink;
  AudioCodec codec_;
  int sample_rate_hz_;
  std::int64_t samples_written_ = 0;
  std::unique_ptr<Sink> sink_;
  void* file_ = nullptr;  // SNDFILE*: sndfile.h stays out of this header
};

// A whole file: `samples` encoded and finished.
std::string encode_audio(AudioCodec codec, int sample_rate_hz, std::span<const float> samples);

// The codec a file name asks for by its extension (.mp3, .opus, .flac, any case), else nullopt.
std::optional<AudioCodec> codec_for_path(const std::filesystem::path& path);
// encode_audio() into the file at `path`; throws IoError naming it.
void write_encoded_audio(const std::filesystem::path& path, AudioCodec codec, int sample_rate_hz,
                         std::span<const float> samples);

}  // namespace chatterd
