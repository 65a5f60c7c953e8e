// s3gen_mel goldens: S3Gen's 24 kHz mel extractor (s3gen/utils/mel.py) on every `<case>.wav` /
// `<case>.mel` pair the file holds, plus its constant tables (`const.mel_basis`,
// `const.hann_window_<n>`). Sizes come from the golden (n_mels = mel rows), never from the fixture.
#include <set>
#include <string>

#include "audio/features.h"
#include "audio/mel_filters.h"
#include "audio/window.h"
#include "core/check.h"
#include "parity/parity.h"
#include "weights/safetensors.h"

namespace chatterd::parity {

namespace {

// The mel's f32 error budget: the log amplifies relative error in low-energy bins, and our FFT
// sums in a different order than torch's (both f32). Measured max rel ~1e-6 on the fixtures.
constexpr double kMelTolerance = 1e-5;

Tensor vector_tensor(const std::vector<float>& v, const Shape& shape) {
  return Tensor::from_span<float>(v, shape);
}

}  // namespace

ParityReport run_s3gen_mel_parity(const std::filesystem::path& /*model_dir*/,
                                  const std::filesystem::path& golden,
                                  const ParityOptions& options) {
  const auto file = SafetensorsFile::open(golden);
  ParityReport report(golden.string());
  ThreadPool pool(std::max(1, options.n_threads));
  ExecContext ctx;
  ctx.pool = options.n_threads > 1 ? &pool : nullptr;

  std::set<std::string> cases;
  for (const auto& info : file->tensors()) {
    const std::string& n = info.name;
    if (n.size() > 4 && n.ends_with(".wav")) cases.insert(n.substr(0, n.size() - 4));
  }
  CHATTERD_CHECK(!cases.empty(), ModelFormatError, "{}: no '<case>.wav' tensors", golden.string());
  int n_mels = 0;
  for (const auto& c : cases) {
    const Tensor wav = file->get(c + ".wav");
    const Tensor expected = file->get(c + ".mel");
    CHATTERD_CHECK(
        wav.rank() == 2 && wav.dim(0) == 1 && expected.rank() == 3 && expected.dim(0) == 1,
        ModelFormatError, "{}: case '{}' expects wav (1, L) and mel (1, M, T), got {} {}",
        golden.string(), c, wav.to_string(), expected.to_string());
    n_mels = static_cast<int>(expected.dim(1));
    const std::span<const float> samples(wav.data<float>(), static_cast<std::size_t>(wav.numel()));
    const Tensor mel = audio::s3gen_mel(ctx, samples, n_mels);
    report.compare(c + ".mel", mel.reshape({1, mel.dim(0), mel.dim(1)}), expected, kMelTolerance);
  }
  if (file->contains("const.mel_basis")) {
    const Tensor expected = file->get("const.mel_basis");
    const int n_fft = static_cast<int>((expected.dim(1) - 1) * 2);
    const auto fb =
        audio::slaney_mel_filterbank(24000, n_fft, static_cast<int>(expected.dim(0)), 0.0, 8000.0);
    // Same float64 recipe and roundings as librosa: equal up to a libm ulp.
    report.compare("const.mel_basis", vector_tensor(fb, expected.shape()), expected, 1e-6);
  }
  for (const auto& info : file->tensors()) {
    if (!info.name.starts_with("const.hann_window_")) continue;
    const Tensor expected = file->get(info.name);
    const auto w = audio::torch_hann_window(static_cast<int>(expected.numel()), true);
    report.compare(info.name, vector_tensor(w, expected.shape()), expected, 1e-6);
  }
  return report;
}

}  // namespace chatterd::parity
