#include "pipeline/bench_json.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace chatterd::bench {

JsonObject::JsonObject(const nlohmann::json& j, std::string path, std::string source)
    : j_(&j), path_(std::move(path)), source_(std::move(source)) {
  CHATTERD_CHECK(j.is_object(), InvalidArgument, "{}: {}: expected an object, got {}", source_,
                 path_.empty() ? "(top level)" : path_, j.type_name());
}

void JsonObject::fail(std::string_view key, std::string_view what) const {
  CHATTERD_THROW(InvalidArgument, "{}: {}{}{}: {}", source_, path_, path_.empty() ? "" : ".", key,
                 what);
}

bool JsonObject::has(std::string_view key) const {
  const auto it = j_->find(key);
  return it != j_->end() && !it->is_null();
}

const nlohmann::json& JsonObject::at(std::string_view key) const {
  const auto it = j_->find(key);
  if (it == j_->end()) fail(key, "missing");
  return *it;
}

double JsonObject::number(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_number()) fail(key, std::string("expected a number, got ") + v.type_name());
  const double d = v.get<double>();
  if (!std::isfinite(d)) fail(key, "not finite");
  return d;
}

std::int64_t JsonObject::integer(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_number_integer()) fail(key, std::string("expected an integer, got ") + v.type_name());
  return v.get<std::int64_t>();
}

std::string JsonObject::string(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_string()) fail(key, std::string("expected a string, got ") + v.type_name());
  return v.get<std::string>();
}

bool JsonObject::boolean(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_boolean()) fail(key, std::string("expected a boolean, got ") + v.type_name());
  return v.get<bool>();
}

JsonObject JsonObject::object(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_object()) fail(key, std::string("expected an object, got ") + v.type_name());
  return JsonObject(v, path_.empty() ? std::string(key) : path_ + "." + std::string(key), source_);
}

const nlohmann::json& JsonObject::array(std::string_view key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_array()) fail(key, std::string("expected an array, got ") + v.type_name());
  return v;
}

std::vector<double> JsonObject::numbers(std::string_view key) const {
  std::vector<double> out;
  for (const auto& v : array(key)) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) fail(key, "expected finite numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

std::vector<std::string> JsonObject::strings(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& v : array(key)) {
    if (!v.is_string()) fail(key, "expected strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

JsonObject JsonObject::element(std::string_view key, std::size_t i) const {
  const nlohmann::json& a = array(key);
  const std::string p = (path_.empty() ? std::string(key) : path_ + "." + std::string(key)) + "[" +
                        std::to_string(i) + "]";
  return JsonObject(a.at(i), p, source_);
}

nlohmann::json summary_to_json(const SampleSummary& s) {
  return {{"n", s.n},     {"mean", s.mean}, {"std", s.std}, {"p50", s.p50},
          {"p95", s.p95}, {"p99", s.p99},   {"min", s.min}, {"max", s.max}};
}

SampleSummary summary_from_json(const JsonObject& o) {
  SampleSummary s;
  s.n = o.integer("n");
  s.mean = o.number("mean");
  s.std = o.number("std");
  s.p50 = o.number("p50");
  s.p95 = o.number("p95");
  s.p99 = o.number("p99");
  s.min = o.number("min");
  s.max = o.number("max");
  if (s.n < 1) o.fail("n", "must be >= 1");
  if (s.std < 0.0) o.fail("std", "must be >= 0");
  if (!(s.min <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max)) {
    o.fail("p50", "percentiles out of order (need min <= p50 <= p95 <= p99 <= max)");
  }
  // The mean of equal samples can land an ulp outside them.
  const double slack = 1e-9 * std::max(1.0, std::abs(s.max));
  if (s.mean < s.min - slack || s.mean > s.max + slack) o.fail("mean", "outside [min, max]");
  return s;
}

nlohmann::json parse_json_text(std::string_view text, std::string_view source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    CHATTERD_THROW(InvalidArgument, "{}: not valid JSON: {}", source, e.what());
  }
}

}  // namespace chatterd::bench
