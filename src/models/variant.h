#pragma once
// The Chatterbox model variants and how a model directory tells which one it holds: by the T3
// checkpoint file name, the only file that differs between every variant.

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace chatterd {

enum class Variant { Turbo, Nano, English, MultilingualV2, MultilingualV3 };

inline constexpr Variant kAllVariants[] = {Variant::Turbo, Variant::Nano, Variant::English,
                                           Variant::MultilingualV2, Variant::MultilingualV3};

// "turbo", "nano", "english", "multilingual-v2", "multilingual-v3".
std::string_view variant_name(Variant variant);
// Accepts variant_name() spellings plus "mtl"/"multilingual" (= v2), "mtl-v3", "original", "en".
// Throws InvalidArgument listing the accepted names.
Variant parse_variant(std::string_view name);

// Turbo and Nano share the GPT-2 T3, the meanflow S3Gen and the GPT-2 BPE tokenizer.
bool is_turbo_family(Variant variant);
bool is_multilingual(Variant variant);

// The T3 checkpoint file name that identifies the variant ("t3_turbo_v1.safetensors", ...).
std::string_view t3_file_name(Variant variant);

// Every variant whose T3 file exists in `dir`, in kAllVariants order. Throws IoError when `dir` is
// not a readable directory.
std::vector<Variant> variants_present(const std::filesystem::path& dir);

// The variant held by `dir`. Both multilingual revisions present is not ambiguous: the one named
// by `multilingual_preference` (MultilingualV2 or MultilingualV3) wins, as in the reference.
// Throws IoError when `dir` is not a readable directory, ModelFormatError when it holds no T3
// checkpoint or T3 checkpoints of more than one variant family (the message names the files).
Variant detect_variant(const std::filesystem::path& dir,
                       Variant multilingual_preference = Variant::MultilingualV2);

}  // namespace chatterd
