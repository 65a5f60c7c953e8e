#include "serving/audio_encoding.h"

#include <algorithm>
#include <cmath>

namespace chatterd::serving {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}

}  // namespace

void append_pcm16(std::string& out, std::span<const float> samples) {
  out.reserve(out.size() + samples.size() * 2);
  for (const float x : samples) {
    const float v = std::clamp(std::round(x * 32768.0f), -32768.0f, 32767.0f);
    put_u16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
  }
}

std::string wav_header(int sample_rate_hz, std::uint32_t data_bytes) {
  std::string h;
  h.reserve(44);
  const auto rate = static_cast<std::uint32_t>(sample_rate_hz);
  h += "RIFF";
  put_u32(h, data_bytes == kUnknownWavSize ? kUnknownWavSize : 36 + data_bytes);
  h += "WAVEfmt ";
  put_u32(h, 16);
  put_u16(h, 1);  // PCM
  put_u16(h, 1);  // mono
  put_u32(h, rate);
  put_u32(h, rate * 2);  // byte rate
  put_u16(h, 2);         // block align
  put_u16(h, 16);        // bits per sample
  h += "data";
  put_u32(h, data_bytes);
  return h;
}

std::optional<AudioFormat> parse_audio_format(std::string_view name) {
  if (name == "wav") return AudioFormat::Wav;
  if (name == "pcm") return AudioFormat::Pcm;
  if (name == "mp3") return AudioFormat::Mp3;
  if (name == "opus") return AudioFormat::Opus;
  if (name == "flac") return AudioFormat::Flac;
  return std::nullopt;
}

std::string_view audio_format_names() {
  return "wav, pcm, mp3, opus, flac";
}

std::optional<AudioCodec> codec_of(AudioFormat format) {
  switch (format) {
    case AudioFormat::Mp3:
      return AudioCodec::Mp3;
    case AudioFormat::Opus:
      return AudioCodec::Opus;
    case AudioFormat::Flac:
      return AudioCodec::Flac;
    case AudioFormat::Wav:
    case AudioFormat::Pcm:
      break;
  }
  return std::nullopt;
}

const char* content_type(AudioFormat format) {
  switch (format) {
    case AudioFormat::Wav:
      return "audio/wav";
    case AudioFormat::Pcm:
      return "audio/pcm";
    case AudioFormat::Mp3:
      return "audio/mpeg";
    case AudioFormat::Opus:
      return "audio/ogg";  // Ogg-encapsulated Opus (RFC 7845)
    case AudioFormat::Flac:
      return "audio/flac";
  }
  return "application/octet-stream";
}

StreamedAudioWriter::StreamedAudioWriter(AudioFormat format, int sample_rate_hz)
    : format_(format), sample_rate_hz_(sample_rate_hz) {
  if (const auto codec = codec_of(format)) {
    encoder_ = std::make_unique<AudioEncoder>(*codec, sample_rate_hz);
  }
}

std::string StreamedAudioWriter::chunk(std::span<const float> samples) {
  std::string out;
  if (encoder_) {
    encoder_->write(samples);
    return encoder_->take();
  }
  if (!started_ && format_ == AudioFormat::Wav) out = wav_header(sample_rate_hz_, kUnknownWavSize);
  started_ = true;
  append_pcm16(out, samples);
  return out;
}

std::string StreamedAudioWriter::finish() {
  if (encoder_) {
    encoder_->finish();
    return encoder_->take();
  }
  if (!started_ && format_ == AudioFormat::Wav) {
    started_ = true;
    return wav_header(sample_rate_hz_, kUnknownWavSize);
  }
  return {};
}

std::string encode_body(AudioFormat format, int sample_rate_hz, std::span<const float> samples) {
  if (const auto codec = codec_of(format)) return encode_audio(*codec, sample_rate_hz, samples);
  std::string body;
  if (format == AudioFormat::Wav) {
    body = wav_header(sample_rate_hz, static_cast<std::uint32_t>(samples.size() * 2));
  }
  append_pcm16(body, samples);
  return body;
}

}  // namespace chatterd::serving
