#include "models/hift/hift_conv.h"

#include <cmath>
#include <string>

#include "core/check.h"
#include "ops/device.h"

namespace chatterd::hift {

Tensor fold_weight_norm(const Tensor& g, const Tensor& v) {
  CHATTERD_CHECK(v.rank() >= 1 && v.dtype() == DType::F32 && g.dtype() == DType::F32, ShapeError,
                 "fold_weight_norm: need f32 g and v, got g {} v {}", g.to_string(), v.to_string());
  const std::int64_t rows = v.dim(0);
  CHATTERD_CHECK(g.numel() == rows && (g.rank() == 0 || g.dim(0) == rows), ShapeError,
                 "fold_weight_norm: g {} must hold one value per dim-0 slice of v {}",
                 g.to_string(), v.to_string());
  const std::int64_t inner = rows == 0 ? 0 : v.numel() / rows;
  Tensor w = Tensor::empty(v.shape(), DType::F32);
  const float* vp = v.data<float>();
  const float* gp = g.data<float>();
  float* wp = w.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* row = vp + r * inner;
    double sq = 0.0;
    for (std::int64_t i = 0; i < inner; ++i) sq += static_cast<double>(row[i]) * row[i];
    // torch: v * (g / norm), each step in f32.
    const float norm = static_cast<float>(std::sqrt(sq));
    const float scale = gp[r] / norm;
    for (std::int64_t i = 0; i < inner; ++i) wp[r * inner + i] = row[i] * scale;
  }
  return w;
}

Tensor load_weight_norm(const WeightStore& store, std::string_view prefix, const Shape& shape) {
  const std::string p(prefix);
  std::vector<std::int64_t> g_dims(static_cast<std::size_t>(shape.rank()), 1);
  g_dims[0] = shape.dim(0);
  const Shape g_shape(g_dims);
  const std::string param_g = p + ".parametrizations.weight.original0";
  const std::string param_v = p + ".parametrizations.weight.original1";
  if (store.contains(param_g) || store.contains(param_v)) {
    return fold_weight_norm(store.get_f32(param_g, g_shape), store.get_f32(param_v, shape));
  }
  if (store.contains(p + ".weight_g") || store.contains(p + ".weight_v")) {
    return fold_weight_norm(store.get_f32(p + ".weight_g", g_shape),
                            store.get_f32(p + ".weight_v", shape));
  }
  // Already folded (remove_weight_norm was applied before saving); names the new-style key in
  // the error when nothing is there.
  if (store.contains(p + ".weight")) return store.get_f32(p + ".weight", shape).clone();
  return fold_weight_norm(store.get_f32(param_g, g_shape), store.get_f32(param_v, shape));
}

Conv1dLayer::Conv1dLayer(const WeightStore& store, std::string_view prefix, std::int64_t in,
                         std::int64_t out, std::int64_t kernel, const ops::Conv1dOptions& options,
                         bool weight_norm)
    : options_(options), out_(out) {
  const std::string p(prefix);
  weight_ = weight_norm ? load_weight_norm(store, p, {out, in, kernel})
                        : store.get_f32(p + ".weight", {out, in, kernel});
  bias_ = store.get_f32(p + ".bias", {out});
}

bool Conv1dLayer::pack_bf16(const ExecContext& ctx) {
  if (!packed_.empty()) return true;
  if (options_.groups != 1 || !ops::bf16_gemm_available(ctx)) return false;
  packed_ = ops::pack_conv1d_bf16(ctx, weight_);
  weight_ = Tensor();
  return true;
}

void Conv1dLayer::to_device(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(packed_.empty(), InvalidArgument,
                 "hift Conv1dLayer::to_device: the weight is packed for a CPU kernel");
  CHATTERD_CHECK(dtype == DType::F32 || (dtype == DType::BF16 && options_.groups == 1),
                 InvalidArgument, "hift Conv1dLayer::to_device: no {} weights with groups {}",
                 dtype_name(dtype), options_.groups);
  if (weight_.device() == Device::CUDA) return;
  weight_ = ops::gemm_weight_to_device(ctx, weight_, dtype);
  bias_ = ops::to_device(ctx, bias_);
}

void Conv1dLayer::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  if (!packed_.empty()) return ops::conv1d_bf16(ctx, x, packed_, &bias_, options_, out);
  ops::conv1d(ctx, x, weight_, &bias_, options_, out);
}

ConvTranspose1dLayer::ConvTranspose1dLayer(const WeightStore& store, std::string_view prefix,
                                           std::int64_t in, std::int64_t out, std::int64_t kernel,
                                           const ops::ConvTranspose1dOptions& options)
    : options_(options) {
  const std::string p(prefix);
  weight_ = load_weight_norm(store, p, {in, out, kernel});
  bias_ = store.get_f32(p + ".bias", {out});
}

void ConvTranspose1dLayer::to_device(const ExecContext& ctx) {
  if (weight_.device() == Device::CUDA) return;
  weight_ = ops::to_device(ctx, weight_);
  bias_ = ops::to_device(ctx, bias_);
}

void ConvTranspose1dLayer::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  ops::conv_transpose1d(ctx, x, weight_, &bias_, options_, out);
}

}  // namespace chatterd::hift
