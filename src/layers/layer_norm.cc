#include "layers/layer_norm.h"

#include <string>

#include "ops/device.h"
#include "ops/norm.h"

namespace chatterd::layers {

LayerNorm::LayerNorm(const WeightStore& store, std::string_view prefix, std::int64_t dim, float eps,
                     bool bias)
    : has_bias_(bias), eps_(eps) {
  const std::string p(prefix);
  gamma_ = store.get_f32(p + ".weight", Shape{dim});
  if (bias) beta_ = store.get_f32(p + ".bias", Shape{dim});
}

void LayerNorm::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  ops::layer_norm(ctx, x, &gamma_, has_bias_ ? &beta_ : nullptr, out, eps_);
}

void LayerNorm::to_device(const ExecContext& ctx) {
  gamma_ = ops::to_device(ctx, gamma_);
  if (has_bias_) beta_ = ops::to_device(ctx, beta_);
}

}  // namespace chatterd::layers
