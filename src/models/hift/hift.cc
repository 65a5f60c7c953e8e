#include "models/hift/hift.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/conv1d.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd::hift {

const Tensor* HiftTrace::find(std::string_view name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

Hift::Hift(const WeightStore& store, const HiftConfig& config, const std::string& prefix)
    : config_(config),
      f0_predictor_(store, prefix, config),
      source_(store, prefix, config),
      stft_(config.istft_n_fft, config.istft_hop) {
  const HiftConfig& c = config_;
  const std::size_t stages = c.upsample_rates.size();
  CHATTERD_CHECK(stages > 0 && c.upsample_kernel_sizes.size() == stages &&
                     c.source_resblock_kernel_sizes.size() == stages &&
                     c.source_resblock_dilation_sizes.size() == stages &&
                     !c.resblock_kernel_sizes.empty() &&
                     c.resblock_dilation_sizes.size() == c.resblock_kernel_sizes.size(),
                 InvalidArgument, "Hift: inconsistent stage lists in the config");
  CHATTERD_CHECK(c.conv_pre_kernel % 2 == 1 && c.conv_post_kernel % 2 == 1, InvalidArgument,
                 "Hift: conv_pre/conv_post kernels {} / {} must be odd", c.conv_pre_kernel,
                 c.conv_post_kernel);
  stack_ = HiftDecoderStack(store, c, prefix);
}

void Hift::check_mel(const Tensor& mel) const {
  CHATTERD_CHECK(mel.dtype() == DType::F32 && mel.rank() == 3 && mel.dim(0) == 1 &&
                     mel.dim(1) == config_.in_channels,
                 ShapeError, "Hift: mel must be f32 [1, {}, frames], got {}", config_.in_channels,
                 mel.to_string());
  const float* p = mel.data<float>();
  for (std::int64_t i = 0; i < mel.numel(); ++i) {
    CHATTERD_CHECK(std::isfinite(p[i]), InvalidArgument,
                   "Hift: mel value {} at channel {}, frame {} is not finite", p[i], i / mel.dim(2),
                   i % mel.dim(2));
  }
}

HiftOutput Hift::infer(const ExecContext& ctx, const Tensor& mel, Rng& rng,
                       const Tensor* cache_source, HiftTrace* trace) const {
  check_mel(mel);
  const HiftSourceNoise noise =
      HiftSourceNoise::draw(rng, harmonics(), mel.dim(2) * samples_per_frame());
  return infer(ctx, mel, noise, cache_source, trace);
}

HiftOutput Hift::infer(const ExecContext& ctx, const Tensor& mel, const HiftSourceNoise& noise,
                       const Tensor* cache_source, HiftTrace* trace) const {
  check_mel(mel);
  const std::int64_t samples = mel.dim(2) * samples_per_frame();
  HiftOutput out;
  if (samples == 0) {
    out.wav = Tensor::empty({1, 0}, DType::F32);
    out.source = Tensor::empty({1, 1, 0}, DType::F32);
    return out;
  }
  Tensor f0;
  predict_f0(ctx, mel, f0);
  if (trace != nullptr) trace->put("hift.f0", f0);
  Tensor sine_waves;
  make_source(ctx, f0, noise, out.source, trace != nullptr ? &sine_waves : nullptr);
  if (trace != nullptr) trace->put("hift.sinegen.sine_waves", sine_waves);
  if (cache_source != nullptr && cache_source->numel() > 0) {
    const std::int64_t len = cache_source->dim(-1);
    CHATTERD_CHECK(
        cache_source->dtype() == DType::F32 && cache_source->numel() == len && len <= samples,
        ShapeError, "Hift: cache_source {} must be f32 [1, 1, L] with L <= {}",
        cache_source->to_string(), samples);
    std::copy_n(cache_source->data<float>(), len, out.source.data<float>());
  }
  if (trace != nullptr) trace->put("output.sources", out.source);
  decode(ctx, mel, out.source, out.wav, trace);
  return out;
}

void Hift::predict_f0(const ExecContext& ctx, const Tensor& mel, Tensor& f0) const {
  f0_predictor_.forward(ctx, mel, f0);
}

void Hift::make_source(const ExecContext& ctx, const Tensor& f0, const HiftSourceNoise& noise,
                       Tensor& source, Tensor* sine_waves) const {
  source_.forward(ctx, f0, noise, source, sine_waves);
}

void Hift::decode(const ExecContext& ctx, const Tensor& mel, const Tensor& source, Tensor& wav,
                  HiftTrace* trace) const {
  check_mel(mel);
  const std::int64_t samples = mel.dim(2) * samples_per_frame();
  CHATTERD_CHECK(source.dtype() == DType::F32 && source.numel() == samples, ShapeError,
                 "Hift::decode: source {} must hold {} samples for {} mel frames",
                 source.to_string(), samples, mel.dim(2));
  auto put = [&](const char* name, const Tensor& t) {
    if (trace != nullptr) trace->put(name, t);
  };
  Tensor s_stft;
  stft_.forward(ctx, source.reshape({samples}), s_stft);
  const std::int64_t nb = stft_.bins();
  const std::int64_t nf = s_stft.dim(2);
  if (trace != nullptr) {
    Tensor part;
    ops::slice(ctx, s_stft, 1, 0, nb, part);
    put("hift.stft.real", part);
    ops::slice(ctx, s_stft, 1, nb, 2 * nb, part);
    put("hift.stft.imag", part);
  }

  Tensor y;
  if (device_ && trace == nullptr) {
    y = decode_stack_on_device(ctx, mel, s_stft);
  } else {
    stack_.forward(ctx, config_, mel, s_stft, y, trace);
  }
  CHATTERD_CHECK(y.dim(2) == nf, Internal, "Hift: conv_post has {} frames, the source STFT {}",
                 y.dim(2), nf);

  // magnitude = min(exp(x[:bins]), 100); phase = sin(x[bins:]); spectrum = mag * e^{i phase}.
  Tensor re = Tensor::empty({nb, nf}, DType::F32);
  Tensor im = Tensor::empty({nb, nf}, DType::F32);
  const float* yp = y.data<float>();
  float* rp = re.data<float>();
  float* ip = im.data<float>();
  ctx.parallel_for(nb * nf, 4096, [&](std::int64_t a, std::int64_t b) {
    for (std::int64_t n = a; n < b; ++n) {
      const float mag = std::min(std::exp(yp[n]), 100.0f);
      const float phase = std::sin(yp[nb * nf + n]);
      rp[n] = mag * std::cos(phase);
      ip[n] = mag * std::sin(phase);
    }
  });
  stft_.inverse(ctx, re, im, wav);
  put("hift.istft.out", wav);
  const auto limit = static_cast<float>(config_.audio_limit);
  float* wp = wav.data<float>();
  ctx.parallel_for(wav.numel(), 1 << 14, [&](std::int64_t a, std::int64_t b) {
    for (std::int64_t n = a; n < b; ++n) wp[n] = std::clamp(wp[n], -limit, limit);
  });
}

std::vector<float> trim_fade_window(std::int64_t zeros, std::int64_t fade) {
  CHATTERD_CHECK(zeros >= 0 && fade >= 0, InvalidArgument,
                 "trim_fade_window: negative length ({}, {})", zeros, fade);
  std::vector<float> w(static_cast<std::size_t>(zeros + fade), 0.0f);
  // torch.linspace(pi, 0, fade) in f32: start + i*step for the first half, end - (n-1-i)*step
  // for the second; then (cos + 1) / 2 in f32.
  const auto start = static_cast<float>(std::numbers::pi);
  const float end = 0.0f;
  const float step = fade > 1 ? (end - start) / static_cast<float>(fade - 1) : 0.0f;
  for (std::int64_t i = 0; i < fade; ++i) {
    const float v = i < fade / 2 ? start + step * static_cast<float>(i)
                                 : end - step * static_cast<float>(fade - 1 - i);
    w[static_cast<std::size_t>(zeros + i)] = (std::cos(v) + 1.0f) / 2.0f;
  }
  return w;
}

void apply_trim_fade(Tensor& wav, std::int64_t zeros, std::int64_t fade) {
  CHATTERD_CHECK(wav.dtype() == DType::F32 && wav.numel() == wav.dim(-1), ShapeError,
                 "apply_trim_fade: wav must be f32 [1, T] or [T], got {}", wav.to_string());
  const std::vector<float> w = trim_fade_window(zeros, fade);
  const std::int64_t n = std::min<std::int64_t>(wav.numel(), static_cast<std::int64_t>(w.size()));
  float* p = wav.data<float>();
  for (std::int64_t i = 0; i < n; ++i) p[i] *= w[static_cast<std::size_t>(i)];
}

bool Hift::pack_bf16(const ExecContext& ctx) {
  if (!ops::bf16_gemm_available(ctx)) return false;
  // Not the F0 predictor: SineGen integrates f0 into a running phase, so a 0.5% f0 error (what
  // bf16 gave on the fixtures) becomes a different waveform within a second; it is ~1% of the
  // FLOPs.
  // With a device stack the host one only serves traces (parity checks): left f32.
  if (!device_) stack_.pack_bf16(ctx);
  return true;
}

}  // namespace chatterd::hift
