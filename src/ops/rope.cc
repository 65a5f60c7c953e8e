#include "ops/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"
#include "ops/cuda_dispatch.h"
#include "ops/device.h"

namespace chatterd::ops {

std::vector<float> rope_inv_freq(const RopeConfig& config) {
  CHATTERD_CHECK(config.head_dim > 0 && config.head_dim % 2 == 0, InvalidArgument,
                 "rope: head_dim must be positive and even, got {}", config.head_dim);
  CHATTERD_CHECK(config.theta > 0.0f, InvalidArgument, "rope: theta must be positive, got {}",
                 config.theta);
  const std::int64_t half = config.head_dim / 2;
  std::vector<float> inv(static_cast<std::size_t>(half));
  const auto dim = static_cast<float>(config.head_dim);
  for (std::int64_t i = 0; i < half; ++i) {
    // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all f32.
    const float expo = static_cast<float>(2 * i) / dim;
    const float p = static_cast<float>(std::pow(static_cast<double>(config.theta), expo));
    inv[static_cast<std::size_t>(i)] = 1.0f / p;
  }
  if (!config.llama3) return inv;

  const Llama3RopeScaling& s = *config.llama3;
  CHATTERD_CHECK(s.factor > 0.0f && s.original_max_position > 0 &&
                     s.high_freq_factor != s.low_freq_factor && s.low_freq_factor > 0.0f &&
                     s.high_freq_factor > 0.0f,
                 InvalidArgument,
                 "rope: bad llama3 scaling (factor {}, low {}, high {}, original_max_position {})",
                 s.factor, s.low_freq_factor, s.high_freq_factor, s.original_max_position);
  const auto orig = static_cast<float>(s.original_max_position);
  const float low_freq_wavelen = orig / s.low_freq_factor;
  const float high_freq_wavelen = orig / s.high_freq_factor;
  const auto two_pi = static_cast<float>(2.0 * std::numbers::pi);
  for (float& f : inv) {
    const float wavelen = two_pi / f;
    const float llama = wavelen > low_freq_wavelen ? f / s.factor : f;
    const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
    if (medium) {
      const float smooth =
          (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      f = (1.0f - smooth) * llama / s.factor + smooth * llama;
    } else {
      f = llama;
    }
  }
  return inv;
}

RopeTable build_rope_table(const RopeConfig& config, std::int64_t n_positions) {
  CHATTERD_CHECK(n_positions >= 0, InvalidArgument, "rope: n_positions must be >= 0, got {}",
                 n_positions);
  const std::vector<float> inv = rope_inv_freq(config);
  const std::int64_t half = config.head_dim / 2;
  RopeTable table;
  table.head_dim = config.head_dim;
  table.cos = Tensor::empty({n_positions, half}, DType::F32);
  table.sin = Tensor::empty({n_positions, half}, DType::F32);
  float* c = table.cos.data<float>();
  float* s = table.sin.data<float>();
  for (std::int64_t p = 0; p < n_positions; ++p) {
    for (std::int64_t i = 0; i < half; ++i) {
      // HF rounds the angle to f32 (inv_freq @ position_ids in f32) before cos/sin.
      const float angle = static_cast<float>(p) * inv[static_cast<std::size_t>(i)];
      c[p * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      s[p * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
  return table;
}

RopeTable rope_table_to_device(const ExecContext& ctx, const RopeTable& table) {
  RopeTable out;
  out.head_dim = table.head_dim;
  out.cos = to_device(ctx, table.cos);
  out.sin = to_device(ctx, table.sin);
  return out;
}

namespace {

void check_rope_operands(const Tensor& x, const RopeTable& table) {
  check_dtype(x, DType::F32, "rope: x");
  check_rank(x, 3, "rope: x");
  CHATTERD_CHECK(table.head_dim > 0 && table.cos.defined() && table.sin.defined(), InvalidArgument,
                 "rope: table is empty (build it with build_rope_table)");
  CHATTERD_CHECK(x.dim(2) == table.head_dim, ShapeError,
                 "rope: x head dim {} != table head_dim {} (x {})", x.dim(2), table.head_dim,
                 x.to_string());
}

template <class PosFn>
void rope_rows(const ExecContext& ctx, Tensor& x, const RopeTable& table, PosFn&& position) {
  const std::int64_t T = x.dim(0);
  const std::int64_t H = x.dim(1);
  const std::int64_t D = x.dim(2);
  const std::int64_t half = D / 2;
  const std::int64_t n_pos = table.n_positions();
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t p = position(t);
    CHATTERD_CHECK(p >= 0 && p < n_pos, InvalidArgument,
                   "rope: position {} (token {}) outside the table's [0, {})", p, t, n_pos);
  }
  float* data = x.data<float>();
  const float* cos = table.cos.data<float>();
  const float* sin = table.sin.data<float>();
  ctx.parallel_for(T * H, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(D, 1)),
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t r = begin; r < end; ++r) {
                       const std::int64_t p = position(r / H);
                       const float* c = cos + p * half;
                       const float* s = sin + p * half;
                       float* x1 = data + r * D;
                       float* x2 = x1 + half;
                       for (std::int64_t i = 0; i < half; ++i) {
                         const float a = x1[i];
                         const float b = x2[i];
                         x1[i] = a * c[i] - b * s[i];
                         x2[i] = b * c[i] + a * s[i];
                       }
                     }
                   });
}

}  // namespace

void apply_rope(const ExecContext& ctx, Tensor& x, std::int64_t start_position,
                const RopeTable& table) {
  check_rope_operands(x, table);
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "rope", {&table.cos, &table.sin});
    CHATTERD_CHECK(start_position >= 0 && start_position + x.dim(0) <= table.n_positions(),
                   InvalidArgument, "rope: positions [{}, {}) outside the table's [0, {})",
                   start_position, start_position + x.dim(0), table.n_positions());
    cuda::rope_f32(dc.stream().handle(), x.device_data<float>(), x.dim(0), x.dim(1), x.dim(2),
                   start_position, table.cos.device_data<float>(), table.sin.device_data<float>());
    return;
#else
    detail::no_cuda_build("rope");
#endif
  }
  rope_rows(ctx, x, table, [start_position](std::int64_t t) { return start_position + t; });
}

