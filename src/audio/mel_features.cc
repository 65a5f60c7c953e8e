// The STFT + Slaney-mel front-ends: VoiceEncoder, S3Tokenizer, S3Gen prompt mel.
#include <algorithm>
#include <cmath>

#include "audio/features.h"
#include "audio/mel_filters.h"
#include "audio/signal_checks.h"
#include "audio/stft.h"
#include "audio/window.h"
#include "core/check.h"

namespace chatterd::audio {

namespace {

constexpr int kSr16 = 16000;
constexpr int kSr24 = 24000;

// (rows, cols) row-major -> Tensor (cols, rows).
Tensor transposed(const std::vector<float>& m, int rows, int cols) {
  Tensor t = Tensor::empty(Shape({cols, rows}), DType::F32);
  float* out = t.data<float>();
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      out[static_cast<std::size_t>(c) * static_cast<std::size_t>(rows) +
          static_cast<std::size_t>(r)] =
          m[static_cast<std::size_t>(r) * static_cast<std::size_t>(cols) +
            static_cast<std::size_t>(c)];
    }
  }
  return t;
}

Tensor as_tensor(const std::vector<float>& m, int rows, int cols) {
  return Tensor::from_span<float>(m, Shape({rows, cols}));
}

// (frames, n_mels) mel of a slaney filterbank over an STFT spectrum.
std::vector<float> slaney_mel(const ExecContext& ctx, std::span<const float> wav, int sr,
                              std::span<const float> window, const StftOptions& o, int n_mels,
                              double fmax, int* frames) {
  const std::vector<float> spec = stft_spectrum(ctx, wav, window, o);
  const int bins = o.n_fft / 2 + 1;
  *frames = static_cast<int>(spec.size() / static_cast<std::size_t>(bins));
  const std::vector<float> fb = slaney_mel_filterbank(sr, o.n_fft, n_mels, 0.0, fmax);
  return apply_filterbank(ctx, spec, *frames, bins, fb, n_mels);
}

void check_n_mels(int n_mels, const char* what) {
  CHATTERD_CHECK(n_mels >= 1, InvalidArgument, "{}: n_mels must be >= 1, got {}", what, n_mels);
}

}  // namespace

Tensor ve_mel(const ExecContext& ctx, std::span<const float> wav, int n_mels) {
  check_n_mels(n_mels, "ve_mel");
  check_min_length(wav, 201, kSr16, "ve_mel (reflect-centred 400-point STFT)");
  check_finite(wav, "ve_mel");
  // librosa's float64 Hann rounded to float: the product is then formed in float (librosa: double).
  const std::vector<double> wd = librosa_hann_window(400);
  const std::vector<float> window(wd.begin(), wd.end());
  const StftOptions o{400, 160, true, PadMode::Reflect, SpectrumKind::Power};
  int frames = 0;
  const std::vector<float> mel = slaney_mel(ctx, wav, kSr16, window, o, n_mels, 8000.0, &frames);
  return as_tensor(mel, frames, n_mels);
}

Tensor s3tokenizer_log_mel(const ExecContext& ctx, std::span<const float> wav, int n_mels,
                           int max_frames) {
  check_n_mels(n_mels, "s3tokenizer_log_mel");
  check_min_length(wav, 201, kSr16, "s3tokenizer_log_mel (reflect-centred 400-point STFT)");
  check_finite(wav, "s3tokenizer_log_mel");
  const std::vector<float> window = torch_hann_window(400, true);
  const StftOptions o{400, 160, true, PadMode::Reflect, SpectrumKind::Power};
  int frames = 0;
  std::vector<float> mel = slaney_mel(ctx, wav, kSr16, window, o, n_mels, 8000.0, &frames);
  const int kept = frames - 1;  // the reference drops the last STFT frame
  mel.resize(static_cast<std::size_t>(kept) * static_cast<std::size_t>(n_mels));
  float gmax = -std::numeric_limits<float>::infinity();
  for (float& v : mel) {
    v = std::log10(std::max(v, 1e-10f));
    gmax = std::max(gmax, v);
  }
  const float floor = gmax - 8.0f;
  for (float& v : mel) v = (std::max(v, floor) + 4.0f) / 4.0f;
  Tensor full = transposed(mel, kept, n_mels);
  if (max_frames < 0 || max_frames >= kept) return full;
  // Cut columns: (n_mels, kept) -> (n_mels, max_frames).
  Tensor cut = Tensor::empty(Shape({n_mels, max_frames}), DType::F32);
  for (int m = 0; m < n_mels; ++m) {
    std::copy_n(full.data<float>() + static_cast<std::ptrdiff_t>(m) * kept, max_frames,
                cut.data<float>() + static_cast<std::ptrdiff_t>(m) * max_frames);
  }
  return cut;
}

namespace {

std::vector<float> s3gen_mel_rows(const ExecContext& ctx, std::span<const float> wav, int n_mels,
                                  int* frames) {
  check_n_mels(n_mels, "s3gen_mel");
  constexpr int kNfft = 1920;
  constexpr int kHop = 480;
  constexpr std::size_t kPad = (kNfft - kHop) / 2;  // 720
  check_min_length(wav, kPad + 1, kSr24, "s3gen_mel (720-sample reflect padding)");
  check_finite(wav, "s3gen_mel");
  const std::vector<float> padded = reflect_pad(wav, kPad, kPad);
  const std::vector<float> window = torch_hann_window(kNfft, true);
  const StftOptions o{kNfft, kHop, false, PadMode::Reflect, SpectrumKind::MagnitudeEps1e9};
  std::vector<float> mel = slaney_mel(ctx, padded, kSr24, window, o, n_mels, 8000.0, frames);
  for (float& v : mel) v = std::log(std::max(v, 1e-5f));
  return mel;
}

}  // namespace

Tensor s3gen_mel(const ExecContext& ctx, std::span<const float> wav, int n_mels) {
  int frames = 0;
  const std::vector<float> mel = s3gen_mel_rows(ctx, wav, n_mels, &frames);
  return transposed(mel, frames, n_mels);
}

Tensor s3gen_prompt_feat(const ExecContext& ctx, std::span<const float> wav, int n_mels) {
  int frames = 0;
  const std::vector<float> mel = s3gen_mel_rows(ctx, wav, n_mels, &frames);
  return as_tensor(mel, frames, n_mels);
}

}  // namespace chatterd::audio
