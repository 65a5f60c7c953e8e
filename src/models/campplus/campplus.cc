#include "models/campplus/campplus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "ops/activation.h"
#include "ops/layout.h"

namespace chatterd {

void campplus_segment_means(const Tensor& x, std::int64_t seg_len, Tensor& out) {
  check_dtype(x, DType::F32, "campplus_segment_means: x");
  check_rank(x, 2, "campplus_segment_means: x");
  CHATTERD_CHECK(seg_len > 0, InvalidArgument, "campplus_segment_means: seg_len {} <= 0", seg_len);
  const std::int64_t c = x.dim(0), t = x.dim(1);
  CHATTERD_CHECK(t > 0, ShapeError, "campplus_segment_means: x {} has no frames", x.to_string());
  const std::int64_t n_seg = (t + seg_len - 1) / seg_len;
  out.resize({c, n_seg}, DType::F32);
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t s = 0; s < n_seg; ++s) {
      const std::int64_t begin = s * seg_len, end = std::min(t, begin + seg_len);
      double acc = 0.0;
      for (std::int64_t i = begin; i < end; ++i) acc += xs[ch * t + i];
      o[ch * n_seg + s] = static_cast<float>(acc / static_cast<double>(end - begin));
    }
  }
}

void campplus_stats_pool(const Tensor& x, Tensor& out) {
  check_dtype(x, DType::F32, "campplus_stats_pool: x");
  check_rank(x, 2, "campplus_stats_pool: x");
  const std::int64_t c = x.dim(0), t = x.dim(1);
  CHATTERD_CHECK(t >= 2, ShapeError,
                 "campplus_stats_pool: the unbiased std needs >= 2 frames, x is {}", x.to_string());
  out.resize({2 * c}, DType::F32);
  const float* xs = x.data<float>();
  float* o = out.data<float>();
  for (std::int64_t ch = 0; ch < c; ++ch) {
    const float* row = xs + ch * t;
    double sum = 0.0;
    for (std::int64_t i = 0; i < t; ++i) sum += row[i];
    const double mean = sum / static_cast<double>(t);
    double ss = 0.0;
    for (std::int64_t i = 0; i < t; ++i) ss += (row[i] - mean) * (row[i] - mean);
    o[ch] = static_cast<float>(mean);
    o[c + ch] = static_cast<float>(std::sqrt(ss / static_cast<double>(t - 1)));
  }
}

CampPlus::CampPlus(const WeightStore& store, const CampPlusConfig& config,
                   std::string_view prefix_view)
    : config_(config) {
  const auto problems = config.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "CampPlus: invalid config {}",
                 config.to_string());
  const std::string prefix(prefix_view);
  const auto eps = static_cast<float>(config.batchnorm_eps);
  head_ = FcmHead(store, config, prefix);
  const std::string xv = prefix + "xvector.";

  std::int64_t ch = config.init_channels;
  tdnn_.weight =
      store.get_f32(xv + "tdnn.linear.weight", {ch, head_.out_channels(), config.tdnn_kernel})
          .clone();
  layers::BatchNorm(store, xv + "tdnn.nonlinear.batchnorm", ch, eps)
      .fold_into(tdnn_.weight, tdnn_.bias);
  tdnn_.options.stride = 2;
  tdnn_.options.pad_left = tdnn_.options.pad_right = (config.tdnn_kernel - 1) / 2;

  const std::int64_t bn_ch = config.bn_size * config.growth_rate;
  const std::int64_t g = config.growth_rate;
  for (std::size_t b = 0; b < config.block_num_layers.size(); ++b) {
    Block blk;
    blk.in_channels = ch;
    const std::int64_t k = config.block_kernel_sizes[b], dil = config.block_dilations[b];
    CHATTERD_CHECK(k % 2 == 1, ModelFormatError, "CampPlus: block {} kernel {} must be odd", b + 1,
                   k);
    for (std::int64_t l = 0; l < config.block_num_layers[b]; ++l) {
      const std::string d = fmt::format("{}block{}.tdnnd{}.", xv, b + 1, l + 1);
      const std::int64_t in = ch + l * g;
      DenseLayer dl;
      dl.bn1 = layers::BatchNorm(store, d + "nonlinear1.batchnorm", in, eps);
      dl.linear1.weight = store.get_f32(d + "linear1.weight", {bn_ch, in, 1}).clone();
      layers::BatchNorm(store, d + "nonlinear2.batchnorm", bn_ch, eps)
          .fold_into(dl.linear1.weight, dl.linear1.bias);
      dl.local.weight = store.get_f32(d + "cam_layer.linear_local.weight", {g, bn_ch, k});
      dl.local.options.dilation = dil;
      dl.local.options.pad_left = dl.local.options.pad_right = (k - 1) / 2 * dil;
      const std::int64_t red = bn_ch / config.cam_reduction;
      dl.ctx1.weight = store.get_f32(d + "cam_layer.linear1.weight", {red, bn_ch, 1});
      dl.ctx1.bias = store.get_f32(d + "cam_layer.linear1.bias", {red});
      dl.ctx2.weight = store.get_f32(d + "cam_layer.linear2.weight", {g, red, 1});
      dl.ctx2.bias = store.get_f32(d + "cam_layer.linear2.bias", {g});
      blk.layers.push_back(std::move(dl));
    }
    ch += config.block_num_layers[b] * g;
    const std::string t = fmt::format("{}transit{}.", xv, b + 1);
    blk.transit_bn = layers::BatchNorm(store, t + "nonlinear.batchnorm", ch, eps);
    blk.transit.weight = store.get_f32(t + "linear.weight", {ch / 2, ch, 1});
    ch /= 2;
    blocks_.push_back(std::move(blk));
  }
  out_bn_ = layers::BatchNorm(store, xv + "out_nonlinear.batchnorm", ch, eps);
  dense_.weight =
      store.get_f32(xv + "dense.linear.weight", {config.embedding_size, 2 * ch, 1}).clone();
  layers::BatchNorm(store, xv + "dense.nonlinear.batchnorm", config.embedding_size, eps,
                    /*affine=*/false)
      .fold_into(dense_.weight, dense_.bias);
}

