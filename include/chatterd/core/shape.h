#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>

namespace chatterd {

// A small fixed-capacity list of dimensions (row-major). Cheap to copy, no allocation.
class Shape {
 public:
  static constexpr int kMaxRank = 8;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);

  int rank() const { return rank_; }
  // dim(-1) is the last dimension; out-of-range throws ShapeError.
  std::int64_t dim(int i) const;
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t numel() const;
  std::span<const std::int64_t> dims() const {
    return {dims_.data(), static_cast<std::size_t>(rank_)};
  }

  // Product of dims before `axis` / after `axis` (axis may be negative).
  std::int64_t outer(int axis) const;
  std::int64_t inner(int axis) const;

  void push_back(std::int64_t d);
  void set(int i, std::int64_t d);
  int normalize_axis(int axis) const;

  std::string to_string() const;
  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

}  // namespace chatterd
