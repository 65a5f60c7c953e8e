#include "models/campplus/fcm_head.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "layers/batch_norm.h"
#include "ops/activation.h"
#include "ops/elementwise.h"

namespace chatterd {

FoldedConv2d::FoldedConv2d(const WeightStore& store, const std::string& conv, const std::string& bn,
                           std::int64_t out, std::int64_t in, std::int64_t k, std::int64_t stride_h,
                           float eps) {
  weight = store.get_f32(conv + ".weight", {out, in, k, k}).clone();
  layers::BatchNorm(store, bn, out, eps).fold_into(weight, bias);
  options.stride_h = stride_h;
  options.stride_w = 1;
  options.pad_h = k / 2;
  options.pad_w = k / 2;
}

void FoldedConv2d::forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const {
  ops::conv2d(ctx, x, weight, &bias, options, out);
}

FcmHead::FcmHead(const WeightStore& store, const CampPlusConfig& c, const std::string& prefix)
    : feat_dim_(c.feat_dim) {
  const auto eps = static_cast<float>(c.batchnorm_eps);
  const std::int64_t m = c.m_channels;
  const std::string h = prefix + "head.";
  conv1_ = FoldedConv2d(store, h + "conv1", h + "bn1", m, 1, 3, 1, eps);
  for (const char* layer : {"layer1", "layer2"}) {
    for (std::int64_t b = 0; b < c.fcm_num_blocks; ++b) {
      const std::string p = fmt::format("{}{}.{}.", h, layer, b);
      const std::int64_t stride = b == 0 ? 2 : 1;
      ResBlock blk;
      blk.conv1 = FoldedConv2d(store, p + "conv1", p + "bn1", m, m, 3, stride, eps);
      blk.conv2 = FoldedConv2d(store, p + "conv2", p + "bn2", m, m, 3, 1, eps);
      // in_planes == planes everywhere, so only the strided first block has a shortcut conv.
      blk.has_shortcut = stride != 1;
      if (blk.has_shortcut) {
        blk.shortcut = FoldedConv2d(store, p + "shortcut.0", p + "shortcut.1", m, m, 1, 2, eps);
      }
      blocks_.push_back(std::move(blk));
    }
  }
  conv2_ = FoldedConv2d(store, h + "conv2", h + "bn2", m, m, 3, 2, eps);
  std::int64_t rows = c.feat_dim;
  for (int i = 0; i < 3; ++i) rows = (rows - 1) / 2 + 1;  // three (2, 1) strides, k3 p1
  out_channels_ = m * rows;
}

Tensor FcmHead::forward(const ExecContext& ctx, const Tensor& feats) const {
  CHATTERD_CHECK(feats.rank() == 2 && feats.dim(0) == feat_dim_, ShapeError,
                 "FcmHead: features must be ({}, T), got {}", feat_dim_, feats.to_string());
  const Tensor img = feats.reshape({1, 1, feats.dim(0), feats.dim(1)});
  Tensor x;
  conv1_.forward(ctx, img, x);
  ops::relu(ctx, x, x);
  Tensor y;
  Tensor sc;
  for (const ResBlock& blk : blocks_) {
    blk.conv1.forward(ctx, x, y);
    ops::relu(ctx, y, y);
    Tensor z;
    blk.conv2.forward(ctx, y, z);
    if (blk.has_shortcut) {
      blk.shortcut.forward(ctx, x, sc);
      ops::add(ctx, z, sc, z);
    } else {
      ops::add(ctx, z, x, z);
    }
    ops::relu(ctx, z, z);
    x = z;
  }
  conv2_.forward(ctx, x, y);
  ops::relu(ctx, y, y);
  // (1, m, H, T) -> (m * H, T): channel-major, as the reference's reshape.
  return y.reshape({y.dim(1) * y.dim(2), y.dim(3)});
}

}  // namespace chatterd