void apply_rope(const ExecContext& ctx, Tensor& x, const Tensor& positions,
                const RopeTable& table) {
  check_rope_operands(x, table);
  check_rank(positions, 1, "rope: positions");
  CHATTERD_CHECK(positions.dim(0) == x.dim(0), ShapeError,
                 "rope: positions has {} entries but x has {} tokens (x {})", positions.dim(0),
                 x.dim(0), x.to_string());
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "rope", {&positions, &table.cos, &table.sin});
    CHATTERD_CHECK(positions.dtype() == DType::I32, DTypeError,
                   "rope: device positions must be i32, got {}", dtype_name(positions.dtype()));
    cuda::rope_positions_f32(dc.stream().handle(), x.device_data<float>(), x.dim(0), x.dim(1),
                             x.dim(2), positions.device_data<std::int32_t>(), table.n_positions(),
                             table.cos.device_data<float>(), table.sin.device_data<float>());
    return;
#else
    detail::no_cuda_build("rope");
#endif
  }
  detail::require_host(&positions, "rope (explicit positions)");
  if (positions.dtype() == DType::I32) {
    const std::int32_t* p = positions.data<std::int32_t>();
    rope_rows(ctx, x, table, [p](std::int64_t t) { return std::int64_t{p[t]}; });
  } else if (positions.dtype() == DType::I64) {
    const std::int64_t* p = positions.data<std::int64_t>();
    rope_rows(ctx, x, table, [p](std::int64_t t) { return p[t]; });
  } else {
    CHATTERD_THROW(DTypeError, "rope: positions must be i32 or i64, got {}",
                   dtype_name(positions.dtype()));
  }
}

}  // namespace chatterd::ops
