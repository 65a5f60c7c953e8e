#include "ops/elementwise.h"

#include <algorithm>
#include <array>

#include "backends/cpu/binary_kernels.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kGrainElems = 16384;
constexpr int kMaxRank = Shape::kMaxRank;

struct Plan {
  int rank = 0;  // after coalescing; the last dim is the contiguous inner run
  std::array<std::int64_t, kMaxRank> size{};
  std::array<std::int64_t, kMaxRank> sa{};
  std::array<std::int64_t, kMaxRank> sb{};
};

// Element strides of `t` seen in the broadcast shape `out` (0 where t is broadcast).
std::array<std::int64_t, kMaxRank> broadcast_strides(const Shape& t, const Shape& out) {
  std::array<std::int64_t, kMaxRank> s{};
  std::int64_t stride = 1;
  const int off = out.rank() - t.rank();
  for (int i = t.rank() - 1; i >= 0; --i) {
    s[static_cast<std::size_t>(i + off)] = t[i] == 1 ? 0 : stride;
    stride *= t[i];
  }
  return s;
}

Plan make_plan(const Shape& a, const Shape& b, const Shape& out) {
  const auto sa = broadcast_strides(a, out);
  const auto sb = broadcast_strides(b, out);
  Plan p;
  for (int i = 0; i < out.rank(); ++i) {
    const auto u = static_cast<std::size_t>(i);
    if (out[i] == 1) continue;  // size-1 dims carry no information
    if (p.rank > 0) {
      const auto l = static_cast<std::size_t>(p.rank - 1);
      // Merge into the previous dim when both operands keep walking contiguously across it.
      if (p.sa[l] == sa[u] * out[i] && p.sb[l] == sb[u] * out[i]) {
        p.size[l] *= out[i];
        p.sa[l] = sa[u];
        p.sb[l] = sb[u];
        continue;
      }
    }
    const auto n = static_cast<std::size_t>(p.rank++);
    p.size[n] = out[i];
    p.sa[n] = sa[u];
    p.sb[n] = sb[u];
  }
  if (p.rank == 0) {  // a single element
    p.rank = 1;
    p.size[0] = 1;
    p.sa[0] = 1;
    p.sb[0] = 1;
  }
  return p;
}

void binary(const ExecContext& ctx, cpu::BinaryOp op, const char* name, const Tensor& a,
            const Tensor& b, Tensor& out) {
  CHATTERD_CHECK(a.dtype() == DType::F32, DTypeError, "{}: a must be f32, got {}", name,
                 a.to_string());
  CHATTERD_CHECK(b.dtype() == DType::F32, DTypeError, "{}: b must be f32, got {}", name,
                 b.to_string());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  if ((&out == &a || &out == &b) && !(out.shape() == shape)) {
    Tensor tmp;
    binary(ctx, op, name, a, b, tmp);
    out = tmp;
    return;
  }
  if (detail::on_cuda(a)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, name, {&b});
    detail::cuda_output(dc, &out == &a ? a : b, out, shape, DType::F32);
    if (shape.numel() == 0) return;
    const Plan p = make_plan(a.shape(), b.shape(), shape);
    cuda::BinaryPlan cp;
    cp.rank = p.rank;
    for (std::size_t d = 0; d < static_cast<std::size_t>(p.rank); ++d) {
      cp.size[d] = p.size[d];
      cp.stride_a[d] = p.sa[d];
      cp.stride_b[d] = p.sb[d];
    }
    cuda::binary_f32(dc.stream().handle(), static_cast<cuda::BinaryKind>(op),
                     a.device_data<float>(), b.device_data<float>(), out.device_data<float>(), cp);
    return;
#else
    detail::no_cuda_build(name);
#endif
  }
  out.resize(shape, DType::F32);
  if (shape.numel() == 0) return;
  const Plan p = make_plan(a.shape(), b.shape(), shape);
  const int last = p.rank - 1;
  const std::int64_t inner = p.size[static_cast<std::size_t>(last)];
  const std::int64_t ia = p.sa[static_cast<std::size_t>(last)];
  const std::int64_t ib = p.sb[static_cast<std::size_t>(last)];
  const std::int64_t outer = shape.numel() / inner;
  const auto& k = cpu::binary_kernels(ctx.isa);
  const int o = static_cast<int>(op);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* pc = out.data<float>();
  const std::int64_t grain = std::max<std::int64_t>(1, kGrainElems / inner);
  ctx.parallel_for(outer, grain, [&](std::int64_t r0, std::int64_t r1) {
    // Odometer over the outer dims, started from r0.
    std::array<std::int64_t, kMaxRank> idx{};
    std::int64_t rem = r0;
    std::int64_t offa = 0;
    std::int64_t offb = 0;
    for (int d = last - 1; d >= 0; --d) {
      const auto u = static_cast<std::size_t>(d);
      idx[u] = rem % p.size[u];
      rem /= p.size[u];
      offa += idx[u] * p.sa[u];
      offb += idx[u] * p.sb[u];
    }
    for (std::int64_t r = r0; r < r1; ++r) {
      float* dst = pc + r * inner;
      if (ia != 0 && ib != 0) {
        k.vv[o](pa + offa, pb + offb, dst, inner);
      } else if (ia != 0) {
        k.vs[o](pa + offa, pb[offb], dst, inner);
      } else if (ib != 0) {
        k.sv[o](pa[offa], pb + offb, dst, inner);
      } else {
        k.sv[o](pa[offa], pb + offb, dst, 1);
        for (std::int64_t i = 1; i < inner; ++i) dst[i] = dst[0];
      }
      for (int d = last - 1; d >= 0; --d) {  // advance
        const auto u = static_cast<std::size_t>(d);
        offa += p.sa[u];
        offb += p.sb[u];
        if (++idx[u] < p.size[u]) break;
        offa -= p.sa[u] * p.size[u];
        offb -= p.sb[u] * p.size[u];
        idx[u] = 0;
      }
    }
  });
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank());
    const int ib = i - (rank - b.rank());
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    CHATTERD_CHECK(da == db || da == 1 || db == 1, ShapeError,
                   "{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})", op,
                   a.to_string(), b.to_string(), i, da, db);
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

void add(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out) {
  binary(ctx, cpu::BinaryOp::Add, "add", a, b, out);
}
void sub(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out) {
  binary(ctx, cpu::BinaryOp::Sub, "sub", a, b, out);
}
void mul(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out) {
  binary(ctx, cpu::BinaryOp::Mul, "mul", a, b, out);
}
void div(const ExecContext& ctx, const Tensor& a, const Tensor& b, Tensor& out) {
  binary(ctx, cpu::BinaryOp::Div, "div", a, b, out);
}

}  // namespace chatterd::ops
