#include "ops/reduce.h"

#include <algorithm>
#include <limits>

#include "backends/cpu/row_kernels.h"
#include "core/check.h"

namespace chatterd::ops {
namespace {

enum class Kind { Sum, Mean, Max, Argmax };

void reduce(const ExecContext& ctx, Kind kind, const char* name, const Tensor& x, int axis,
            Tensor& out, bool keepdim) {
  CHATTERD_CHECK(x.dtype() == DType::F32, DTypeError, "{}: x must be f32, got {}", name,
                 x.to_string());
  CHATTERD_CHECK(x.rank() >= 1, ShapeError, "{}: x must have at least one axis, got {}", name,
                 x.to_string());
  CHATTERD_CHECK(&out != &x, InvalidArgument, "{}: out must not alias x", name);
  CHATTERD_CHECK(axis >= -x.rank() && axis < x.rank(), ShapeError,
                 "{}: axis {} out of range for {}", name, axis, x.to_string());
  const int ax = x.shape().normalize_axis(axis);
  const std::int64_t outer = x.shape().outer(ax);
  const std::int64_t len = x.dim(ax);
  const std::int64_t inner = x.shape().inner(ax);
  CHATTERD_CHECK(kind != Kind::Argmax || len > 0, ShapeError, "{}: axis {} of {} is empty", name,
                 axis, x.to_string());
  Shape shape;
  for (int i = 0; i < x.rank(); ++i) {
    if (i != ax) {
      shape.push_back(x.dim(i));
    } else if (keepdim) {
      shape.push_back(1);
    }
  }
  out.resize(shape, kind == Kind::Argmax ? DType::I64 : DType::F32);
  const float* in = x.data<float>();
  const std::int64_t n_out = outer * inner;
  if (n_out == 0) return;
  const auto& rk = cpu::row_kernels(ctx.isa);
  const float inv_len =
      len == 0 ? std::numeric_limits<float>::quiet_NaN() : 1.0f / static_cast<float>(len);

  if (kind == Kind::Argmax) {
    std::int64_t* o = out.data<std::int64_t>();
    ctx.parallel_for(n_out, std::max<std::int64_t>(1, 4096 / len),
                     [&](std::int64_t b, std::int64_t e) {
                       for (std::int64_t r = b; r < e; ++r) {
                         const float* p = in + (r / inner) * len * inner + r % inner;
                         std::int64_t best = 0;
                         float bv = p[0];
                         for (std::int64_t j = 1; j < len; ++j) {
                           if (p[j * inner] > bv || (bv != bv && p[j * inner] == p[j * inner])) {
                             bv = p[j * inner];
                             best = j;
                           }
                         }
                         o[r] = best;
                       }
                     });
    return;
  }
  float* o = out.data<float>();
  if (inner == 1) {  // contiguous rows: SIMD
    ctx.parallel_for(outer, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(len, 1)),
                     [&](std::int64_t b, std::int64_t e) {
                       for (std::int64_t r = b; r < e; ++r) {
                         const float* p = in + r * len;
                         if (kind == Kind::Max) {
                           o[r] = rk.max(p, len);
                         } else {
                           const float s = rk.sum(p, len);
                           o[r] = kind == Kind::Mean ? s * inv_len : s;
                         }
                       }
                     });
    return;
  }
  // Strided axis: accumulate whole inner rows (contiguous, auto-vectorised) per outer index.
  ctx.parallel_for(outer, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      float* dst = o + r * inner;
      const float* src = in + r * len * inner;
      const float init = kind == Kind::Max ? -std::numeric_limits<float>::infinity() : 0.0f;
      for (std::int64_t i = 0; i < inner; ++i) dst[i] = init;
      for (std::int64_t j = 0; j < len; ++j) {
        const float* row = src + j * inner;
        if (kind == Kind::Max) {
          for (std::int64_t i = 0; i < inner; ++i) dst[i] = row[i] > dst[i] ? row[i] : dst[i];
        } else {
          for (std::int64_t i = 0; i < inner; ++i) dst[i] += row[i];
        }
      }
      if (kind == Kind::Mean) {
        for (std::int64_t i = 0; i < inner; ++i) dst[i] *= inv_len;
      }
    }
  });
}

}  // namespace

void sum(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim) {
  reduce(ctx, Kind::Sum, "sum", x, axis, out, keepdim);
}
void mean(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim) {
  reduce(ctx, Kind::Mean, "mean", x, axis, out, keepdim);
}
void max(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim) {
  reduce(ctx, Kind::Max, "max", x, axis, out, keepdim);
}
void argmax(const ExecContext& ctx, const Tensor& x, int axis, Tensor& out, bool keepdim) {
  reduce(ctx, Kind::Argmax, "argmax", x, axis, out, keepdim);
}

}  // namespace chatterd::ops
