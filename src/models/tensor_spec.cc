#include "models/tensor_spec.h"

#include <fmt/format.h>

#include <unordered_map>

#include "core/check.h"

namespace chatterd {

TensorSpec& TensorSpecList::add(std::string_view name, Shape shape) {
  TensorSpec spec;
  spec.name = prefix_;
  spec.name += name;
  spec.shape = shape;
  specs_.push_back(std::move(spec));
  return specs_.back();
}

TensorSpecList& TensorSpecList::unused() {
  CHATTERD_CHECK(!specs_.empty(), Internal, "TensorSpecList::unused on an empty list");
  specs_.back().used_at_inference = false;
  return *this;
}

TensorSpecList& TensorSpecList::optional() {
  CHATTERD_CHECK(!specs_.empty(), Internal, "TensorSpecList::optional on an empty list");
  specs_.back().presence = TensorPresence::Optional;
  return *this;
}

TensorSpecList& TensorSpecList::checkpoint_only() {
  CHATTERD_CHECK(!specs_.empty(), Internal, "TensorSpecList::checkpoint_only on an empty list");
  specs_.back().presence = TensorPresence::CheckpointOnly;
  specs_.back().used_at_inference = false;
  return *this;
}

TensorSpecList& TensorSpecList::integer() {
  CHATTERD_CHECK(!specs_.empty(), Internal, "TensorSpecList::integer on an empty list");
  specs_.back().kind = TensorKind::Integer;
  return *this;
}

void TensorSpecList::linear(std::string_view name, std::int64_t out, std::int64_t in, bool bias) {
  add(fmt::format("{}.weight", name), Shape{out, in});
  if (bias) add(fmt::format("{}.bias", name), Shape{out});
}

void TensorSpecList::layer_norm(std::string_view name, std::int64_t dim) {
  add(fmt::format("{}.weight", name), Shape{dim});
  add(fmt::format("{}.bias", name), Shape{dim});
}

void TensorSpecList::conv1d(std::string_view name, std::int64_t out, std::int64_t in,
                            std::int64_t kernel, bool bias) {
  add(fmt::format("{}.weight", name), Shape{out, in, kernel});
  if (bias) add(fmt::format("{}.bias", name), Shape{out});
}

void TensorSpecList::append(const std::vector<TensorSpec>& specs) {
  for (const auto& s : specs) {
    specs_.push_back(s);
    specs_.back().name = prefix_ + s.name;
  }
}

bool dtype_acceptable(const TensorSpec& spec, DType dtype) {
  switch (spec.kind) {
    case TensorKind::Float:
      return dtype_is_float(dtype);
    case TensorKind::Integer:
      return dtype == DType::I64;
  }
  return false;
}

std::string_view finding_kind_name(TensorFindingKind kind) {
  switch (kind) {
    case TensorFindingKind::MissingRequired:
      return "missing";
    case TensorFindingKind::ShapeMismatch:
      return "shape mismatch";
    case TensorFindingKind::DTypeNotAccepted:
      return "dtype not accepted";
    case TensorFindingKind::Unexpected:
      return "unexpected";
    case TensorFindingKind::MissingOptional:
      return "missing (optional)";
  }
  return "?";
}

FindingSeverity finding_severity(TensorFindingKind kind) {
  switch (kind) {
    case TensorFindingKind::MissingRequired:
    case TensorFindingKind::ShapeMismatch:
    case TensorFindingKind::DTypeNotAccepted:
      return FindingSeverity::Error;
    case TensorFindingKind::Unexpected:
      return FindingSeverity::Warning;
    case TensorFindingKind::MissingOptional:
      return FindingSeverity::Note;
  }
  return FindingSeverity::Error;
}

namespace {

std::string accepted_dtypes(const TensorSpec& spec) {
  return spec.kind == TensorKind::Integer ? "I64" : "F32, F16 or BF16";
}

}  // namespace

std::vector<TensorFinding> compare_tensors(std::string_view file_label,
                                           std::span<const TensorSpec> expected,
                                           std::span<const TensorInfo> actual) {
  std::unordered_map<std::string_view, const TensorInfo*> by_name;
  by_name.reserve(actual.size());
  for (const auto& info : actual) by_name.emplace(info.name, &info);

  std::vector<TensorFinding> findings;
  auto report = [&](TensorFindingKind kind, const std::string& tensor, std::string detail) {
    findings.push_back({kind, tensor, fmt::format("{}: {}: {}", file_label, tensor, detail)});
  };

  std::unordered_map<std::string_view, bool> expected_names;
  expected_names.reserve(expected.size());
  for (const auto& spec : expected) {
    expected_names.emplace(spec.name, true);
    auto it = by_name.find(spec.name);
    if (it == by_name.end()) {
      if (spec.presence == TensorPresence::Required) {
        report(TensorFindingKind::MissingRequired, spec.name,
               fmt::format("missing (expected shape {})", spec.shape.to_string()));
      } else if (spec.presence == TensorPresence::Optional) {
        report(TensorFindingKind::MissingOptional, spec.name,
               "absent (optional: recomputed at load)");
      }
      continue;
    }
    const TensorInfo& info = *it->second;
    if (!(info.shape == spec.shape)) {
      report(TensorFindingKind::ShapeMismatch, spec.name,
             fmt::format("shape {} but the config expects {}", info.shape.to_string(),
                         spec.shape.to_string()));
    }
    if (!dtype_acceptable(spec, info.dtype)) {
      report(TensorFindingKind::DTypeNotAccepted, spec.name,
             fmt::format("dtype {} not accepted (expected {})", dtype_name(info.dtype),
                         accepted_dtypes(spec)));
    }
  }
  for (const auto& info : actual) {
    if (!expected_names.contains(info.name)) {
      report(
          TensorFindingKind::Unexpected, info.name,
          fmt::format("unexpected tensor ({} {})", dtype_name(info.dtype), info.shape.to_string()));
    }
  }
  return findings;
}

bool has_errors(std::span<const TensorFinding> findings) {
  for (const auto& f : findings) {
    if (finding_severity(f.kind) == FindingSeverity::Error) return true;
  }
  return false;
}

ParamCounts count_params(std::span<const TensorSpec> specs) {
  ParamCounts c;
  for (const auto& s : specs) {
    const std::int64_t n = s.shape.numel();
    if (s.presence == TensorPresence::CheckpointOnly) {
      c.params_checkpoint_only += n;
      continue;
    }
    ++c.tensors;
    c.params += n;
    if (s.used_at_inference) c.params_used += n;
  }
  return c;
}

std::int64_t count_params(std::span<const TensorInfo> tensors) {
  std::int64_t n = 0;
  for (const auto& t : tensors) n += t.shape.numel();
  return n;
}

std::vector<TensorSpec> filter_prefix(std::span<const TensorSpec> specs, std::string_view prefix) {
  std::vector<TensorSpec> out;
  for (const auto& s : specs) {
    if (std::string_view(s.name).starts_with(prefix)) out.push_back(s);
  }
  return out;
}

}  // namespace chatterd
