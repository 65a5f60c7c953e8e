#include "models/campplus/campplus_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "models/json_fields.h"

namespace chatterd {

CampPlusConfig CampPlusConfig::from_json(const nlohmann::json& j, const CampPlusConfig& base) {
  CampPlusConfig c = base;
  const json_fields::Reader r(j, "campplus");
  if (const auto* k = r.object("constructor")) {
    const auto kr = r.child(*k, "constructor");
    kr.read("feat_dim", c.feat_dim);
    kr.read("embedding_size", c.embedding_size);
    kr.read("growth_rate", c.growth_rate);
    kr.read("bn_size", c.bn_size);
    kr.read("init_channels", c.init_channels);
  }
  if (const auto* f = r.object("fcm")) {
    const auto fr = r.child(*f, "fcm");
    fr.read("m_channels", c.m_channels);
    std::vector<std::int64_t> blocks = {c.fcm_num_blocks};
    fr.read("num_blocks", blocks);
    if (blocks.empty()) fr.fail("num_blocks", "empty");
    c.fcm_num_blocks = blocks[0];  // the reference uses num_blocks[0] for both layers
  }
  if (const auto* t = r.object("tdnn")) r.child(*t, "tdnn").read("kernel", c.tdnn_kernel);
  if (const auto* d = r.object("dense_blocks")) {
    const auto dr = r.child(*d, "dense_blocks");
    dr.read("num_layers", c.block_num_layers);
    dr.read("kernel_size", c.block_kernel_sizes);
    dr.read("dilation", c.block_dilations);
    dr.read("cam_reduction", c.cam_reduction);
  }
  r.read("batchnorm_eps", c.batchnorm_eps);
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), ModelFormatError, "invalid CAMPPlus config: {}",
                 json_fields::join_problems(problems));
  return c;
}

std::vector<std::string> CampPlusConfig::validate() const {
  std::vector<std::string> p;
  auto positive = [&](std::int64_t v, const char* name) {
    if (v <= 0) p.push_back(fmt::format("{} must be > 0, got {}", name, v));
  };
  positive(feat_dim, "feat_dim");
  positive(embedding_size, "embedding_size");
  positive(growth_rate, "growth_rate");
  positive(bn_size, "bn_size");
  positive(init_channels, "init_channels");
  positive(m_channels, "m_channels");
  positive(fcm_num_blocks, "fcm_num_blocks");
  positive(tdnn_kernel, "tdnn_kernel");
  positive(cam_reduction, "cam_reduction");
  if (feat_dim % 8 != 0) p.push_back(fmt::format("feat_dim {} must be a multiple of 8", feat_dim));
  if (block_num_layers.empty() || block_kernel_sizes.size() != block_num_layers.size() ||
      block_dilations.size() != block_num_layers.size()) {
    p.push_back(
        "dense_blocks num_layers, kernel_size and dilation must be non-empty and the same "
        "length");
  }
  for (std::int64_t n : block_num_layers) {
    if (n <= 0) p.push_back(fmt::format("dense block layer counts must be > 0, got {}", n));
  }
  if (bn_size * growth_rate % cam_reduction != 0 && cam_reduction > 0) {
    p.push_back(fmt::format("cam_reduction {} must divide bn_size x growth_rate {}", cam_reduction,
                            bn_size * growth_rate));
  }
  if (!(batchnorm_eps > 0)) p.push_back("batchnorm_eps must be > 0");
  return p;
}

std::string CampPlusConfig::to_string() const {
  return fmt::format(
      "CampPlusConfig{{feat_dim={}, embedding={}, growth={}, bn_size={}, init_channels={}, "
      "fcm=({} ch, {} blocks), tdnn_kernel={}, blocks=[{}], kernels=[{}], dilations=[{}], "
      "cam_reduction={}}}",
      feat_dim, embedding_size, growth_rate, bn_size, init_channels, m_channels, fcm_num_blocks,
      tdnn_kernel, fmt::join(block_num_layers, ", "), fmt::join(block_kernel_sizes, ", "),
      fmt::join(block_dilations, ", "), cam_reduction);
}

