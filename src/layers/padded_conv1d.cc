#include "layers/padded_conv1d.h"

#include <string>

#include "core/check.h"
#include "ops/conv1d.h"
#include "ops/device.h"

namespace chatterd::layers {

PaddedConv1d::PaddedConv1d(const WeightStore& store, std::string_view prefix, std::int64_t in,
                           std::int64_t out, std::int64_t kernel, std::int64_t pad_left,
                           std::int64_t pad_right, bool bias)
    : has_bias_(bias), in_(in), out_(out), pad_left_(pad_left), pad_right_(pad_right) {
  const std::string p(prefix);
  weight_ = store.get_f32(p + ".weight", {out, in, kernel});
  if (bias) bias_ = store.get_f32(p + ".bias", {out});
}

bool PaddedConv1d::pack_bf16(const ExecContext& ctx) {
  if (!packed_.empty()) return true;
  if (!ops::bf16_gemm_available(ctx)) return false;
  packed_ = ops::pack_conv1d_bf16(ctx, weight_);
  weight_ = Tensor();
  return true;
}

void PaddedConv1d::to_device(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(packed_.empty(), InvalidArgument,
                 "PaddedConv1d::to_device: the weight is packed for a CPU kernel");
  CHATTERD_CHECK(dtype == DType::BF16 || dtype == DType::F16 || dtype == DType::F32,
                 InvalidArgument, "PaddedConv1d::to_device: no {} weights on the device",
                 dtype_name(dtype));
  if (weight_.device() == Device::CUDA) return;
  weight_ = ops::gemm_weight_to_device(ctx, weight_, dtype);
  if (has_bias_) bias_ = ops::to_device(ctx, bias_);
}

void PaddedConv1d::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  ops::Conv1dOptions o;
  o.pad_left = pad_left_;
  o.pad_right = pad_right_;
  if (!packed_.empty()) {
    return ops::conv1d_bf16(ctx, x, packed_, has_bias_ ? &bias_ : nullptr, o, out);
  }
  ops::conv1d(ctx, x, weight_, has_bias_ ? &bias_ : nullptr, o, out);
}

}  // namespace chatterd::layers
