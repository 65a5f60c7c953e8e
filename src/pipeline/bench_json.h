#pragma once
// Strict reading of result files (bench and loadtest): every field required, typed, named by its
// JSON path and the file in errors ("a.json: results[2].latency_ms.p50: missing").

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/bench_stats.h"

namespace chatterd::bench {

class JsonObject {
 public:
  // Throws InvalidArgument when `j` is not an object.
  JsonObject(const nlohmann::json& j, std::string path, std::string source);

  bool has(std::string_view key) const;
  double number(std::string_view key) const;  // finite
  std::int64_t integer(std::string_view key) const;
  std::string string(std::string_view key) const;
  bool boolean(std::string_view key) const;
  JsonObject object(std::string_view key) const;
  const nlohmann::json& array(std::string_view key) const;
  std::vector<double> numbers(std::string_view key) const;
  std::vector<std::string> strings(std::string_view key) const;
  // Element i of array(key), as an object.
  JsonObject element(std::string_view key, std::size_t i) const;

  [[noreturn]] void fail(std::string_view key, std::string_view what) const;
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json& at(std::string_view key) const;

  const nlohmann::json* j_;
  std::string path_;
  std::string source_;
};

nlohmann::json summary_to_json(const SampleSummary& s);
// Also checks min <= p50 <= p95 <= p99 <= max and n >= 1.
SampleSummary summary_from_json(const JsonObject& o);

// Parses `text` as JSON; InvalidArgument naming `source` and nlohmann's position otherwise.
nlohmann::json parse_json_text(std::string_view text, std::string_view source);

}  // namespace chatterd::bench
