#include "parity/parity.h"

#include <algorithm>
#include <cmath>

#include "chatterd/core/half.h"
#include "core/check.h"

namespace chatterd::parity {
namespace {

std::vector<double> as_doubles(const Tensor& t, const std::string& name) {
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  switch (t.dtype()) {
    case DType::F32:
      std::copy_n(t.data<float>(), out.size(), out.begin());
      break;
    case DType::F16:
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = half_to_float(t.data<Half>()[i]);
      break;
    case DType::BF16:
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = bf16_to_float(t.data<BFloat16>()[i]);
      break;
    case DType::I64:
      std::copy_n(t.data<std::int64_t>(), out.size(), out.begin());
      break;
    case DType::I32:
      std::copy_n(t.data<std::int32_t>(), out.size(), out.begin());
      break;
    default:
      CHATTERD_THROW(Unsupported, "parity: cannot compare {} tensor '{}'", dtype_name(t.dtype()),
                     name);
  }
  return out;
}

}  // namespace

GoldenKind golden_kind_from_path(const std::filesystem::path& golden) {
  const std::string stem = golden.stem().string();
  if (stem.rfind("t3_", 0) == 0) return GoldenKind::T3;
  if (stem == "sampling_processors") return GoldenKind::SamplingProcessors;
  if (stem == "s3gen_flow") return GoldenKind::S3GenFlow;
  if (stem == "s3gen_hift") return GoldenKind::S3GenHift;
  if (stem == "s3gen_mel") return GoldenKind::S3GenMel;
  if (stem == "s3gen_stream") return GoldenKind::S3GenStream;
  if (stem == "cond_pipeline") return GoldenKind::CondPipeline;
  CHATTERD_THROW(InvalidArgument,
                 "{}: unknown golden kind '{}' (expected t3_*, sampling_processors, s3gen_flow, "
                 "s3gen_hift, s3gen_mel, s3gen_stream or cond_pipeline)",
                 golden.string(), stem);
}

std::string_view golden_kind_name(GoldenKind kind) {
  switch (kind) {
    case GoldenKind::T3:
      return "t3";
    case GoldenKind::SamplingProcessors:
      return "sampling_processors";
    case GoldenKind::S3GenFlow:
      return "s3gen_flow";
    case GoldenKind::S3GenHift:
      return "s3gen_hift";
    case GoldenKind::S3GenMel:
      return "s3gen_mel";
    case GoldenKind::S3GenStream:
      return "s3gen_stream";
    case GoldenKind::CondPipeline:
      return "cond_pipeline";
  }
  return "?";
}

const ParityCheck& ParityReport::compare(std::string name, const Tensor& actual,
                                         const Tensor& expected, double tolerance) {
  ParityCheck c;
  c.name = std::move(name);
  c.tolerance = tolerance;
  if (!(actual.shape() == expected.shape())) {
    c.note = "shape " + actual.shape().to_string() + " vs expected " + expected.shape().to_string();
    c.rel_error = INFINITY;
    checks_.push_back(std::move(c));
    return checks_.back();
  }
  const auto a = as_doubles(actual, c.name);
  const auto e = as_doubles(expected, c.name);
  std::size_t worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // -inf == -inf (filtered logits) is a match; any other non-finite mismatch is infinite error.
    double d = 0.0;
    if (std::isinf(e[i]) || std::isinf(a[i]) || std::isnan(a[i]) || std::isnan(e[i])) {
      d = (a[i] == e[i]) ? 0.0 : INFINITY;
    } else {
      d = std::fabs(a[i] - e[i]);
      c.max_abs_ref = std::max(c.max_abs_ref, std::fabs(e[i]));
    }
    if (d > c.max_abs_diff) {
      c.max_abs_diff = d;
      worst = i;
    }
  }
  c.rel_error = c.max_abs_ref > 0.0 ? c.max_abs_diff / c.max_abs_ref : c.max_abs_diff;
  c.passed = c.rel_error <= tolerance;
  if (!c.passed && !a.empty()) {
    c.note = "worst at flat index " + std::to_string(worst) + ": " + std::to_string(a[worst]) +
             " vs " + std::to_string(e[worst]);
  }
  checks_.push_back(std::move(c));
  return checks_.back();
}

const ParityCheck& ParityReport::compare_exact(std::string name, const Tensor& actual,
                                               const Tensor& expected) {
  ParityCheck c;
  c.name = std::move(name);
  c.exact = true;
  if (!(actual.shape() == expected.shape())) {
    c.note = "shape " + actual.shape().to_string() + " vs expected " + expected.shape().to_string();
    checks_.push_back(std::move(c));
    return checks_.back();
  }
  const auto a = as_doubles(actual, c.name);
  const auto e = as_doubles(expected, c.name);
  c.passed = true;
  for (std::size_t i = 0; i < a.size(); ++i) {
    c.max_abs_diff = std::max(c.max_abs_diff, std::fabs(a[i] - e[i]));
    if (a[i] != e[i] && c.passed) {
      c.passed = false;
      c.note = "first mismatch at " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " +
               std::to_string(e[i]);
    }
  }
  c.rel_error = c.max_abs_diff;
  checks_.push_back(std::move(c));
  return checks_.back();
}

bool ParityReport::passed() const {
  return !checks_.empty() &&
         std::all_of(checks_.begin(), checks_.end(), [](const ParityCheck& c) { return c.passed; });
}

std::string ParityReport::to_string() const {
  std::string out = fmt::format("{}\n", golden_);
  int failed = 0;
  for (const ParityCheck& c : checks_) {
    if (c.exact) {
      out += fmt::format("  {:<44} exact                                   {}{}\n", c.name,
                         c.passed ? "PASS" : "FAIL", c.note.empty() ? "" : "  (" + c.note + ")");
    } else {
      out += fmt::format("  {:<44} max_abs {:.3e} rel {:.3e} tol {:.0e}  {}{}\n", c.name,
                         c.max_abs_diff, c.rel_error, c.tolerance, c.passed ? "PASS" : "FAIL",
                         c.note.empty() ? "" : "  (" + c.note + ")");
    }
    if (!c.passed) ++failed;
  }
  out +=
      fmt::format("{}: {} checks, {} failed\n", passed() ? "PASS" : "FAIL", checks_.size(), failed);
  return out;
}

ParityReport run_parity(const std::filesystem::path& model_dir, const std::filesystem::path& golden,
                        const ParityOptions& options) {
  switch (golden_kind_from_path(golden)) {
    case GoldenKind::T3:
      return run_t3_parity(model_dir, golden, options);
    case GoldenKind::SamplingProcessors:
      return run_sampling_parity(model_dir, golden, options);
    case GoldenKind::S3GenFlow:
      return run_s3gen_flow_parity(model_dir, golden, options);
    case GoldenKind::S3GenHift:
      return run_s3gen_hift_parity(model_dir, golden, options);
    case GoldenKind::S3GenMel:
      return run_s3gen_mel_parity(model_dir, golden, options);
    case GoldenKind::S3GenStream:
      return run_s3gen_stream_parity(model_dir, golden, options);
    case GoldenKind::CondPipeline:
      return run_cond_pipeline_parity(model_dir, golden, options);
  }
  CHATTERD_THROW(Internal, "parity: unhandled golden kind");
}

}  // namespace chatterd::parity
