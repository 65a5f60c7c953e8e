#include "ops/rel_pos_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/blas.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"
#include "ops/softmax.h"

namespace chatterd::ops {
namespace {

// Query rows per work item: bounds the [rows, 2T - 1] scratch of the positional scores.
constexpr std::int64_t kQueryRowBlock = 64;

void run_host(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
              const Tensor& p, const Tensor& bias_u, const Tensor& bias_v, std::int64_t heads,
              Tensor& out) {
  const std::int64_t t = q.dim(0);
  const std::int64_t d = q.dim(1);
  const std::int64_t dk = d / heads;
  out.resize({t, d}, DType::F32);
  const float* qd = q.data<float>();
  const float* kd = k.data<float>();
  const float* vd = v.data<float>();
  const float* pd = p.data<float>();
  const float* ud = bias_u.data<float>();
  const float* bvd = bias_v.data<float>();
  float* od = out.data<float>();
  const std::int64_t n_pos = 2 * t - 1;
  const float inv_scale = 1.0f / std::sqrt(static_cast<float>(dk));
  const std::int64_t blocks = (t + kQueryRowBlock - 1) / kQueryRowBlock;
  const ExecContext inner{nullptr, ctx.isa};
  ctx.parallel_for(heads * blocks, 1, [&](std::int64_t w0, std::int64_t w1) {
    std::vector<float> qu, qv, ac, bd;
    for (std::int64_t w = w0; w < w1; ++w) {
      const std::int64_t h = w / blocks;
      const std::int64_t i0 = (w % blocks) * kQueryRowBlock;
      const std::int64_t rows = std::min(kQueryRowBlock, t - i0);
      qu.resize(static_cast<std::size_t>(rows * dk));
      qv.resize(qu.size());
      for (std::int64_t i = 0; i < rows; ++i) {
        const float* qi = qd + (i0 + i) * d + h * dk;
        for (std::int64_t c = 0; c < dk; ++c) {
          qu[static_cast<std::size_t>(i * dk + c)] = qi[c] + ud[h * dk + c];
          qv[static_cast<std::size_t>(i * dk + c)] = qi[c] + bvd[h * dk + c];
        }
      }
      ac.resize(static_cast<std::size_t>(rows * t));
      bd.resize(static_cast<std::size_t>(rows * n_pos));
      // matrix_ac = (q + u) k^T, matrix_bd = (q + v) p^T for this head's columns.
      cpu::sgemm(false, true, rows, t, dk, 1.0f, qu.data(), dk, kd + h * dk, d, 0.0f, ac.data(), t);
      cpu::sgemm(false, true, rows, n_pos, dk, 1.0f, qv.data(), dk, pd + h * dk, d, 0.0f, bd.data(),
                 n_pos);
      for (std::int64_t i = 0; i < rows; ++i) {
        float* s = ac.data() + i * t;
        // rel_shift: key j of query (i0 + i) reads relative position (i0 + i) - j.
        const float* b = bd.data() + i * n_pos + (t - 1 - (i0 + i));
        for (std::int64_t j = 0; j < t; ++j) s[j] = (s[j] + b[j]) * inv_scale;
      }
      Tensor scores = Tensor::borrow(ac.data(), {rows, t}, DType::F32);
      ops::softmax(inner, scores, scores);
      cpu::sgemm(false, false, rows, dk, t, 1.0f, ac.data(), t, vd + h * dk, d, 0.0f,
                 od + i0 * d + h * dk, d);
    }
  });
}

}  // namespace

void rel_pos_attention(const ExecContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                       const Tensor& p, const Tensor& bias_u, const Tensor& bias_v,
                       std::int64_t heads, Tensor& out) {
  check_rank(q, 2, "rel_pos_attention: q");
  const std::int64_t t = q.dim(0);
  const std::int64_t d = q.dim(1);
  CHATTERD_CHECK(t >= 1 && heads >= 1 && d % heads == 0, ShapeError,
                 "rel_pos_attention: q {} must be [T >= 1, heads ({}) x d_k]", q.to_string(),
                 heads);
  for (const Tensor* x : {&q, &k, &v, &p, &bias_u, &bias_v}) {
    check_dtype(*x, DType::F32, "rel_pos_attention: operand");
  }
  check_shape(k, {t, d}, "rel_pos_attention: k");
  check_shape(v, {t, d}, "rel_pos_attention: v");
  check_shape(p, {2 * t - 1, d}, "rel_pos_attention: p");
  check_shape(bias_u, {heads, d / heads}, "rel_pos_attention: bias_u");
  check_shape(bias_v, {heads, d / heads}, "rel_pos_attention: bias_v");
  if (detail::on_cuda(q)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "rel_pos_attention", {&k, &v, &p, &bias_u, &bias_v});
    dc.ensure(out, Shape{t, d}, DType::F32);
    cuda::rel_pos_attention_f32(
        dc.stream().handle(), q.device_data<float>(), k.device_data<float>(),
        v.device_data<float>(), p.device_data<float>(), bias_u.device_data<float>(),
        bias_v.device_data<float>(), t, heads, d / heads, out.device_data<float>());
    return;
#else
    detail::no_cuda_build("rel_pos_attention");
#endif
  }
  for (const Tensor* x : {&k, &v, &p, &bias_u, &bias_v}) {
    detail::require_host(x, "rel_pos_attention");
  }
  run_host(ctx, q, k, v, p, bias_u, bias_v, heads, out);
}

}  // namespace chatterd::ops