namespace {

void batch_norm(TensorSpecList& s, const std::string& name, std::int64_t ch, bool affine = true) {
  if (affine) {
    s.add(name + ".weight", {ch});
    s.add(name + ".bias", {ch});
  }
  s.add(name + ".running_mean", {ch});
  s.add(name + ".running_var", {ch});
  s.add(name + ".num_batches_tracked", {});
  s.integer().unused();
}

void conv2d(TensorSpecList& s, const std::string& name, std::int64_t out, std::int64_t in,
            std::int64_t k) {
  s.add(name + ".weight", {out, in, k, k});
}

}  // namespace

std::vector<TensorSpec> campplus_tensor_specs(const CampPlusConfig& c) {
  const auto problems = c.validate();
  CHATTERD_CHECK(problems.empty(), InvalidArgument, "campplus_tensor_specs: invalid config: {}",
                 json_fields::join_problems(problems));
  TensorSpecList s("speaker_encoder.");
  const std::int64_t m = c.m_channels;
  // FCM head: conv + two residual layers (first block of each strided, with a shortcut).
  conv2d(s, "head.conv1", m, 1, 3);
  batch_norm(s, "head.bn1", m);
  for (const char* layer : {"layer1", "layer2"}) {
    for (std::int64_t b = 0; b < c.fcm_num_blocks; ++b) {
      const std::string blk = fmt::format("head.{}.{}", layer, b);
      conv2d(s, blk + ".conv1", m, m, 3);
      batch_norm(s, blk + ".bn1", m);
      conv2d(s, blk + ".conv2", m, m, 3);
      batch_norm(s, blk + ".bn2", m);
      if (b == 0) {
        conv2d(s, blk + ".shortcut.0", m, m, 1);
        batch_norm(s, blk + ".shortcut.1", m);
      }
    }
  }
  conv2d(s, "head.conv2", m, m, 3);
  batch_norm(s, "head.bn2", m);
  // TDNN and the densely connected CAM blocks.
  const std::int64_t head_out = m * (c.feat_dim / 8);
  std::int64_t ch = c.init_channels;
  s.conv1d("xvector.tdnn.linear", ch, head_out, c.tdnn_kernel, /*bias=*/false);
  batch_norm(s, "xvector.tdnn.nonlinear.batchnorm", ch);
  const std::int64_t bn_ch = c.bn_size * c.growth_rate;
  for (std::size_t i = 0; i < c.block_num_layers.size(); ++i) {
    for (std::int64_t l = 0; l < c.block_num_layers[i]; ++l) {
      const std::string d = fmt::format("xvector.block{}.tdnnd{}", i + 1, l + 1);
      const std::int64_t in = ch + l * c.growth_rate;
      batch_norm(s, d + ".nonlinear1.batchnorm", in);
      s.conv1d(d + ".linear1", bn_ch, in, 1, false);
      batch_norm(s, d + ".nonlinear2.batchnorm", bn_ch);
      s.conv1d(d + ".cam_layer.linear_local", c.growth_rate, bn_ch, c.block_kernel_sizes[i], false);
      s.conv1d(d + ".cam_layer.linear1", bn_ch / c.cam_reduction, bn_ch, 1);
      s.conv1d(d + ".cam_layer.linear2", c.growth_rate, bn_ch / c.cam_reduction, 1);
    }
    ch += c.block_num_layers[i] * c.growth_rate;
    const std::string t = fmt::format("xvector.transit{}", i + 1);
    batch_norm(s, t + ".nonlinear.batchnorm", ch);
    s.conv1d(t + ".linear", ch / 2, ch, 1, false);
    ch /= 2;
  }
  batch_norm(s, "xvector.out_nonlinear.batchnorm", ch);
  s.conv1d("xvector.dense.linear", c.embedding_size, 2 * ch, 1, false);
  batch_norm(s, "xvector.dense.nonlinear.batchnorm", c.embedding_size, /*affine=*/false);
  return s.take();
}

}  // namespace chatterd
