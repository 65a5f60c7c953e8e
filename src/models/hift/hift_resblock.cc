#include "models/hift/hift_resblock.h"

#include <fmt/format.h>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd::hift {

HiftResBlock::HiftResBlock(const WeightStore& store, std::string_view prefix, std::int64_t channels,
                           std::int64_t kernel, const std::vector<std::int64_t>& dilations) {
  CHATTERD_CHECK(kernel % 2 == 1, InvalidArgument,
                 "HiftResBlock {}: kernel {} must be odd for same-length convs", prefix, kernel);
  for (std::size_t j = 0; j < dilations.size(); ++j) {
    const std::int64_t d = dilations[j];
    const std::int64_t pad1 = (kernel * d - d) / 2;
    const std::int64_t pad2 = (kernel - 1) / 2;
    Unit u;
    u.alpha1 = store.get_f32(fmt::format("{}.activations1.{}.alpha", prefix, j), {channels});
    u.conv1 = Conv1dLayer(store, fmt::format("{}.convs1.{}", prefix, j), channels, channels, kernel,
                          {1, d, 1, pad1, pad1}, /*weight_norm=*/true);
    u.alpha2 = store.get_f32(fmt::format("{}.activations2.{}.alpha", prefix, j), {channels});
    u.conv2 = Conv1dLayer(store, fmt::format("{}.convs2.{}", prefix, j), channels, channels, kernel,
                          {1, 1, 1, pad2, pad2}, /*weight_norm=*/true);
    units_.push_back(std::move(u));
  }
}

void HiftResBlock::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  CHATTERD_CHECK(&x != &out, InvalidArgument, "HiftResBlock: out must not alias x");
  ops::copy(ctx, x, out);
  Tensor a;
  Tensor b;
  for (const Unit& u : units_) {
    ops::snake(ctx, out, u.alpha1, a);
    u.conv1.forward(ctx, a, b);
    ops::snake(ctx, b, u.alpha2, a);
    u.conv2.forward(ctx, a, b);
    ops::add(ctx, b, out, out);  // xt + x, the reference's order
  }
}

void HiftResBlock::to_device(const ExecContext& ctx, DType dtype) {
  for (auto& u : units_) {
    if (u.alpha1.device() != Device::CUDA) u.alpha1 = ops::to_device(ctx, u.alpha1);
    if (u.alpha2.device() != Device::CUDA) u.alpha2 = ops::to_device(ctx, u.alpha2);
    u.conv1.to_device(ctx, dtype);
    u.conv2.to_device(ctx, dtype);
  }
}

void HiftResBlock::pack_bf16(const ExecContext& ctx) {
  for (auto& u : units_) {
    u.conv1.pack_bf16(ctx);
    u.conv2.pack_bf16(ctx);
  }
}

}  // namespace chatterd::hift
