#include "models/hift/hift_f0_predictor.h"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "core/check.h"
#include "ops/activation.h"

namespace chatterd::hift {

HiftF0Predictor::HiftF0Predictor(const WeightStore& store, std::string_view prefix,
                                 const HiftConfig& config) {
  const std::int64_t k = config.f0_kernel;
  CHATTERD_CHECK(k % 2 == 1, InvalidArgument, "HiftF0Predictor: kernel {} must be odd", k);
  const std::int64_t c = config.f0_cond_channels;
  for (std::int64_t i = 0; i < config.f0_num_conv_layers; ++i) {
    convs_.emplace_back(store, fmt::format("{}f0_predictor.condnet.{}", prefix, 2 * i),
                        i == 0 ? config.in_channels : c, c, k,
                        ops::Conv1dOptions{1, 1, 1, (k - 1) / 2, (k - 1) / 2},
                        /*weight_norm=*/true);
  }
  classifier_weight_ =
      store.get_f32(fmt::format("{}f0_predictor.classifier.weight", prefix), {1, c});
  classifier_bias_ = store.get_f32(fmt::format("{}f0_predictor.classifier.bias", prefix), {1});
}

void HiftF0Predictor::forward(const ExecContext& ctx, const Tensor& mel, Tensor& f0) const {
  CHATTERD_CHECK(!convs_.empty(), InvalidArgument, "HiftF0Predictor: no conv layers");
  // Owned ping-pong buffers: never write through a view of `mel`.
  Tensor a;
  Tensor b;
  convs_[0].forward(ctx, mel, a);
  ops::elu(ctx, a, a);
  for (std::size_t i = 1; i < convs_.size(); ++i) {
    convs_[i].forward(ctx, a, b);
    ops::elu(ctx, b, b);
    std::swap(a, b);
  }
  const std::int64_t c = a.dim(1);
  const std::int64_t t = a.dim(2);
  f0.resize({1, t}, DType::F32);
  const float* x = a.data<float>();
  const float* w = classifier_weight_.data<float>();
  const float bias = classifier_bias_.data<float>()[0];
  float* out = f0.data<float>();
  ctx.parallel_for(t, 64, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t j = t0; j < t1; ++j) {
      double acc = 0.0;
      for (std::int64_t i = 0; i < c; ++i) acc += static_cast<double>(w[i]) * x[i * t + j];
      out[j] = std::fabs(static_cast<float>(acc) + bias);
    }
  });
}

}  // namespace chatterd::hift
