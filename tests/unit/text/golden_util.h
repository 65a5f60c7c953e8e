#pragma once
// Loads tests/fixtures/golden/tokenizer.json for the text tests.

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace chatterd::text::testing {

inline const nlohmann::json& tokenizer_golden() {
  static const nlohmann::json golden = [] {
    std::ifstream in(std::string(CHATTERD_FIXTURES_DIR) + "/golden/tokenizer.json");
    return nlohmann::json::parse(in);
  }();
  return golden;
}

inline std::string turbo_tokenizer_dir() {
  return std::string(CHATTERD_FIXTURES_DIR) + "/tokenizers/turbo";
}

}  // namespace chatterd::text::testing
