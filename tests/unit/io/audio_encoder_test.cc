#include "io/audio_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "chatterd/core/error.h"
#include "io/audio_file.h"
#include "unit/weights/test_files.h"

namespace chatterd {
namespace {

constexpr int kRate = 24000;

// A chord with a slow envelope: something a codec cannot encode as silence or a pure tone.
std::vector<float> speechlike(std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / kRate;
    const double env = 0.5 + 0.4 * std::sin(2.0 * std::numbers::pi * 3.0 * t);
    x[i] = static_cast<float>(env * (0.3 * std::sin(2.0 * std::numbers::pi * 220.0 * t) +
                                     0.15 * std::sin(2.0 * std::numbers::pi * 660.0 * t)));
  }
  return x;
}

AudioData decode(const std::string& bytes, std::string_view name) {
  const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
  return read_audio(std::span<const std::byte>(p, bytes.size()), name);
}

double rms(std::span<const float> x) {
  double s = 0.0;
  for (const float v : x) s += static_cast<double>(v) * v;
  return x.empty() ? 0.0 : std::sqrt(s / static_cast<double>(x.size()));
}

// The share of `x`'s energy in a sinusoid at `hz` (a one-bin DFT, Hann window; 1 for a pure tone).
double tone_share(std::span<const float> x, double hz, int rate) {
  double re = 0.0, im = 0.0, total = 0.0;
  const auto n = static_cast<double>(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double w = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / n);
    const double v = w * x[i];
    const double ph = 2.0 * std::numbers::pi * hz * static_cast<double>(i) / rate;
    re += v * std::cos(ph);
    im -= v * std::sin(ph);
    total += v * v;
  }
  return 1.5 * (re * re + im * im) / (n / 2.0 * total);  // Hann: a pure tone gives 2/3 unscaled
}

TEST(AudioEncoder, FlacIsLosslessAtSixteenBits) {
  const std::vector<float> x = speechlike(kRate);
  const AudioData d = decode(encode_audio(AudioCodec::Flac, kRate, x), "out.flac");
  ASSERT_EQ(d.sample_rate_hz, kRate);
  ASSERT_EQ(d.channels, 1);
  ASSERT_EQ(d.samples.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(d.samples[i], x[i], 1.0 / 32768.0) << "sample " << i;
  }
}

// Lossy codecs: the length (up to the codec's padding), the level and the spectrum survive.
TEST(AudioEncoder, Mp3AndOpusKeepLengthLevelAndPitch) {
  const std::vector<float> x = speechlike(2 * kRate);
  const double carrier = tone_share(x, 220.0, kRate);
  ASSERT_GT(carrier, 0.5);
  ASSERT_LT(tone_share(x, 1000.0, kRate), 1e-3);
  for (const AudioCodec codec : {AudioCodec::Mp3, AudioCodec::Opus}) {
    SCOPED_TRACE(std::string(codec_name(codec)));
    const std::string bytes = encode_audio(codec, kRate, x);
    // Well under 16-bit PCM's 48 KB/s: it is compressed.
    EXPECT_LT(bytes.size(), 2u * 48000u / 3u);
    const AudioData d = decode(bytes, codec == AudioCodec::Mp3 ? "out.mp3" : "out.opus");
    ASSERT_EQ(d.channels, 1);
    EXPECT_NEAR(d.seconds(), 2.0, 0.1);
    EXPECT_NEAR(rms(d.samples) / rms(x), 1.0, 0.15);
    EXPECT_NEAR(tone_share(d.samples, 220.0, d.sample_rate_hz), carrier, 0.1);
    EXPECT_LT(tone_share(d.samples, 1000.0, d.sample_rate_hz), 0.01);
  }
}

