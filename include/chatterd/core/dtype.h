#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace chatterd {

// What a buffer holds. Q8_0 and Q4_0 are block-quantised weight types: blocks of 32 values along
// the last dimension. Q8_0 stores one f32 scale and 32 int8 codes; Q4_0 one scale (a value an
// f16 holds exactly, so packed forms can keep it in 2 bytes) and 32 4-bit codes, two a byte.
enum class DType : std::uint8_t { F32, F16, BF16, I8, I32, I64, Bool, Q8_0, Q4_0 };

inline constexpr int kQ8BlockSize = 32;
struct BlockQ8 {
  float scale;
  std::int8_t q[kQ8BlockSize];
};
static_assert(sizeof(BlockQ8) == 36);

// Weight w = scale * (u - 8), u in [0, 15]: byte j holds u of value j (low nibble) and of value
// j + 16 (high nibble).
inline constexpr int kQ4BlockSize = 32;
struct BlockQ4 {
  float scale;
  std::uint8_t q[kQ4BlockSize / 2];
};
static_assert(sizeof(BlockQ4) == 20);

enum class Device : std::uint8_t { CPU, CUDA };

std::string_view dtype_name(DType dtype);
std::string_view device_name(Device device);

// Elements per storage block (1 for plain types, 32 for Q8_0 and Q4_0) and bytes per block.
constexpr std::int64_t dtype_block_elems(DType dtype) {
  if (dtype == DType::Q8_0) return kQ8BlockSize;
  return dtype == DType::Q4_0 ? kQ4BlockSize : 1;
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
    case DType::Q4_0:
      return sizeof(BlockQ4);
  }
  return 0;
}
constexpr bool dtype_is_blocked(DType dtype) {
  return dtype_block_elems(dtype) > 1;
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
