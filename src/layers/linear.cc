#include "layers/linear.h"

#include <string>

namespace chatterd::layers {

Linear::Linear(const WeightStore& store, std::string_view prefix, std::int64_t in, std::int64_t out,
               bool bias, ops::WeightLayout layout)
    : has_bias_(bias), layout_(layout), in_(in), out_(out) {
  const std::string p(prefix);
  const Shape shape = layout == ops::WeightLayout::OutIn ? Shape{out, in} : Shape{in, out};
  weight_ = store.get(p + ".weight", shape);
  if (bias) bias_ = store.get_f32(p + ".bias", Shape{out});
}

void Linear::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  ops::linear(ctx, x, weight_, has_bias_ ? &bias_ : nullptr, out, layout_);
}

}  // namespace chatterd::layers
