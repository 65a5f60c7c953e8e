#include "chatterd/core/shape.h"

#include <fmt/ranges.h>

#include "core/check.h"

namespace chatterd {

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  CHATTERD_CHECK(dims.size() <= static_cast<std::size_t>(kMaxRank), ShapeError,
                 "shape has rank {} > maximum {}", dims.size(), kMaxRank);
  for (const std::int64_t d : dims) {
    CHATTERD_CHECK(d >= 0, ShapeError, "negative dimension {} in shape", d);
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }
}

int Shape::normalize_axis(int axis) const {
  const int a = axis < 0 ? axis + rank_ : axis;
  CHATTERD_CHECK(a >= 0 && a < rank_, ShapeError, "axis {} out of range for shape {}", axis,
                 to_string());
  return a;
}

std::int64_t Shape::dim(int i) const {
  return dims_[static_cast<std::size_t>(normalize_axis(i))];
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::int64_t Shape::outer(int axis) const {
  const int a = normalize_axis(axis);
  std::int64_t n = 1;
  for (int i = 0; i < a; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::int64_t Shape::inner(int axis) const {
  const int a = normalize_axis(axis);
  std::int64_t n = 1;
  for (int i = a + 1; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

void Shape::push_back(std::int64_t d) {
  CHATTERD_CHECK(rank_ < kMaxRank, ShapeError, "shape rank would exceed {}", kMaxRank);
  CHATTERD_CHECK(d >= 0, ShapeError, "negative dimension {} in shape", d);
  dims_[static_cast<std::size_t>(rank_++)] = d;
}

void Shape::set(int i, std::int64_t d) {
  CHATTERD_CHECK(d >= 0, ShapeError, "negative dimension {} in shape", d);
  dims_[static_cast<std::size_t>(normalize_axis(i))] = d;
}

std::string Shape::to_string() const {
  return fmt::format("[{}]", fmt::join(dims(), ", "));
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i) {
    if (a.dims_[static_cast<std::size_t>(i)] != b.dims_[static_cast<std::size_t>(i)]) return false;
  }
  return true;
}

}  // namespace chatterd
