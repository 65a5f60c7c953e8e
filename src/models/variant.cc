#include "models/variant.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <system_error>

#include "core/check.h"

namespace chatterd {

std::string_view variant_name(Variant variant) {
  switch (variant) {
    case Variant::Turbo:
      return "turbo";
    case Variant::Nano:
      return "nano";
    case Variant::English:
      return "english";
    case Variant::MultilingualV2:
      return "multilingual-v2";
    case Variant::MultilingualV3:
      return "multilingual-v3";
  }
  return "?";
}

Variant parse_variant(std::string_view name) {
  for (Variant v : kAllVariants) {
    if (name == variant_name(v)) return v;
  }
  if (name == "mtl" || name == "multilingual" || name == "mtl-v2") return Variant::MultilingualV2;
  if (name == "mtl-v3") return Variant::MultilingualV3;
  if (name == "original" || name == "en") return Variant::English;
  CHATTERD_THROW(InvalidArgument,
                 "unknown model variant '{}' (expected turbo, nano, english, multilingual-v2 or "
                 "multilingual-v3)",
                 name);
}

bool is_turbo_family(Variant variant) {
  return variant == Variant::Turbo || variant == Variant::Nano;
}

bool is_multilingual(Variant variant) {
  return variant == Variant::MultilingualV2 || variant == Variant::MultilingualV3;
}

std::string_view t3_file_name(Variant variant) {
  switch (variant) {
    case Variant::Turbo:
      return "t3_turbo_v1.safetensors";
    case Variant::Nano:
      return "t3_nano_v1.safetensors";
    case Variant::English:
      return "t3_cfg.safetensors";
    case Variant::MultilingualV2:
      return "t3_mtl23ls_v2.safetensors";
    case Variant::MultilingualV3:
      return "t3_mtl23ls_v3.safetensors";
  }
  return "?";
}

std::vector<Variant> variants_present(const std::filesystem::path& dir) {
  std::error_code ec;
  const bool is_dir = std::filesystem::is_directory(dir, ec);
  CHATTERD_CHECK(!ec && is_dir, IoError, "{}: not a readable model directory{}", dir.string(),
                 ec ? fmt::format(" ({})", ec.message()) : std::string());
  std::vector<Variant> found;
  for (Variant v : kAllVariants) {
    if (std::filesystem::is_regular_file(dir / t3_file_name(v), ec)) found.push_back(v);
  }
  return found;
}

Variant detect_variant(const std::filesystem::path& dir, Variant multilingual_preference) {
  CHATTERD_CHECK(is_multilingual(multilingual_preference), InvalidArgument,
                 "detect_variant: multilingual_preference must be multilingual-v2 or -v3, got {}",
                 variant_name(multilingual_preference));
  std::vector<Variant> found = variants_present(dir);
  if (found.empty()) {
    std::vector<std::string_view> names;
    for (Variant v : kAllVariants) names.push_back(t3_file_name(v));
    CHATTERD_THROW(ModelFormatError, "{}: no T3 checkpoint found (looked for {})", dir.string(),
                   fmt::join(names, ", "));
  }
  // Both multilingual revisions: keep the preferred one.
  bool v2 = false;
  bool v3 = false;
  for (Variant v : found) {
    v2 = v2 || v == Variant::MultilingualV2;
    v3 = v3 || v == Variant::MultilingualV3;
  }
  if (v2 && v3) {
    const Variant drop = multilingual_preference == Variant::MultilingualV2
                             ? Variant::MultilingualV3
                             : Variant::MultilingualV2;
    std::erase(found, drop);
  }
  if (found.size() > 1) {
    std::vector<std::string_view> names;
    for (Variant v : found) names.push_back(t3_file_name(v));
    CHATTERD_THROW(ModelFormatError,
                   "{}: ambiguous model directory, T3 checkpoints of several variants ({}); "
                   "name the variant explicitly",
                   dir.string(), fmt::join(names, ", "));
  }
  return found.front();
}

}  // namespace chatterd
