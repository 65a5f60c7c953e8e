#include "io/audio_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "chatterd/core/error.h"
#include "unit/weights/expect_error.h"
#include "unit/weights/test_files.h"
#include "weights/safetensors.h"

namespace chatterd {
namespace {

using testing::Bytes;
using testing::fixture;
using testing::read_bytes;
using testing::TempDir;
using testing::write_bytes;

TEST(AudioFile, RefWavEqualsLibrosaGoldenExactly) {
  const AudioData wav = read_audio(fixture("golden/ref.wav"));
  EXPECT_EQ(wav.sample_rate_hz, 24000);
  EXPECT_EQ(wav.channels, 1);
  auto golden = SafetensorsFile::open(fixture("golden/ref_wav.safetensors"));
  const Tensor ref = golden->get("ref_wav_24k_float");
  ASSERT_EQ(ref.numel(), wav.frames());
  EXPECT_EQ(0, std::memcmp(ref.data<float>(), wav.samples.data(), ref.nbytes()));
  EXPECT_DOUBLE_EQ(wav.seconds(), 6.0);
}

TEST(AudioFile, ReadsFromMemoryLikeFromDisk) {
  const Bytes bytes = read_bytes(fixture("golden/ref.wav"));
  const AudioData a = read_audio(bytes, "upload.wav");
  const AudioData b = read_audio(fixture("golden/ref.wav"));
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.sample_rate_hz, b.sample_rate_hz);
}

AudioData stereo_ramp() {
  AudioData a;
  a.sample_rate_hz = 16000;
  a.channels = 2;
  for (int i = 0; i < 1000; ++i) {
    a.samples.push_back(static_cast<float>(i - 500) / 32768.0f);
    a.samples.push_back(static_cast<float>(3 * i % 2000 - 1000) / 32768.0f);
  }
  return a;
}

TEST(AudioFile, Pcm16AndFloatRoundTripsAreExact) {
  TempDir dir;
  const AudioData a = stereo_ramp();
  for (WavFormat fmt : {WavFormat::Pcm16, WavFormat::Float32}) {
    const auto p = dir / (fmt == WavFormat::Pcm16 ? "a16.wav" : "af.wav");
    write_wav(p, a, fmt);
    const AudioData b = read_audio(p);
    EXPECT_EQ(b.sample_rate_hz, 16000);
    EXPECT_EQ(b.channels, 2);
    EXPECT_EQ(b.samples, a.samples);
  }
  AudioData loud;
  loud.sample_rate_hz = 8000;
  loud.channels = 1;
  loud.samples = {0.1234567f, 2.0f, -2.0f, NAN};
  write_wav(dir / "loud.wav", loud, WavFormat::Float32);
  EXPECT_EQ(read_audio(dir / "loud.wav").samples[0], 0.1234567f);  // float keeps full precision
  write_wav(dir / "clip.wav", loud, WavFormat::Pcm16);
  const AudioData clipped = read_audio(dir / "clip.wav");
  EXPECT_EQ(clipped.samples[1], 32767.0f / 32768.0f);
  EXPECT_EQ(clipped.samples[2], -1.0f);
  EXPECT_EQ(clipped.samples[3], 0.0f);
}

TEST(AudioFile, MonoMixdownAveragesChannels) {
  AudioData a;
  a.sample_rate_hz = 8000;
  a.channels = 2;
  a.samples = {1.0f, 0.0f, 0.5f, -0.5f, -1.0f, 0.25f};
  EXPECT_EQ(mix_to_mono(a), (std::vector<float>{0.5f, 0.0f, -0.375f}));
  a.channels = 3;
  EXPECT_EQ(mix_to_mono(a), (std::vector<float>{0.5f, -1.25f / 3.0f}));
}

TEST(AudioFile, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_ERROR_WITH((void)read_audio(dir / "missing.wav"), IoError, {"missing.wav"});
  Bytes junk(1000, std::byte{0x41});
  write_bytes(dir / "junk.wav", junk);
  EXPECT_ERROR_WITH((void)read_audio(dir / "junk.wav"), ModelFormatError, {"junk.wav"});
  EXPECT_ERROR_WITH((void)read_audio(junk, "junk-upload"), ModelFormatError, {"junk-upload"});

  const Bytes ref = read_bytes(fixture("golden/ref.wav"));
  write_bytes(dir / "header_only.wav", Bytes(ref.begin(), ref.begin() + 44));
  EXPECT_ERROR_WITH((void)read_audio(dir / "header_only.wav"), ModelFormatError,
                    {"header_only.wav"});
  EXPECT_ERROR_WITH((void)read_audio(Bytes(ref.begin(), ref.begin() + 20), "cut-upload"),
                    ModelFormatError, {"cut-upload"});

  AudioReadOptions short_limit;
  short_limit.max_seconds = 5.0;
  EXPECT_ERROR_WITH((void)read_audio(fixture("golden/ref.wav"), short_limit), ModelFormatError,
                    {"ref.wav", "limit"});

  Bytes odd_rate = ref;  // sample rate field of the fmt chunk (offset 24) set to 0
  std::memset(odd_rate.data() + 24, 0, 4);
  EXPECT_THROW((void)read_audio(odd_rate, "zero-rate"), ModelFormatError);
}

}  // namespace
}  // namespace chatterd
