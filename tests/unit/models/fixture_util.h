#pragma once
// Test-only helpers: read the fixture manifests and the tensor list of a safetensors header
// (8-byte little-endian length + JSON). Not a weights reader: no data is touched.

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/tensor_spec.h"
#include "weights/tensor_file.h"

namespace chatterd::test {

inline std::filesystem::path fixtures_dir() {
  return CHATTERD_FIXTURES_DIR;
}

inline nlohmann::json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

inline DType parse_dtype(const std::string& s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I64") return DType::I64;
  if (s == "I32") return DType::I32;
  if (s == "I8") return DType::I8;
  if (s == "BOOL") return DType::Bool;
  throw std::runtime_error("unknown dtype " + s);
}

inline TensorInfo info_from_json(const std::string& name, const nlohmann::json& j) {
  TensorInfo t;
  t.name = name;
  t.dtype = parse_dtype(j.at("dtype").get<std::string>());
  for (const auto& d : j.at("shape")) t.shape.push_back(d.get<std::int64_t>());
  return t;
}

// Tensors of a safetensors file in header order (the fixture writer sorts them by name).
inline std::vector<TensorInfo> read_safetensors_header(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  unsigned char len_bytes[8] = {};
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  std::uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  std::string header(static_cast<std::size_t>(len), '\0');
  in.read(header.data(), static_cast<std::streamsize>(len));
  if (!in) throw std::runtime_error("truncated header in " + path.string());
  const auto j = nlohmann::json::parse(header);
  std::vector<TensorInfo> out;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") continue;
    out.push_back(info_from_json(name, v));
  }
  return out;
}

// A manifest's list of {name, shape, dtype} objects (e.g. "keys", "checkpoint_only_keys").
inline std::vector<TensorInfo> manifest_list(const nlohmann::json& manifest, const char* key) {
  std::vector<TensorInfo> out;
  if (!manifest.contains(key)) return out;
  for (const auto& k : manifest.at(key)) out.push_back(info_from_json(k.at("name"), k));
  return out;
}

inline std::vector<TensorSpec> without_checkpoint_only(const std::vector<TensorSpec>& specs) {
  std::vector<TensorSpec> out;
  for (const auto& s : specs) {
    if (s.presence != TensorPresence::CheckpointOnly) out.push_back(s);
  }
  return out;
}

inline std::vector<TensorSpec> only_checkpoint_only(const std::vector<TensorSpec>& specs) {
  std::vector<TensorSpec> out;
  for (const auto& s : specs) {
    if (s.presence == TensorPresence::CheckpointOnly) out.push_back(s);
  }
  return out;
}

// Exact, ordered equality of names and shapes; reports the first difference.
inline void expect_same_order(const std::vector<TensorSpec>& expected,
                              const std::vector<TensorInfo>& actual, const std::string& what) {
  EXPECT_EQ(expected.size(), actual.size()) << what;
  const std::size_t n = std::min(expected.size(), actual.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (expected[i].name != actual[i].name || !(expected[i].shape == actual[i].shape)) {
      ADD_FAILURE() << what << ": first difference at #" << i << ": expected " << expected[i].name
                    << " " << expected[i].shape.to_string() << ", got " << actual[i].name << " "
                    << actual[i].shape.to_string();
      return;
    }
  }
}

// Same set of names with the same shapes, order ignored (safetensors files sort by name).
// Independent of compare_tensors() on purpose.
inline void expect_same_set(const std::vector<TensorSpec>& expected,
                            const std::vector<TensorInfo>& actual, const std::string& what) {
  std::map<std::string, Shape> want;
  std::map<std::string, Shape> got;
  for (const auto& s : expected) EXPECT_TRUE(want.emplace(s.name, s.shape).second) << s.name;
  for (const auto& t : actual) EXPECT_TRUE(got.emplace(t.name, t.shape).second) << t.name;
  for (const auto& [name, shape] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      ADD_FAILURE() << what << ": expected " << name << " " << shape.to_string() << " not in file";
    } else if (!(it->second == shape)) {
      ADD_FAILURE() << what << ": " << name << " expected " << shape.to_string() << ", file has "
                    << it->second.to_string();
    }
  }
  for (const auto& [name, shape] : got) {
    if (!want.contains(name)) {
      ADD_FAILURE() << what << ": file has unexpected " << name << " " << shape.to_string();
    }
  }
}

}  // namespace chatterd::test
