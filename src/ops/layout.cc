#include "ops/layout.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kGrainBytes = 1 << 16;

// Bytes of `elems` elements of dtype (q8_0: elems must be whole blocks; checked by callers).
std::size_t bytes_of(DType dtype, std::int64_t elems) {
  return storage_bytes(dtype, elems);
}

char* bytes(Tensor& t) {
  return static_cast<char*>(t.raw_data());
}
const char* bytes(const Tensor& t) {
  return static_cast<const char*>(t.raw_data());
}

// Copies `rows` runs of `run` bytes from src (stride src_stride) to dst (stride dst_stride).
void copy_rows(const ExecContext& ctx, const char* src, std::size_t src_stride, char* dst,
               std::size_t dst_stride, std::int64_t rows, std::size_t run) {
  if (run == 0 || rows == 0) return;
  const std::int64_t grain =
      std::max<std::int64_t>(1, kGrainBytes / static_cast<std::int64_t>(run));
  ctx.parallel_for(rows, grain, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      std::memcpy(dst + static_cast<std::size_t>(r) * dst_stride,
                  src + static_cast<std::size_t>(r) * src_stride, run);
    }
  });
}

void check_axis(const Tensor& x, int axis, const char* op) {
  CHATTERD_CHECK(x.rank() >= 1 && axis >= -x.rank() && axis < x.rank(), ShapeError,
                 "{}: axis {} out of range for {}", op, axis, x.to_string());
}

}  // namespace

void copy(const ExecContext& ctx, const Tensor& x, Tensor& out) {
  if (&out == &x) return;
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "copy", {});
    dc.ensure(out, x.shape(), x.dtype());
    if (out.raw_data() != x.raw_data()) dc.copy(x, out);
    return;
#else
    detail::no_cuda_build("copy");
#endif
  }
  out.resize(x.shape(), x.dtype());
  if (out.raw_data() == x.raw_data()) return;
  const std::size_t n = x.nbytes();
  const std::int64_t chunks = static_cast<std::int64_t>((n + kGrainBytes - 1) / kGrainBytes);
  ctx.parallel_for(chunks, 1, [&](std::int64_t b, std::int64_t e) {
    const std::size_t lo = static_cast<std::size_t>(b) * kGrainBytes;
    const std::size_t hi = std::min(n, static_cast<std::size_t>(e) * kGrainBytes);
    std::memcpy(bytes(out) + lo, bytes(x) + lo, hi - lo);
  });
}

void slice(const ExecContext& ctx, const Tensor& x, int axis, std::int64_t start, std::int64_t end,
           Tensor& out) {
  check_axis(x, axis, "slice");
  CHATTERD_CHECK(&out != &x, InvalidArgument, "slice: out must not alias x");
  const int ax = x.shape().normalize_axis(axis);
  const std::int64_t len = x.dim(ax);
  if (start < 0) start += len;
  if (end < 0) end += len;
  start = std::clamp<std::int64_t>(start, 0, len);
  end = std::clamp<std::int64_t>(end, start, len);
  CHATTERD_CHECK(
      !dtype_is_blocked(x.dtype()) || ax != x.rank() - 1 ||
          (start % dtype_block_elems(x.dtype()) == 0 && end % dtype_block_elems(x.dtype()) == 0),
      Unsupported,
      "slice: block-quantised {} along its last axis needs block-aligned bounds, got [{}, {})",
      x.to_string(), start, end);
  Shape shape = x.shape();
  shape.set(ax, end - start);
  if (detail::on_cuda(x)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "slice", {});
    dc.ensure(out, shape, x.dtype());
    const std::int64_t inner = x.shape().inner(ax);
    const std::size_t run = bytes_of(x.dtype(), (end - start) * inner);
    dc.copy_rows(out.raw_data(), run,
                 static_cast<const std::byte*>(x.raw_data()) + bytes_of(x.dtype(), start * inner),
                 bytes_of(x.dtype(), len * inner), run,
                 static_cast<std::size_t>(x.shape().outer(ax)));
    return;
#else
    detail::no_cuda_build("slice");
#endif
  }
  out.resize(shape, x.dtype());
  const std::int64_t outer = x.shape().outer(ax);
  const std::int64_t inner = x.shape().inner(ax);
  const std::size_t run = bytes_of(x.dtype(), (end - start) * inner);
  copy_rows(ctx, bytes(x) + bytes_of(x.dtype(), start * inner), bytes_of(x.dtype(), len * inner),
            bytes(out), run, outer, run);
}

