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

const char* content_type(AudioFormat format) {
  return format == AudioFormat::Wav ? "audio/wav" : "audio/pcm";
}

}  // namespace chatterd::serving
