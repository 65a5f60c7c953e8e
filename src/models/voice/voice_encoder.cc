#include "models/voice/voice_encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "ops/activation.h"

namespace chatterd {

namespace {

// Divides each row of x [n, d] by its L2 norm (a zero row stays zero, where torch gives NaN).
void l2_normalize_rows(float* x, std::int64_t n, std::int64_t d) {
  for (std::int64_t r = 0; r < n; ++r) {
    float* row = x + r * d;
    double ss = 0.0;
    for (std::int64_t i = 0; i < d; ++i) ss += static_cast<double>(row[i]) * row[i];
    const auto norm = static_cast<float>(std::sqrt(ss));
    if (norm > 0.0f) {
      for (std::int64_t i = 0; i < d; ++i) row[i] /= norm;
    }
  }
}

}  // namespace

VoicePartials voice_partials(std::int64_t n_frames, const VoiceEncoderConfig& config,
                             const VoicePartialOptions& options) {
  CHATTERD_CHECK(n_frames > 0, InvalidArgument,
                 "VoiceEncoder: the mel has {} frames; at least 1 is needed", n_frames);
  CHATTERD_CHECK(options.min_coverage > 0 && options.min_coverage <= 1, InvalidArgument,
                 "VoiceEncoder: min_coverage must be in (0, 1], got {}", options.min_coverage);
  const std::int64_t win = config.partial_frames;
  std::int64_t step = 0;
  if (options.rate > 0) {
    // int(np.round((sample_rate / rate) / partial_frames)): "frames" here is the reference's
    // own (dimensionally odd) formula; keep it.
    step = static_cast<std::int64_t>(std::nearbyint(
        (static_cast<double>(config.sample_rate_hz) / options.rate) / static_cast<double>(win)));
  } else {
    CHATTERD_CHECK(options.overlap >= 0 && options.overlap < 1, InvalidArgument,
                   "VoiceEncoder: overlap must be in [0, 1), got {}", options.overlap);
    step = static_cast<std::int64_t>(
        std::nearbyint(static_cast<double>(win) * (1.0 - options.overlap)));
  }
  CHATTERD_CHECK(step > 0 && step <= win, InvalidArgument,
                 "VoiceEncoder: frame step {} must be in [1, partial_frames {}] (rate {})", step,
                 win, options.rate);
  const std::int64_t span = std::max<std::int64_t>(n_frames - win + step, 0);
  std::int64_t count = span / step;
  const std::int64_t remainder = span % step;
  if (count == 0 || static_cast<double>(remainder + (win - step)) / static_cast<double>(win) >=
                        options.min_coverage) {
    ++count;
  }
  return {count, step, win + step * (count - 1)};
}

VoiceEncoder::VoiceEncoder(const WeightStore& store, const VoiceEncoderConfig& config,
                           std::string_view prefix)
    : config_(config) {
  const auto problems = config.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "VoiceEncoder: invalid config {}",
                 config.to_string());
  const std::string p(prefix);
  const std::int64_t g = 4 * config.hidden_size;
  for (std::int64_t l = 0; l < config.num_layers; ++l) {
    ops::LstmLayerWeights w;
    const std::int64_t in = l == 0 ? config.num_mels : config.hidden_size;
    w.w_ih = store.get_f32(fmt::format("{}lstm.weight_ih_l{}", p, l), {g, in});
    w.w_hh = store.get_f32(fmt::format("{}lstm.weight_hh_l{}", p, l), {g, config.hidden_size});
    w.b_ih = store.get_f32(fmt::format("{}lstm.bias_ih_l{}", p, l), {g});
    w.b_hh = store.get_f32(fmt::format("{}lstm.bias_hh_l{}", p, l), {g});
    lstm_.push_back(std::move(w));
  }
  proj_ = layers::Linear(store, p + "proj", config.hidden_size, config.embed_size, true);
}

Tensor VoiceEncoder::partial_embeds(const ExecContext& ctx, const Tensor& mel_in,
                                    const VoicePartialOptions& options) const {
  check_dtype(mel_in, DType::F32, "VoiceEncoder: mel");
  Tensor mel = mel_in;
  if (mel.rank() == 3 && mel.dim(0) == 1) mel = mel.reshape({mel.dim(1), mel.dim(2)});
  CHATTERD_CHECK(mel.rank() == 2 && mel.dim(1) == config_.num_mels, ShapeError,
                 "VoiceEncoder: mel must be (T, {}) (frames x mel bins), got {}", config_.num_mels,
                 mel_in.to_string());
  const std::int64_t n_frames = mel.dim(0);
  const VoicePartials parts = voice_partials(n_frames, config_, options);
  const std::int64_t win = config_.partial_frames, m = config_.num_mels;

  // (count, win, m): partial i = rows [i*step, i*step + win) of the mel, zero past its end.
  Tensor batch = Tensor::empty({parts.count, win, m}, DType::F32);
  const float* src = mel.data<float>();
  float* dst = batch.data<float>();
  for (std::int64_t i = 0; i < parts.count; ++i) {
    for (std::int64_t t = 0; t < win; ++t) {
      const std::int64_t row = i * parts.step + t;
      float* d = dst + (i * win + t) * m;
      if (row < n_frames) {
        std::memcpy(d, src + row * m, static_cast<std::size_t>(m) * sizeof(float));
      } else {
        std::fill(d, d + m, 0.0f);
      }
    }
  }

  Tensor seq;
  Tensor h_n;
  ops::lstm(ctx, batch, lstm_, seq, &h_n);
  const Tensor top = h_n.select0(config_.num_layers - 1);  // (count, hidden)
  Tensor out;
  proj_.forward(ctx, top, out);
  if (config_.final_relu) ops::relu(ctx, out, out);
  l2_normalize_rows(out.data<float>(), out.dim(0), out.dim(1));
  return out;
}

Tensor VoiceEncoder::reduce_partials(const Tensor& partial_embeds) {
  check_dtype(partial_embeds, DType::F32, "VoiceEncoder: partial_embeds");
  CHATTERD_CHECK(partial_embeds.rank() == 2 && partial_embeds.dim(0) > 0, ShapeError,
                 "VoiceEncoder: partial_embeds must be (n >= 1, E), got {}",
                 partial_embeds.to_string());
  const std::int64_t n = partial_embeds.dim(0), e = partial_embeds.dim(1);
  Tensor out = Tensor::empty({1, e}, DType::F32);
  const float* p = partial_embeds.data<float>();
  float* o = out.data<float>();
  for (std::int64_t j = 0; j < e; ++j) {
    double s = 0.0;
    for (std::int64_t i = 0; i < n; ++i) s += p[i * e + j];
    o[j] = static_cast<float>(s / static_cast<double>(n));
  }
  l2_normalize_rows(o, 1, e);
  return out;
}

Tensor VoiceEncoder::embed(const ExecContext& ctx, const Tensor& mel,
                           const VoicePartialOptions& options) const {
  return reduce_partials(partial_embeds(ctx, mel, options));
}

}  // namespace chatterd