void concat(const ExecContext& ctx, std::span<const Tensor> xs, int axis, Tensor& out) {
  CHATTERD_CHECK(!xs.empty(), InvalidArgument, "concat: no tensors");
  const Tensor& first = xs.front();
  check_axis(first, axis, "concat");
  const int ax = first.shape().normalize_axis(axis);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    CHATTERD_CHECK(&t != &out, InvalidArgument, "concat: out must not alias input {}", i);
    CHATTERD_CHECK(t.dtype() == first.dtype(), DTypeError,
                   "concat: input {} is {} but input 0 is {}", i, t.to_string(), first.to_string());
    bool same = t.rank() == first.rank();
    for (int d = 0; same && d < t.rank(); ++d) same = d == ax || t.dim(d) == first.dim(d);
    CHATTERD_CHECK(same, ShapeError, "concat: input {} {} does not match input 0 {} off axis {}", i,
                   t.to_string(), first.to_string(), axis);
    CHATTERD_CHECK(!dtype_is_blocked(t.dtype()) || ax != t.rank() - 1, Unsupported,
                   "concat: {} along the last (blocked) axis", dtype_name(t.dtype()));
    total += t.dim(ax);
  }
  Shape shape = first.shape();
  shape.set(ax, total);
  if (detail::on_cuda(first)) {
#ifdef CHATTERD_HAVE_CUDA
    auto& dc = detail::cuda_context(ctx, "concat", {});
    for (const Tensor& t : xs) cuda::check_on_device(t, "concat: input");
    dc.ensure(out, shape, first.dtype());
    const std::size_t rows = static_cast<std::size_t>(shape.outer(ax));
    const std::int64_t inner = shape.inner(ax);
    const std::size_t dst_pitch = bytes_of(first.dtype(), total * inner);
    std::int64_t offset = 0;
    for (const Tensor& t : xs) {
      const std::size_t run = bytes_of(t.dtype(), t.dim(ax) * inner);
      dc.copy_rows(bytes(out) + bytes_of(t.dtype(), offset * inner), dst_pitch, t.raw_data(), run,
                   run, rows);
      offset += t.dim(ax);
    }
    return;
#else
    detail::no_cuda_build("concat");
#endif
  }
  for (const Tensor& t : xs) detail::require_host(&t, "concat");
  out.resize(shape, first.dtype());
  const std::int64_t outer = shape.outer(ax);
  const std::int64_t inner = shape.inner(ax);
  const std::size_t dst_stride = bytes_of(first.dtype(), total * inner);
  std::int64_t offset = 0;
  for (const Tensor& t : xs) {
    const std::size_t run = bytes_of(t.dtype(), t.dim(ax) * inner);
    copy_rows(ctx, bytes(t), run, bytes(out) + bytes_of(t.dtype(), offset * inner), dst_stride,
              outer, run);
    offset += t.dim(ax);
  }
}

