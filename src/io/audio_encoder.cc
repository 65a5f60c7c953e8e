#include "io/audio_encoder.h"

#include <fmt/format.h>
#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/check.h"

namespace chatterd {

// The file libsndfile writes into: bytes from `base` on are held in `pending` until take();
// bytes before `base` were handed out, so writes there (the codecs' closing header patches) are
// dropped and reads of them see zeros.
struct AudioEncoder::Sink {
  std::string pending;
  sf_count_t base = 0;
  sf_count_t pos = 0;
  sf_count_t size = 0;
};

namespace {

// The callbacks are templates over the sink type: AudioEncoder::Sink is private, and only the
// constructor (a member) can name it.
// Opus pages are cut at least this often, so a stream's audio leaves the codec within ~100 ms
// of its samples instead of once per ~4 KB page (about a second of speech).
constexpr double kOpusPageLatencyMs = 100.0;

template <class S>
sf_count_t sink_length(void* user) {
  return static_cast<S*>(user)->size;
}

template <class S>
sf_count_t sink_seek(sf_count_t offset, int whence, void* user) {
  auto* s = static_cast<S*>(user);
  sf_count_t target = offset;
  if (whence == SEEK_CUR) target = s->pos + offset;
  if (whence == SEEK_END) target = s->size + offset;
  if (target < 0) return -1;
  s->pos = target;
  return s->pos;
}

template <class S>
sf_count_t sink_read(void* ptr, sf_count_t count, void* user) {
  auto* s = static_cast<S*>(user);
  const sf_count_t n = std::clamp<sf_count_t>(s->size - s->pos, 0, std::max<sf_count_t>(count, 0));
  auto* out = static_cast<char*>(ptr);
  for (sf_count_t i = 0; i < n; ++i) {
    const sf_count_t at = s->pos + i;
    out[i] = at >= s->base ? s->pending[static_cast<std::size_t>(at - s->base)] : '\0';
  }
  s->pos += n;
  return n;
}

template <class S>
sf_count_t sink_write(const void* ptr, sf_count_t count, void* user) {
  auto* s = static_cast<S*>(user);
  if (count <= 0) return 0;
  const auto* in = static_cast<const char*>(ptr);
  const sf_count_t end = s->pos + count;
  const sf_count_t from = std::max(s->pos, s->base);  // below base: already taken, dropped
  if (end > from) {
    const auto need = static_cast<std::size_t>(end - s->base);
    if (s->pending.size() < need) s->pending.resize(need, '\0');
    std::memcpy(s->pending.data() + (from - s->base), in + (from - s->pos),
                static_cast<std::size_t>(end - from));
  }
  s->pos = end;
  s->size = std::max(s->size, end);
  return count;
}

template <class S>
sf_count_t sink_tell(void* user) {
  return static_cast<S*>(user)->pos;
}

int sf_format_of(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::Mp3:
      return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    case AudioCodec::Opus:
      return SF_FORMAT_OGG | SF_FORMAT_OPUS;
    case AudioCodec::Flac:
      return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  }
  return 0;
}

bool rate_supported(AudioCodec codec, int rate) {
  static constexpr std::array kOpus{8000, 12000, 16000, 24000, 48000};
  static constexpr std::array kMp3{8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
  switch (codec) {
    case AudioCodec::Opus:
      return std::find(kOpus.begin(), kOpus.end(), rate) != kOpus.end();
    case AudioCodec::Mp3:
      return std::find(kMp3.begin(), kMp3.end(), rate) != kMp3.end();
    case AudioCodec::Flac:
      return rate >= 1 && rate <= 655350;
  }
  return false;
}

SNDFILE* as_sndfile(void* f) {
  return static_cast<SNDFILE*>(f);
}

}  // namespace

std::string_view codec_name(AudioCodec codec) {
  switch (codec) {
    case AudioCodec::Mp3:
      return "mp3";
    case AudioCodec::Opus:
      return "opus";
    case AudioCodec::Flac:
      return "flac";
  }
  return "?";
}

std::string_view codec_extension(AudioCodec codec) {
  return codec_name(codec);
}

std::string codec_rate_problem(AudioCodec codec, int sample_rate_hz) {
  if (rate_supported(codec, sample_rate_hz)) return {};
  return fmt::format("{} cannot carry {} Hz audio{}", codec_name(codec), sample_rate_hz,
                     codec == AudioCodec::Opus ? " (Opus: 8, 12, 16, 24 or 48 kHz)"
                     : codec == AudioCodec::Mp3
                         ? " (MP3: 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 or 48 kHz)"
                         : "");
}

AudioEncoder::AudioEncoder(AudioCodec codec, int sample_rate_hz)
    : codec_(codec), sample_rate_hz_(sample_rate_hz), sink_(std::make_unique<Sink>()) {
  const std::string problem = codec_rate_problem(codec, sample_rate_hz);
  CHATTERD_CHECK(problem.empty(), InvalidArgument, "{}", problem);
  SF_INFO info{};
  info.samplerate = sample_rate_hz;
  info.channels = 1;
  info.format = sf_format_of(codec);
  // libsndfile keeps a pointer to the callback table until sf_close: static storage.
  static SF_VIRTUAL_IO io{&sink_length<Sink>, &sink_seek<Sink>, &sink_read<Sink>, &sink_write<Sink>,
                          &sink_tell<Sink>};
  SNDFILE* f = sf_open_virtual(&io, SFM_WRITE, &info, sink_.get());
  CHATTERD_CHECK(f != nullptr, IoError, "cannot start the {} encoder: {}", codec_name(codec),
                 sf_strerror(nullptr));
  file_ = f;
  if (codec == AudioCodec::Opus) {
    double latency_ms = kOpusPageLatencyMs;
    sf_command(f, SFC_SET_OGG_PAGE_LATENCY_MS, &latency_ms, sizeof(latency_ms));
  }
  if (codec == AudioCodec::Mp3) {
    // Constant bitrate: a stream's frames need no Info tag patched in at the end to play.
    int mode = SF_BITRATE_MODE_CONSTANT;
    sf_command(f, SFC_SET_BITRATE_MODE, &mode, sizeof(mode));
  }
}

AudioEncoder::~AudioEncoder() {
  if (file_ != nullptr) sf_close(as_sndfile(file_));
}

void AudioEncoder::write(std::span<const float> samples) {
  CHATTERD_CHECK(file_ != nullptr, InvalidArgument, "{} encoder: write after finish",
                 codec_name(codec_));
  // libsndfile scales floats to the codec's integers without clipping: clamp first, in blocks.
  std::array<float, 4096> block{};
  for (std::size_t at = 0; at < samples.size(); at += block.size()) {
    const std::size_t n = std::min(block.size(), samples.size() - at);
    for (std::size_t i = 0; i < n; ++i) block[i] = std::clamp(samples[at + i], -1.0f, 1.0f);
    const sf_count_t written =
        sf_write_float(as_sndfile(file_), block.data(), static_cast<sf_count_t>(n));
    CHATTERD_CHECK(written == static_cast<sf_count_t>(n), IoError,
                   "{} encoder: wrote {} of {} samples: {}", codec_name(codec_), written, n,
                   sf_strerror(as_sndfile(file_)));
  }
  samples_written_ += static_cast<std::int64_t>(samples.size());
}

void AudioEncoder::finish() {
  if (file_ == nullptr) return;
  if (samples_written_ == 0)
    write(std::vector<float>(static_cast<std::size_t>(sample_rate_hz_ / 50)));
  const int rc = sf_close(as_sndfile(file_));
  file_ = nullptr;
  CHATTERD_CHECK(rc == 0, IoError, "{} encoder: closing failed: {}", codec_name(codec_),
                 sf_error_number(rc));
}

std::string AudioEncoder::take() {
  std::string out = std::move(sink_->pending);
  sink_->pending.clear();
  sink_->base += static_cast<sf_count_t>(out.size());
  return out;
}

std::string encode_audio(AudioCodec codec, int sample_rate_hz, std::span<const float> samples) {
  AudioEncoder encoder(codec, sample_rate_hz);
  encoder.write(samples);
  encoder.finish();
  return encoder.take();
}

std::optional<AudioCodec> codec_for_path(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const AudioCodec codec : {AudioCodec::Mp3, AudioCodec::Opus, AudioCodec::Flac}) {
    if (ext.size() > 1 && std::string_view(ext).substr(1) == codec_extension(codec)) return codec;
  }
  return std::nullopt;
}

void write_encoded_audio(const std::filesystem::path& path, AudioCodec codec, int sample_rate_hz,
                         std::span<const float> samples) {
  const std::string bytes = encode_audio(codec, sample_rate_hz, samples);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  CHATTERD_CHECK(out.good(), IoError, "{}: cannot open for writing", path.string());
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  CHATTERD_CHECK(out.good(), IoError, "{}: writing {} bytes failed", path.string(), bytes.size());
}

}  // namespace chatterd