// What a stream sends (take() after every write) is a file the decoders read: the same samples
// as the whole-file encode, without the totals the codec patches in at the end.
TEST(AudioEncoder, StreamedBytesDecodeLikeTheWholeFile) {
  const std::vector<float> x = speechlike(kRate);
  for (const AudioCodec codec : {AudioCodec::Flac, AudioCodec::Mp3, AudioCodec::Opus}) {
    SCOPED_TRACE(std::string(codec_name(codec)));
    AudioEncoder enc(codec, kRate);
    std::string streamed;
    int nonempty_takes = 0;
    for (std::size_t at = 0; at < x.size(); at += 2400) {  // 100 ms pieces
      enc.write(std::span(x).subspan(at, std::min<std::size_t>(2400, x.size() - at)));
      const std::string got = enc.take();
      nonempty_takes += got.empty() ? 0 : 1;
      streamed += got;
    }
    enc.finish();
    streamed += enc.take();
    EXPECT_TRUE(enc.take().empty());
    // Audio leaves the codec while the stream runs, not only at the end.
    EXPECT_GE(nonempty_takes, 3);
    const std::string name = std::string("stream.") + std::string(codec_extension(codec));
    const AudioData whole = decode(encode_audio(codec, kRate, x), name);
    const AudioData stream = decode(streamed, name);
    ASSERT_EQ(stream.samples.size(), whole.samples.size());
    if (codec == AudioCodec::Flac) {
      EXPECT_EQ(stream.samples, whole.samples);
      // The stream's FLAC says nothing of its length: the reader's limit applies to what it
      // decodes.
      const auto* p = reinterpret_cast<const std::byte*>(streamed.data());
      EXPECT_THROW(read_audio(std::span<const std::byte>(p, streamed.size()), name,
                              AudioReadOptions{.max_seconds = 0.5}),
                   ModelFormatError);
    }
    EXPECT_NEAR(rms(stream.samples) / rms(whole.samples), 1.0, 1e-3);
  }
}

TEST(AudioEncoder, RefusesRatesTheCodecCannotCarry) {
  try {
    AudioEncoder enc(AudioCodec::Opus, 22050);
    FAIL() << "opus accepted 22050 Hz";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("opus cannot carry 22050 Hz"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(AudioEncoder(AudioCodec::Mp3, 96000), InvalidArgument);
  EXPECT_THROW(AudioEncoder(AudioCodec::Flac, 0), InvalidArgument);
  EXPECT_NO_THROW(AudioEncoder(AudioCodec::Mp3, 22050));
  EXPECT_NO_THROW(AudioEncoder(AudioCodec::Opus, 48000));
}

TEST(AudioEncoder, EmptyAndOutOfRangeInputStillMakeValidFiles) {
  // Nothing written (a request whose text made no sound): still a file, of 20 ms of silence.
  for (const AudioCodec codec : {AudioCodec::Flac, AudioCodec::Mp3, AudioCodec::Opus}) {
    const AudioData d = decode(encode_audio(codec, kRate, {}),
                               std::string("empty.") + std::string(codec_extension(codec)));
    EXPECT_LE(d.seconds(), 0.1) << codec_name(codec);
    EXPECT_LT(rms(d.samples), 1e-3) << codec_name(codec);
  }
  // Samples beyond [-1, 1] are clamped, not wrapped around.
  const std::vector<float> loud(4800, 3.0f);
  const AudioData d = decode(encode_audio(AudioCodec::Flac, kRate, loud), "loud.flac");
  ASSERT_EQ(d.samples.size(), loud.size());
  for (const float v : d.samples) ASSERT_GT(v, 0.99f);
}

TEST(AudioEncoder, WriteAfterFinishIsAnError) {
  AudioEncoder enc(AudioCodec::Mp3, kRate);
  enc.finish();
  enc.finish();  // idempotent
  const std::vector<float> x(100, 0.1f);
  EXPECT_THROW(enc.write(x), InvalidArgument);
}

TEST(AudioEncoder, CodecForPathGoesByExtension) {
  EXPECT_EQ(codec_for_path("a/b.mp3"), AudioCodec::Mp3);
  EXPECT_EQ(codec_for_path("b.OPUS"), AudioCodec::Opus);
  EXPECT_EQ(codec_for_path("b.Flac"), AudioCodec::Flac);
  EXPECT_EQ(codec_for_path("b.wav"), std::nullopt);
  EXPECT_EQ(codec_for_path("mp3"), std::nullopt);
  EXPECT_EQ(codec_for_path("b."), std::nullopt);
}

TEST(AudioEncoder, WritesFilesAndNamesUnwritablePaths) {
  testing::TempDir dir;
  const std::vector<float> x = speechlike(kRate / 2);
  write_encoded_audio(dir / "out.flac", AudioCodec::Flac, kRate, x);
  EXPECT_EQ(read_audio(dir / "out.flac").samples.size(), x.size());
  try {
    write_encoded_audio(dir / "missing" / "out.mp3", AudioCodec::Mp3, kRate, x);
    FAIL() << "wrote into a missing directory";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("out.mp3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace chatterd