namespace {

// Swaps the last two axes of 4-byte elements ([..., R, C] -> [..., C, R]) in 32 x 32 blocks, so
// both sides move whole cache lines (the general path below copies one element per memcpy when
// the last axis moves: NCT <-> NTC in S3Gen and HiFT).
void swap_last_two_4byte(const ExecContext& ctx, const std::uint32_t* in, std::int64_t batch,
                         std::int64_t rows, std::int64_t cols, std::uint32_t* o) {
  constexpr std::int64_t kBlock = 32;
  const std::int64_t rb = (rows + kBlock - 1) / kBlock;
  const std::int64_t cb = (cols + kBlock - 1) / kBlock;
  ctx.parallel_for(batch * rb * cb, 4, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      const std::int64_t b = i / (rb * cb);
      const std::int64_t r0 = (i / cb) % rb * kBlock;
      const std::int64_t c0 = i % cb * kBlock;
      const std::int64_t r1 = std::min(rows, r0 + kBlock);
      const std::int64_t c1 = std::min(cols, c0 + kBlock);
      const std::uint32_t* src = in + b * rows * cols;
      std::uint32_t* dst = o + b * rows * cols;
      for (std::int64_t c = c0; c < c1; ++c) {
        for (std::int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
      }
    }
  });
}

// permute on a CUDA tensor (perm and shape checked by the caller).
void permute_cuda(const ExecContext& ctx, const Tensor& x, std::span<const int> perm,
                  const Shape& shape, Tensor& out) {
#ifdef CHATTERD_HAVE_CUDA
  auto& dc = detail::cuda_context(ctx, "permute", {});
  const int rank = x.rank();
  CHATTERD_CHECK(rank <= cuda::kMaxPermuteRank, Unsupported,
                 "permute: CUDA tensors of rank above {} ({})", cuda::kMaxPermuteRank,
                 x.to_string());
  dc.ensure(out, shape, x.dtype());
  if (x.numel() == 0) return;
  const auto esize = dtype_block_bytes(x.dtype());
  const auto stream = dc.stream().handle();
  bool swap_last_two = rank >= 2 && esize == 4 &&
                       perm[static_cast<std::size_t>(rank - 1)] == rank - 2 &&
                       perm[static_cast<std::size_t>(rank - 2)] == rank - 1;
  for (int i = 0; swap_last_two && i < rank - 2; ++i) {
    swap_last_two = perm[static_cast<std::size_t>(i)] == i;
  }
  if (swap_last_two) {
    const std::int64_t rows = x.dim(rank - 2), cols = x.dim(rank - 1);
    return cuda::swap_last_two_f32(stream, static_cast<const float*>(x.raw_data()),
                                   static_cast<float*>(out.raw_data()), x.numel() / (rows * cols),
                                   rows, cols);
  }
  cuda::PermutePlan plan;
  plan.rank = rank;
  std::array<std::int64_t, Shape::kMaxRank> in_stride{};
  std::int64_t s = 1;
  for (int i = rank - 1; i >= 0; --i) {
    in_stride[static_cast<std::size_t>(i)] = s;
    s *= x.dim(i);
  }
  for (int i = 0; i < rank; ++i) {
    plan.size[i] = shape[i];
    plan.src_stride[i] = in_stride[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])];
  }
  cuda::permute(stream, x.raw_data(), out.raw_data(), esize, plan, x.numel());
#else
  (void)ctx, (void)x, (void)perm, (void)shape, (void)out;
  detail::no_cuda_build("permute");
#endif
}

}  // namespace

