#pragma once
// CAMPPlus x-vector speaker encoder (S3Gen's prompt `embedding`), stored in the s3gen checkpoint
// under `speaker_encoder.`. Defaults = the real model (tests/fixtures/manifests/campplus.json).

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/tensor_spec.h"

namespace chatterd {

struct CampPlusConfig {
  std::int64_t feat_dim = 80;         // Kaldi fbank bins
  std::int64_t embedding_size = 192;  // x-vector width
  std::int64_t growth_rate = 32;      // channels each dense layer adds
  std::int64_t bn_size = 4;           // bottleneck = bn_size x growth_rate
  std::int64_t init_channels = 128;   // TDNN output channels
  std::int64_t m_channels = 32;       // FCM 2-D conv channels
  std::int64_t fcm_num_blocks = 2;    // residual blocks in each FCM layer (num_blocks[0])
  std::int64_t tdnn_kernel = 5;       // first TDNN kernel
  std::vector<std::int64_t> block_num_layers = {12, 24, 16};  // dense layers per CAM block
  std::vector<std::int64_t> block_kernel_sizes = {3, 3, 3};   // CAM local conv kernel per block
  std::vector<std::int64_t> block_dilations = {1, 2, 2};      // CAM local conv dilation per block
  std::int64_t cam_reduction = 2;                             // CAM context bottleneck reduction
  double batchnorm_eps = 1e-5;                                // BatchNorm epsilon

  static CampPlusConfig from_json(const nlohmann::json& j, const CampPlusConfig& base);
  std::vector<std::string> validate() const;
  std::string to_string() const;
};

// speaker_encoder.* tensors in state_dict order (BatchNorm num_batches_tracked: I64, unused).
std::vector<TensorSpec> campplus_tensor_specs(const CampPlusConfig& config);

}  // namespace chatterd
