#include "models/hift/hift_decoder_stack.h"

#include <fmt/format.h>

#include <utility>

#include "core/check.h"
#include "models/hift/hift.h"
#include "ops/activation.h"
#include "ops/conv1d.h"
#include "ops/device.h"
#include "ops/elementwise.h"
#include "ops/layout.h"

namespace chatterd::hift {

HiftDecoderStack::HiftDecoderStack(const WeightStore& store, const HiftConfig& c,
                                   const std::string& prefix) {
  const std::size_t stages = c.upsample_rates.size();
  const std::int64_t n_spec = c.istft_n_fft + 2;
  const std::int64_t pp = (c.conv_pre_kernel - 1) / 2;
  conv_pre_ = Conv1dLayer(store, prefix + "conv_pre", c.in_channels, c.base_channels,
                          c.conv_pre_kernel, {1, 1, 1, pp, pp}, /*weight_norm=*/true);
  for (std::size_t i = 0; i < stages; ++i) {
    const std::int64_t in = c.base_channels >> i;
    const std::int64_t out = c.base_channels >> (i + 1);
    const std::int64_t u = c.upsample_rates[i];
    const std::int64_t k = c.upsample_kernel_sizes[i];
    ups_.emplace_back(store, fmt::format("{}ups.{}", prefix, i), in, out, k,
                      ops::ConvTranspose1dOptions{u, (k - u) / 2, 0, 1, 1});
    // source_downs[i] brings the source STFT frames to this stage's rate: the product of the
    // later stages' rates (k 2u, stride u, pad u/2; a 1x1 conv when u = 1). No weight norm.
    std::int64_t down = 1;
    for (std::size_t j = i + 1; j < stages; ++j) down *= c.upsample_rates[j];
    const std::string sd = fmt::format("{}source_downs.{}", prefix, i);
    if (down == 1) {
      source_downs_.emplace_back(store, sd, n_spec, out, 1, ops::Conv1dOptions{},
                                 /*weight_norm=*/false);
    } else {
      source_downs_.emplace_back(store, sd, n_spec, out, 2 * down,
                                 ops::Conv1dOptions{down, 1, 1, down / 2, down / 2},
                                 /*weight_norm=*/false);
    }
    source_resblocks_.emplace_back(store, fmt::format("{}source_resblocks.{}", prefix, i), out,
                                   c.source_resblock_kernel_sizes[i],
                                   c.source_resblock_dilation_sizes[i]);
    for (std::size_t j = 0; j < c.resblock_kernel_sizes.size(); ++j) {
      resblocks_.emplace_back(
          store, fmt::format("{}resblocks.{}", prefix, i * c.resblock_kernel_sizes.size() + j), out,
          c.resblock_kernel_sizes[j], c.resblock_dilation_sizes[j]);
    }
  }
  const std::int64_t qp = (c.conv_post_kernel - 1) / 2;
  conv_post_ = Conv1dLayer(store, prefix + "conv_post", c.base_channels >> stages, n_spec,
                           c.conv_post_kernel, {1, 1, 1, qp, qp}, /*weight_norm=*/true);
  resblock_count_ = Tensor::empty({1}, DType::F32);
  resblock_count_.data<float>()[0] = static_cast<float>(c.resblock_kernel_sizes.size());
}

void HiftDecoderStack::forward(const ExecContext& ctx, const HiftConfig& config, const Tensor& mel,
                               const Tensor& s_stft, Tensor& out, HiftTrace* trace) const {
  CHATTERD_CHECK(trace == nullptr || mel.device() == Device::CPU, InvalidArgument,
                 "HiFT: traces read host tensors; this stack runs on the device");
  auto put = [&](const char* name, const Tensor& t) {
    if (trace != nullptr) trace->put(name, t);
  };
  Tensor x;
  Tensor& y = out;
  Tensor si;
  Tensor sr;
  Tensor acc;
  conv_pre_.forward(ctx, mel, x);
  put("hift.conv_pre.out", x);
  const std::size_t stages = ups_.size();
  const std::size_t nk = config.resblock_kernel_sizes.size();
  for (std::size_t i = 0; i < stages; ++i) {
    ops::leaky_relu(ctx, x, x, static_cast<float>(config.lrelu_slope));
    put(fmt::format("hift.ups.{}.in", i).c_str(), x);
    ups_[i].forward(ctx, x, y);
    put(fmt::format("hift.ups.{}.out", i).c_str(), y);
    if (i + 1 == stages) {
      ops::pad1d(ctx, y, 1, 0, ops::PadMode::Reflect, x);  // ReflectionPad1d((1, 0)): left side
      std::swap(x, y);
    }
    source_downs_[i].forward(ctx, s_stft, si);
    put(fmt::format("hift.source_downs.{}.out", i).c_str(), si);
    source_resblocks_[i].forward(ctx, si, sr);
    put(fmt::format("hift.source_resblocks.{}.out", i).c_str(), sr);
    ops::add(ctx, y, sr, y);
    put(fmt::format("hift.stage{}.fused_x", i).c_str(), y);
    // xs = rb0(x); xs += rb_j(x); x = xs / K: the reference's order.
    resblocks_[i * nk].forward(ctx, y, x);
    for (std::size_t j = 1; j < nk; ++j) {
      resblocks_[i * nk + j].forward(ctx, y, acc);
      ops::add(ctx, x, acc, x);
    }
    ops::div(ctx, x, resblock_count_, x);
    put(fmt::format("hift.stage{}.out", i).c_str(), x);
  }
  ops::leaky_relu(ctx, x, x, 0.01f);  // F.leaky_relu default slope, not lrelu_slope
  put("hift.conv_post.in", x);
  conv_post_.forward(ctx, x, out);
  put("hift.conv_post.out", out);
}

void HiftDecoderStack::pack_bf16(const ExecContext& ctx) {
  conv_pre_.pack_bf16(ctx);
  conv_post_.pack_bf16(ctx);
  for (auto& c : source_downs_) c.pack_bf16(ctx);
  for (auto& r : source_resblocks_) r.pack_bf16(ctx);
  for (auto& r : resblocks_) r.pack_bf16(ctx);
}

void HiftDecoderStack::to_device(const ExecContext& ctx, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::BF16, InvalidArgument,
                 "HiftDecoderStack::to_device: matrices must be f32 or bf16, got {}",
                 dtype_name(dtype));
  conv_pre_.to_device(ctx, dtype);
  conv_post_.to_device(ctx, dtype);
  for (auto& u : ups_) u.to_device(ctx);
  for (auto& c : source_downs_) c.to_device(ctx, dtype);
  for (auto& r : source_resblocks_) r.to_device(ctx, dtype);
  for (auto& r : resblocks_) r.to_device(ctx, dtype);
  resblock_count_ = ops::to_device(ctx, resblock_count_);
}

}  // namespace chatterd::hift
