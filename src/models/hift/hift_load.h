#pragma once
// Builds the HiFT vocoder of a model directory: variant detection, hparams.json overrides and the
// s3gen checkpoint's mel2wav.* tensors.

#include <filesystem>
#include <memory>

#include "models/hift/hift.h"

namespace chatterd::hift {

// Throws IoError / ModelFormatError (naming the file) when the directory or checkpoint is unusable.
std::unique_ptr<Hift> load_hift(const std::filesystem::path& model_dir);

}  // namespace chatterd::hift
