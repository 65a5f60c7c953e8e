#include "ops/rel_shift.h"

#include <cmath>

#include "core/check.h"

namespace chatterd::ops {

Tensor espnet_rel_pos_table(std::int64_t length, std::int64_t d_model) {
  CHATTERD_CHECK(length > 0 && d_model > 0 && d_model % 2 == 0, InvalidArgument,
                 "espnet_rel_pos_table: need length > 0 and an even d_model, got {} and {}", length,
                 d_model);
  Tensor table = Tensor::empty({2 * length - 1, d_model}, DType::F32);
  float* t = table.data<float>();
  const float neg_log = static_cast<float>(-(std::log(10000.0) / static_cast<double>(d_model)));
  for (std::int64_t r = 0; r < 2 * length - 1; ++r) {
    const std::int64_t p = length - 1 - r;
    const float pos = static_cast<float>(p < 0 ? -p : p);
    float* row = t + r * d_model;
    for (std::int64_t k = 0; k < d_model / 2; ++k) {
      // f32 products as torch computes them, then an accurate sin/cos of that f32 argument.
      const float div = std::exp(static_cast<float>(2 * k) * neg_log);
      const float arg = pos * div;
      const float s = static_cast<float>(std::sin(static_cast<double>(arg)));
      row[2 * k] = p < 0 ? -s : s;
      row[2 * k + 1] = static_cast<float>(std::cos(static_cast<double>(arg)));
    }
  }
  return table;
}

void rel_shift(const ExecContext& ctx, const Tensor& bd, Tensor& out) {
  check_dtype(bd, DType::F32, "rel_shift: bd");
  CHATTERD_CHECK(bd.rank() >= 2, ShapeError, "rel_shift: bd must have rank >= 2, got {}",
                 bd.shape().to_string());
  const std::int64_t t = bd.dim(-2);
  CHATTERD_CHECK(bd.dim(-1) == 2 * t - 1, ShapeError, "rel_shift: bd {} must end in [T, 2T - 1]",
                 bd.shape().to_string());
  Shape os = bd.shape();
  os.set(os.rank() - 1, t);
  out.resize(os, DType::F32);
  const std::int64_t rows = bd.numel() / (2 * t - 1);
  const float* src = bd.data<float>();
  float* dst = out.data<float>();
  ctx.parallel_for(rows, 64, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t i = r % t;
      const float* in = src + r * (2 * t - 1) + (t - 1 - i);
      float* o = dst + r * t;
      for (std::int64_t j = 0; j < t; ++j) o[j] = in[j];
    }
  });
}

}  // namespace chatterd::ops
