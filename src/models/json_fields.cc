#include "models/json_fields.h"

#include <cmath>

#include "core/check.h"

namespace chatterd::json_fields {

Reader::Reader(const nlohmann::json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
  CHATTERD_CHECK(obj.is_object(), ModelFormatError, "{}: expected a JSON object, got {}", path_,
                 obj.type_name());
}

const nlohmann::json* Reader::find(std::string_view key) const {
  auto it = obj_.find(key);
  if (it == obj_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Reader::has(std::string_view key) const {
  return find(key) != nullptr;
}

void Reader::fail(std::string_view key, std::string_view what) const {
  CHATTERD_THROW(ModelFormatError, "{}.{}: {}", path_, key, what);
}

std::int64_t Reader::to_int(std::string_view key, const nlohmann::json& v) const {
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    // 8.0 is an integer written as a float; 8.5 is not.
    const double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<std::int64_t>(d);
    }
    fail(key, fmt::format("expected an integer, got {}", d));
  }
  fail(key, fmt::format("expected an integer, got {}", v.type_name()));
}

void Reader::read(std::string_view key, std::int64_t& out) const {
  if (const auto* v = find(key)) out = to_int(key, *v);
}

void Reader::read(std::string_view key, double& out) const {
  const auto* v = find(key);
  if (v == nullptr) return;
  if (!v->is_number()) fail(key, fmt::format("expected a number, got {}", v->type_name()));
  out = v->get<double>();
}

void Reader::read(std::string_view key, float& out) const {
  double d = out;
  read(key, d);
  out = static_cast<float>(d);
}

void Reader::read(std::string_view key, bool& out) const {
  const auto* v = find(key);
  if (v == nullptr) return;
  if (!v->is_boolean()) fail(key, fmt::format("expected true or false, got {}", v->type_name()));
  out = v->get<bool>();
}

void Reader::read(std::string_view key, std::string& out) const {
  const auto* v = find(key);
  if (v == nullptr) return;
  if (!v->is_string()) fail(key, fmt::format("expected a string, got {}", v->type_name()));
  out = v->get<std::string>();
}

void Reader::read(std::string_view key, std::vector<std::int64_t>& out) const {
  const auto* v = find(key);
  if (v == nullptr) return;
  if (!v->is_array())
    fail(key, fmt::format("expected an array of integers, got {}", v->type_name()));
  std::vector<std::int64_t> values;
  for (const auto& e : *v) values.push_back(to_int(key, e));
  out = std::move(values);
}

void Reader::read(std::string_view key, std::vector<std::vector<std::int64_t>>& out) const {
  const auto* v = find(key);
  if (v == nullptr) return;
  if (!v->is_array()) fail(key, fmt::format("expected an array of arrays, got {}", v->type_name()));
  std::vector<std::vector<std::int64_t>> values;
  for (const auto& row : *v) {
    if (!row.is_array())
      fail(key,
           fmt::format("expected an array of arrays, got an element of type {}", row.type_name()));
    std::vector<std::int64_t> r;
    for (const auto& e : row) r.push_back(to_int(key, e));
    values.push_back(std::move(r));
  }
  out = std::move(values);
}

const nlohmann::json* Reader::object(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr || v->is_string()) return nullptr;
  if (!v->is_object()) fail(key, fmt::format("expected an object, got {}", v->type_name()));
  return v;
}

Reader Reader::child(const nlohmann::json& obj, std::string_view key) const {
  return Reader(obj, fmt::format("{}.{}", path_, key));
}

std::string join_problems(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  return out;
}

}  // namespace chatterd::json_fields
