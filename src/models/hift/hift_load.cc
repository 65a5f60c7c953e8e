#include "models/hift/hift_load.h"

#include "core/check.h"
#include "models/model_dir.h"
#include "models/model_hparams.h"

namespace chatterd::hift {

std::unique_ptr<Hift> load_hift(const std::filesystem::path& model_dir) {
  const ModelDir dir = ModelDir::open(model_dir);
  const auto path = dir.find(ModelComponent::S3Gen);
  CHATTERD_CHECK(path.has_value(), ModelFormatError, "{}: no s3gen checkpoint (expected {})",
                 model_dir.string(), variant_name(dir.variant()));
  const ModelHparams hp = load_hparams(model_dir, dir.variant());
  const auto store = WeightStore::open(*path);
  return std::make_unique<Hift>(*store, hp.s3gen.hift);
}

}  // namespace chatterd::hift
