#pragma once
// Internal helpers for the config from_json functions: read one optional field of a JSON object
// into a typed config member, keeping the member's value when the key is absent or null. A
// present value of the wrong JSON type throws ModelFormatError naming the dotted path
// ("t3.backbone.hidden_size: expected an integer, got string").

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace chatterd::json_fields {

// A JSON object being read, with its dotted path for messages.
class Reader {
 public:
  // Throws ModelFormatError when `obj` is not an object.
  Reader(const nlohmann::json& obj, std::string path);

  const std::string& path() const { return path_; }
  bool has(std::string_view key) const;  // present and not null

  void read(std::string_view key, std::int64_t& out) const;
  void read(std::string_view key, double& out) const;
  void read(std::string_view key, float& out) const;
  void read(std::string_view key, bool& out) const;
  void read(std::string_view key, std::string& out) const;
  void read(std::string_view key, std::vector<std::int64_t>& out) const;
  void read(std::string_view key, std::vector<std::vector<std::int64_t>>& out) const;

  // A nested object; nullptr when the key is absent or null (or holds a string, which the
  // manifests use for descriptive notes such as "same as turbo"). Other types throw.
  const nlohmann::json* object(std::string_view key) const;
  Reader child(const nlohmann::json& obj, std::string_view key) const;

  [[noreturn]] void fail(std::string_view key, std::string_view what) const;

 private:
  const nlohmann::json* find(std::string_view key) const;
  std::int64_t to_int(std::string_view key, const nlohmann::json& v) const;

  const nlohmann::json& obj_;
  std::string path_;
};

// "a; b; c" for a list of validate() problems.
std::string join_problems(const std::vector<std::string>& problems);

}  // namespace chatterd::json_fields
