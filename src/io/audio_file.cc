#include "io/audio_file.h"

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"

namespace chatterd {
namespace {

constexpr int kMaxSampleRateHz = 768000;
constexpr int kMaxChannels = 64;

// sf_open_virtual callbacks over a read-only byte span.
struct MemoryStream {
  std::span<const std::byte> bytes;
  sf_count_t pos = 0;
};

sf_count_t mem_length(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryStream*>(user)->bytes.size());
}
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  const auto size = static_cast<sf_count_t>(s->bytes.size());
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = s->pos + offset;
  if (whence == SEEK_END) target = size + offset;
  if (target < 0 || target > size) return -1;
  s->pos = target;
  return s->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  const auto size = static_cast<sf_count_t>(s->bytes.size());
  const sf_count_t n = std::clamp<sf_count_t>(size - s->pos, 0, std::max<sf_count_t>(count, 0));
  if (n > 0) {
    std::memcpy(ptr, s->bytes.data() + s->pos, static_cast<std::size_t>(n));
  }
  s->pos += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) {
  return 0;
}
sf_count_t mem_tell(void* user) {
  return static_cast<MemoryStream*>(user)->pos;
}

class SndFile {
 public:
  explicit SndFile(SNDFILE* f) : f_(f) {}
  ~SndFile() {
    if (f_ != nullptr) sf_close(f_);
  }
  SndFile(const SndFile&) = delete;
  SndFile& operator=(const SndFile&) = delete;
  SNDFILE* get() const { return f_; }

 private:
  SNDFILE* f_;
};

AudioData decode(SNDFILE* f, const SF_INFO& info, const std::string& name,
                 const AudioReadOptions& options) {
  SndFile guard(f);
  CHATTERD_CHECK(info.samplerate > 0 && info.samplerate <= kMaxSampleRateHz, ModelFormatError,
                 "{}: implausible sample rate {} Hz", name, info.samplerate);
  CHATTERD_CHECK(info.channels > 0 && info.channels <= kMaxChannels, ModelFormatError,
                 "{}: implausible channel count {}", name, info.channels);
  // SF_COUNT_MAX: the header does not say (a FLAC written as a stream leaves its total at 0):
  // decode to the end, with the length limit applied to what comes out.
  const bool unknown_length = info.frames == SF_COUNT_MAX;
  CHATTERD_CHECK(info.frames > 0, ModelFormatError, "{}: audio has no frames", name);
  const double seconds = static_cast<double>(info.frames) / info.samplerate;
  CHATTERD_CHECK(unknown_length || seconds <= options.max_seconds, ModelFormatError,
                 "{}: audio is {:.1f} s long; the limit is {:.1f} s", name, seconds,
                 options.max_seconds);
  const auto max_frames = static_cast<sf_count_t>(options.max_seconds * info.samplerate);
  AudioData out;
  out.sample_rate_hz = info.samplerate;
  out.channels = info.channels;
  // Decode in chunks rather than trusting the header's frame count with one allocation: a
  // forged FLAC/OGG header can claim hours of audio in a few bytes.
  constexpr sf_count_t kChunkFrames = 1 << 16;
  const auto ch = static_cast<std::size_t>(info.channels);
  sf_count_t got = 0;
  while (got < info.frames) {
    const sf_count_t want = std::min(kChunkFrames, info.frames - got);
    out.samples.resize(static_cast<std::size_t>(got + want) * ch);
    const sf_count_t n =
        sf_readf_float(f, out.samples.data() + static_cast<std::size_t>(got) * ch, want);
    if (n <= 0) break;
    got += n;
    CHATTERD_CHECK(got <= max_frames, ModelFormatError,
                   "{}: audio is longer than the limit of {:.1f} s", name, options.max_seconds);
  }
  out.samples.resize(static_cast<std::size_t>(got) * ch);
  if (unknown_length) {
    CHATTERD_CHECK(got > 0, ModelFormatError, "{}: audio has no frames ({})", name, sf_strerror(f));
  } else {
    CHATTERD_CHECK(got == info.frames, ModelFormatError,
                   "{}: audio truncated or corrupt: decoded {} of {} frames ({})", name, got,
                   info.frames, sf_strerror(f));
  }
  return out;
}

}  // namespace

AudioData read_audio(const std::filesystem::path& path, const AudioReadOptions& options) {
  const std::string name = path.string();
  std::error_code ec;
  CHATTERD_CHECK(std::filesystem::is_regular_file(path, ec), IoError, "{}: no such audio file",
                 name);
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  CHATTERD_CHECK(f != nullptr, ModelFormatError, "{}: cannot decode audio: {}", name,
                 sf_strerror(nullptr));
  return decode(f, info, name, options);
}

AudioData read_audio(std::span<const std::byte> bytes, std::string_view name,
                     const AudioReadOptions& options) {
  MemoryStream stream{bytes, 0};
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info{};
  SNDFILE* f = sf_open_virtual(&io, SFM_READ, &info, &stream);
  CHATTERD_CHECK(f != nullptr, ModelFormatError, "{}: cannot decode audio: {}", name,
                 sf_strerror(nullptr));
  return decode(f, info, std::string(name), options);
}

std::vector<float> mix_to_mono(const AudioData& audio) {
  if (audio.channels == 1) return audio.samples;
  const auto ch = static_cast<std::size_t>(audio.channels);
  const auto frames = static_cast<std::size_t>(audio.frames());
  std::vector<float> mono(frames);
  for (std::size_t f = 0; f < frames; ++f) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < ch; ++c) sum += audio.samples[f * ch + c];
    mono[f] = sum / static_cast<float>(ch);
  }
  return mono;
}

void write_wav(const std::filesystem::path& path, const AudioData& audio, WavFormat format) {
  const std::string name = path.string();
  CHATTERD_CHECK(audio.sample_rate_hz > 0 && audio.channels > 0 &&
                     audio.samples.size() % static_cast<std::size_t>(audio.channels) == 0,
                 InvalidArgument, "{}: cannot write {} samples as {} channels at {} Hz", name,
                 audio.samples.size(), audio.channels, audio.sample_rate_hz);
  SF_INFO info{};
  info.samplerate = audio.sample_rate_hz;
  info.channels = audio.channels;
  info.format = SF_FORMAT_WAV | (format == WavFormat::Pcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SndFile f(sf_open(path.c_str(), SFM_WRITE, &info));
  CHATTERD_CHECK(f.get() != nullptr, IoError, "{}: cannot open for writing: {}", name,
                 sf_strerror(nullptr));
  const auto frames = static_cast<sf_count_t>(audio.frames());
  sf_count_t written = 0;
  if (format == WavFormat::Float32) {
    written = sf_writef_float(f.get(), audio.samples.data(), frames);
  } else {
    std::vector<short> pcm(audio.samples.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
      const float x = audio.samples[i];
      const float v = std::isnan(x) ? 0.0f : std::nearbyint(x * 32768.0f);
      pcm[i] = static_cast<short>(std::clamp(v, -32768.0f, 32767.0f));
    }
    written = sf_writef_short(f.get(), pcm.data(), frames);
  }
  CHATTERD_CHECK(written == frames, IoError, "{}: wrote {} of {} frames: {}", name, written, frames,
                 sf_strerror(f.get()));
}

}  // namespace chatterd