void permute(const ExecContext& ctx, const Tensor& x, std::span<const int> perm, Tensor& out) {
  const int rank = x.rank();
  CHATTERD_CHECK(static_cast<int>(perm.size()) == rank, ShapeError, "permute: {} axes given for {}",
                 perm.size(), x.to_string());
  CHATTERD_CHECK(&out != &x, InvalidArgument, "permute: out must not alias x");
  CHATTERD_CHECK(!dtype_is_blocked(x.dtype()), Unsupported, "permute: block-quantised tensor {}",
                 x.to_string());
  std::array<bool, Shape::kMaxRank> seen{};
  Shape shape;
  for (int i = 0; i < rank; ++i) {
    const int p = perm[static_cast<std::size_t>(i)];
    CHATTERD_CHECK(p >= 0 && p < rank && !seen[static_cast<std::size_t>(p)], InvalidArgument,
                   "permute: {} is not a permutation of the axes of {}",
                   fmt::join(perm.begin(), perm.end(), ","), x.to_string());
    seen[static_cast<std::size_t>(p)] = true;
    shape.push_back(x.dim(p));
  }
  if (detail::on_cuda(x)) return permute_cuda(ctx, x, perm, shape, out);
  out.resize(shape, x.dtype());
  if (x.numel() == 0) return;
  const std::size_t esize = dtype_block_bytes(x.dtype());
  bool swap_last_two = rank >= 2 && esize == 4 &&
                       perm[static_cast<std::size_t>(rank - 1)] == rank - 2 &&
                       perm[static_cast<std::size_t>(rank - 2)] == rank - 1;
  for (int i = 0; swap_last_two && i < rank - 2; ++i) {
    swap_last_two = perm[static_cast<std::size_t>(i)] == i;
  }
  if (swap_last_two && x.dim(rank - 1) > 1 && x.dim(rank - 2) > 1) {
    const std::int64_t rows = x.dim(rank - 2), cols = x.dim(rank - 1);
    return swap_last_two_4byte(ctx, static_cast<const std::uint32_t*>(x.raw_data()),
                               x.numel() / (rows * cols), rows, cols,
                               static_cast<std::uint32_t*>(out.raw_data()));
  }
  std::array<std::int64_t, Shape::kMaxRank> in_stride{};  // element strides of x
  std::int64_t s = 1;
  for (int i = rank - 1; i >= 0; --i) {
    in_stride[static_cast<std::size_t>(i)] = s;
    s *= x.dim(i);
  }
  // Source stride for each output axis. When the last axis stays last, copy whole rows.
  std::array<std::int64_t, Shape::kMaxRank> src{};
  for (int i = 0; i < rank; ++i) {
    src[static_cast<std::size_t>(i)] =
        in_stride[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])];
  }
  const bool rows = rank > 0 && perm[static_cast<std::size_t>(rank - 1)] == rank - 1;
  const int loop_rank = rows ? rank - 1 : rank;
  const std::int64_t run = rows ? shape[rank - 1] : 1;
  const std::int64_t n_runs = x.numel() / run;
  const char* in = bytes(x);
  char* o = bytes(out);
  ctx.parallel_for(n_runs, std::max<std::int64_t>(1, 4096 / run),
                   [&](std::int64_t b, std::int64_t e) {
                     std::array<std::int64_t, Shape::kMaxRank> idx{};
                     std::int64_t rem = b;
                     std::int64_t off = 0;
                     for (int d = loop_rank - 1; d >= 0; --d) {
                       const auto u = static_cast<std::size_t>(d);
                       idx[u] = rem % shape[d];
                       rem /= shape[d];
                       off += idx[u] * src[u];
                     }
                     for (std::int64_t r = b; r < e; ++r) {
                       std::memcpy(o + static_cast<std::size_t>(r * run) * esize,
                                   in + static_cast<std::size_t>(off) * esize,
                                   static_cast<std::size_t>(run) * esize);
                       for (int d = loop_rank - 1; d >= 0; --d) {
                         const auto u = static_cast<std::size_t>(d);
                         off += src[u];
                         if (++idx[u] < shape[d]) break;
                         off -= src[u] * shape[d];
                         idx[u] = 0;
                       }
                     }
                   });
}

void transpose(const ExecContext& ctx, const Tensor& x, int axis0, int axis1, Tensor& out) {
  check_axis(x, axis0, "transpose");
  check_axis(x, axis1, "transpose");
  std::vector<int> perm(static_cast<std::size_t>(x.rank()));
  for (int i = 0; i < x.rank(); ++i) perm[static_cast<std::size_t>(i)] = i;
  std::swap(perm[static_cast<std::size_t>(x.shape().normalize_axis(axis0))],
            perm[static_cast<std::size_t>(x.shape().normalize_axis(axis1))]);
  permute(ctx, x, perm, out);
}

}  // namespace chatterd::ops
