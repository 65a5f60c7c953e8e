#pragma once
// A tiny HiFT (real structure, few channels) on seeded synthetic weights, for unit tests.

#include <memory>

#include "models/hift/hift.h"
#include "models/s3gen/s3gen_config.h"
#include "models/synthetic_weights.h"

namespace chatterd::test {

inline S3GenConfig tiny_hift_s3gen_config() {
  S3GenConfig c = S3GenConfig::defaults(Variant::Turbo);
  c.hift.base_channels = 16;
  c.hift.nb_harmonics = 2;
  c.hift.f0_cond_channels = 8;
  return c;
}

struct TinyHift {
  std::shared_ptr<WeightStore> store;
  std::unique_ptr<hift::Hift> model;
};

inline TinyHift make_tiny_hift(std::uint64_t seed = 7) {
  const S3GenConfig c = tiny_hift_s3gen_config();
  TinyHift t;
  t.store = make_synthetic_weights(hift_tensor_specs(c), seed, "synthetic:tiny-hift");
  t.model = std::make_unique<hift::Hift>(*t.store, c.hift);
  return t;
}

inline Tensor test_mel(std::int64_t frames, std::uint64_t seed = 3) {
  Tensor mel = Tensor::empty({1, 80, frames}, DType::F32);
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  for (std::int64_t i = 0; i < mel.numel(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    mel.data<float>()[i] = -6.0f + 5.0f * static_cast<float>(s >> 40) / 16777216.0f;
  }
  return mel;
}

}  // namespace chatterd::test
