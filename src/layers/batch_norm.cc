#include "layers/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"

namespace chatterd::layers {

BatchNorm::BatchNorm(const WeightStore& store, std::string_view prefix, std::int64_t channels,
                     float eps, bool affine) {
  const std::string p(prefix);
  const Tensor mean = store.get_f32(p + ".running_mean", {channels});
  const Tensor var = store.get_f32(p + ".running_var", {channels});
  Tensor gamma;
  Tensor beta;
  if (affine) {
    gamma = store.get_f32(p + ".weight", {channels});
    beta = store.get_f32(p + ".bias", {channels});
  }
  const auto n = static_cast<std::size_t>(channels);
  auto span_of = [n](const Tensor& t) {
    return t.defined() && t.numel() > 0 ? std::span<const float>(t.data<float>(), n)
                                        : std::span<const float>();
  };
  *this = from_stats(span_of(mean), span_of(var), span_of(gamma), span_of(beta), eps);
}

BatchNorm BatchNorm::from_stats(std::span<const float> mean, std::span<const float> var,
                                std::span<const float> gamma, std::span<const float> beta,
                                float eps) {
  CHATTERD_CHECK(mean.size() == var.size(), ShapeError,
                 "BatchNorm: running_mean has {} channels, running_var {}", mean.size(),
                 var.size());
  CHATTERD_CHECK(gamma.empty() == beta.empty(), InvalidArgument,
                 "BatchNorm: weight and bias must both be given or both be absent");
  CHATTERD_CHECK(gamma.empty() || (gamma.size() == mean.size() && beta.size() == mean.size()),
                 ShapeError, "BatchNorm: affine parameters have {}/{} channels, statistics {}",
                 gamma.size(), beta.size(), mean.size());
  BatchNorm bn;
  bn.scale_.resize(mean.size());
  bn.shift_.resize(mean.size());
  for (std::size_t c = 0; c < mean.size(); ++c) {
    // Same order of operations as torch's eval batch_norm: (x - mean) * invstd * gamma + beta.
    const float invstd = 1.0f / std::sqrt(var[c] + eps);
    const float g = gamma.empty() ? 1.0f : gamma[c];
    const float b = beta.empty() ? 0.0f : beta[c];
    bn.scale_[c] = invstd * g;
    bn.shift_[c] = b - mean[c] * bn.scale_[c];
  }
  return bn;
}

void BatchNorm::forward(const ExecContext& ctx, const Tensor& x, Tensor& out, bool relu) const {
  check_dtype(x, DType::F32, "BatchNorm: x");
  CHATTERD_CHECK(x.rank() >= 2, ShapeError, "BatchNorm: x must be [C, N] or [B, C, ...], got {}",
                 x.to_string());
  const int ch_axis = x.rank() == 2 ? 0 : 1;
  const std::int64_t c = x.dim(ch_axis);
  CHATTERD_CHECK(c == channels(), ShapeError, "BatchNorm: x {} has {} channels, the layer {}",
                 x.to_string(), c, channels());
  const std::int64_t batch = ch_axis == 0 ? 1 : x.dim(0);
  const std::int64_t inner = c == 0 ? 0 : x.numel() / (batch * c);
  if (!(out.raw_data() == x.raw_data() && out.shape() == x.shape()))
    out.resize(x.shape(), x.dtype());
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  ctx.parallel_for(batch * c, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(inner, 1)),
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t r = begin; r < end; ++r) {
                       const auto ch = static_cast<std::size_t>(r % c);
                       const float s = scale_[ch];
                       const float b = shift_[ch];
                       const float* xi = src + r * inner;
                       float* yi = dst + r * inner;
                       if (relu) {
                         for (std::int64_t i = 0; i < inner; ++i) {
                           yi[i] = std::max(xi[i] * s + b, 0.0f);
                         }
                       } else {
                         for (std::int64_t i = 0; i < inner; ++i) yi[i] = xi[i] * s + b;
                       }
                     }
                   });
}

void BatchNorm::fold_into(Tensor& weight, Tensor& bias) const {
  check_dtype(weight, DType::F32, "BatchNorm::fold_into: weight");
  CHATTERD_CHECK(weight.rank() >= 1 && weight.dim(0) == channels(), ShapeError,
                 "BatchNorm::fold_into: weight {} does not have {} output channels",
                 weight.to_string(), channels());
  const std::int64_t c = channels();
  const std::int64_t inner = c == 0 ? 0 : weight.numel() / c;
  float* w = weight.data<float>();
  const bool had_bias = bias.defined() && bias.numel() == c && bias.rank() == 1;
  Tensor folded = Tensor::empty({c}, DType::F32);
  float* fb = folded.data<float>();
  const float* old = had_bias ? bias.data<float>() : nullptr;
  for (std::int64_t o = 0; o < c; ++o) {
    const auto i = static_cast<std::size_t>(o);
    for (std::int64_t k = 0; k < inner; ++k) w[o * inner + k] *= scale_[i];
    fb[o] = (old != nullptr ? old[o] * scale_[i] : 0.0f) + shift_[i];
  }
  bias = folded;
}

}  // namespace chatterd::layers