void CampPlus::conv(const ExecContext& ctx, const Conv& c, const Tensor& x, Tensor& out) const {
  ops::conv1d(ctx, x, c.weight, c.bias.defined() && c.bias.numel() > 0 ? &c.bias : nullptr,
              c.options, out);
}

// x: (1, in, T) -> out: (1, growth, T).
void CampPlus::dense_layer(const ExecContext& ctx, const DenseLayer& l, const Tensor& x,
                           Tensor& out, Tensor& scratch_a, Tensor& scratch_b) const {
  l.bn1.forward(ctx, x, scratch_a, /*relu=*/true);
  conv(ctx, l.linear1, scratch_a, scratch_b);  // (1, bn_ch, T)
  ops::relu(ctx, scratch_b, scratch_b);
  conv(ctx, l.local, scratch_b, out);  // (1, growth, T)

  // Context: mean over T + the segment mean of each frame's segment. It is constant within a
  // segment, so the two 1x1 convs run once per segment instead of once per frame.
  const Tensor h = scratch_b.reshape({scratch_b.dim(1), scratch_b.dim(2)});
  const std::int64_t bn_ch = h.dim(0), t = h.dim(1);
  Tensor seg;
  campplus_segment_means(h, kCamSegmentLength, seg);
  const std::int64_t n_seg = seg.dim(1);
  float* sp = seg.data<float>();
  const float* hp = h.data<float>();
  for (std::int64_t c = 0; c < bn_ch; ++c) {
    double acc = 0.0;
    for (std::int64_t i = 0; i < t; ++i) acc += hp[c * t + i];
    const auto mean = static_cast<float>(acc / static_cast<double>(t));
    for (std::int64_t s = 0; s < n_seg; ++s) sp[c * n_seg + s] += mean;
  }
  Tensor c1;
  conv(ctx, l.ctx1, seg.reshape({1, bn_ch, n_seg}), c1);
  ops::relu(ctx, c1, c1);
  Tensor m;
  conv(ctx, l.ctx2, c1, m);  // (1, growth, n_seg)
  ops::sigmoid(ctx, m, m);
  const float* mp = m.data<float>();
  float* op = out.data<float>();
  const std::int64_t g = out.dim(1);
  for (std::int64_t c = 0; c < g; ++c) {
    for (std::int64_t i = 0; i < t; ++i) op[c * t + i] *= mp[c * n_seg + i / kCamSegmentLength];
  }
}

Tensor CampPlus::embed(const ExecContext& ctx, const Tensor& fbank_in) const {
  check_dtype(fbank_in, DType::F32, "CampPlus: fbank");
  Tensor fbank = fbank_in;
  if (fbank.rank() == 3 && fbank.dim(0) == 1) fbank = fbank.reshape({fbank.dim(1), fbank.dim(2)});
  CHATTERD_CHECK(fbank.rank() == 2 && fbank.dim(1) == config_.feat_dim, ShapeError,
                 "CampPlus: fbank must be (T, {}) (frames x bins), got {}", config_.feat_dim,
                 fbank_in.to_string());
  const std::int64_t t_in = fbank.dim(0);
  const std::int64_t pad = tdnn_.options.pad_left;
  const std::int64_t t_out =
      t_in + 2 * pad >= config_.tdnn_kernel ? (t_in + 2 * pad - config_.tdnn_kernel) / 2 + 1 : 0;
  CHATTERD_CHECK(
      t_out >= 2, InvalidArgument,
      "CampPlus: {} fbank frames give {} frames after the TDNN; stats pooling needs >= 2", t_in,
      t_out);

  Tensor feats;  // (feat_dim, T)
  ops::transpose(ctx, fbank, 0, 1, feats);
  const Tensor head = head_.forward(ctx, feats);
  Tensor x;
  conv(ctx, tdnn_, head.reshape({1, head.dim(0), head.dim(1)}), x);
  ops::relu(ctx, x, x);
  const std::int64_t t = x.dim(2);

  Tensor a, b, y;
  for (const Block& blk : blocks_) {
    // Dense connectivity: every layer appends `growth` rows to one (channels, T) buffer.
    const std::int64_t total =
        blk.in_channels + static_cast<std::int64_t>(blk.layers.size()) * config_.growth_rate;
    Tensor buf = Tensor::empty({total, t}, DType::F32);
    std::memcpy(buf.data<float>(), x.data<float>(), static_cast<std::size_t>(x.numel()) * 4);
    std::int64_t ch = blk.in_channels;
    for (const DenseLayer& l : blk.layers) {
      const Tensor in = buf.narrow0(0, ch).reshape({1, ch, t});
      Tensor dst = buf.narrow0(ch, config_.growth_rate).reshape({1, config_.growth_rate, t});
      dense_layer(ctx, l, in, dst, a, b);
      ch += config_.growth_rate;
    }
    blk.transit_bn.forward(ctx, buf, a, /*relu=*/true);
    Tensor next;
    conv(ctx, blk.transit, a.reshape({1, total, t}), next);
    x = next;
  }
  out_bn_.forward(ctx, x, y, /*relu=*/true);
  Tensor stats;
  campplus_stats_pool(y.reshape({y.dim(1), t}), stats);
  Tensor emb;
  conv(ctx, dense_, stats.reshape({1, stats.dim(0), 1}), emb);
  return emb.reshape({1, config_.embedding_size});
}

}  // namespace chatterd
