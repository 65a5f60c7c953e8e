#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chatterd {

// What a buffer holds. Q8_0 is a block-quantised weight type: blocks of kQ8BlockSize values along
// the last dimension, each stored as one f32 scale followed by kQ8BlockSize int8 codes.
enum class DType : std::uint8_t { F32, F16, BF16, I8, I32, I64, Bool, Q8_0 };

inline constexpr int kQ8BlockSize = 32;
struct BlockQ8 {
  float scale;
  std::int8_t q[kQ8BlockSize];
};
static_assert(sizeof(BlockQ8) == 36);

enum class Device : std::uint8_t { CPU, CUDA };

std::string_view dtype_name(DType dtype);
std::string_view device_name(Device device);

// Elements per storage block (1 for plain types, kQ8BlockSize for Q8_0) and bytes per block.
constexpr std::int64_t dtype_block_elems(DType dtype) {
  return dtype == DType::Q8_0 ? kQ8BlockSize : 1;
}
constexpr std::size_t dtype_block_bytes(DType dtype) {
  switch (dtype) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::I8:
    case DType::Bool:
      return 1;
    case DType::I64:
      return 8;
    case DType::Q8_0:
      return sizeof(BlockQ8);
  }
  return 0;
}
constexpr bool dtype_is_float(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

// Maps C++ element types to DType (the quantised type has no element type).
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <>
struct DTypeOf<std::int8_t> {
  static constexpr DType value = DType::I8;
};
template <>
struct DTypeOf<std::int32_t> {
  static constexpr DType value = DType::I32;
};
template <>
struct DTypeOf<std::int64_t> {
  static constexpr DType value = DType::I64;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::Bool;
};

}  // namespace chatterd
