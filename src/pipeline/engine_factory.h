#pragma once
// EngineConfig::model parsed once into what it names; create_engine (tts_engine.h) dispatches on
// the result.

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>

#include "models/variant.h"

namespace chatterd {

struct EspeakModel {
  std::string voice = "en";  // "espeak" alone: English
};
struct DirectoryModel {
  std::filesystem::path path;  // a Hugging Face checkout of a Chatterbox model
};
struct SyntheticModel {
  Variant variant;  // random weights of the variant's real dimensions (benchmarks)
};
using ModelSpec = std::variant<EspeakModel, DirectoryModel, SyntheticModel>;

// "espeak", "espeak:<voice>", "synthetic:<variant>", or an existing directory. Throws
// InvalidArgument naming the accepted forms otherwise (also for an empty voice or an unknown
// variant). Whether the espeak voice exists is checked when the engine is created.
ModelSpec parse_model_spec(std::string_view model);

}  // namespace chatterd
