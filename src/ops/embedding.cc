#include "ops/embedding.h"

#include <algorithm>
#include <cstring>

#include "backends/cpu/convert_kernels.h"
#include "chatterd/core/half.h"
#include "core/check.h"
#include "ops/cuda_dispatch.h"

namespace chatterd::ops {

void embedding(const ExecContext& ctx, const Tensor& table, const Tensor& ids, Tensor& out) {
  check_rank(table, 2, "embedding: table");
  CHATTERD_CHECK(
      table.dtype() == DType::F32 || table.dtype() == DType::F16 || table.dtype() == DType::BF16,
      DTypeError, "embedding: table must be f32, f16 or bf16, got {}", table.to_string());
  CHATTERD_CHECK(ids.dtype() == DType::I32 || ids.dtype() == DType::I64, DTypeError,
                 "embedding: ids must be i32 or i64, got {}", ids.to_string());
  CHATTERD_CHECK(&out != &table && &out != &ids, InvalidArgument,
                 "embedding: out must not alias an input");
  CHATTERD_CHECK(ids.rank() < Shape::kMaxRank, ShapeError, "embedding: ids {} has too many dims",
                 ids.to_string());
  const std::int64_t v = table.dim(0);
  const std::int64_t d = table.dim(1);
  const std::int64_t n = ids.numel();
  if (detail::on_cuda(table)) {
#ifdef CHATTERD_HAVE_CUDA
    // Ids on the device cannot be validated here: out-of-range ids give zero rows (they come
    // from the device's own sampling or from host code that checked them).
    auto& dc = detail::cuda_context(ctx, "embedding", {&ids});
    CHATTERD_CHECK(ids.dtype() == DType::I32, DTypeError,
                   "embedding: device ids must be i32, got {}", ids.to_string());
    Shape shape = ids.shape();
    shape.push_back(d);
    dc.ensure(out, shape, DType::F32);
    cuda::gather_rows(dc.stream().handle(), table.raw_data(), table.dtype(), v, d,
                      ids.device_data<std::int32_t>(), n, out.device_data<float>());
    return;
#else
    detail::no_cuda_build("embedding");
#endif
  }
  detail::require_host(&ids, "embedding");
  // Validate every id before writing anything.
  auto id_at = [&](std::int64_t i) -> std::int64_t {
    return ids.dtype() == DType::I32 ? ids.data<std::int32_t>()[i] : ids.data<std::int64_t>()[i];
  };
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t id = id_at(i);
    CHATTERD_CHECK(id >= 0 && id < v, InvalidArgument,
                   "embedding: id {} at position {} is out of range for a table of {} rows", id, i,
                   v);
  }
  Shape shape = ids.shape();
  shape.push_back(d);
  out.resize(shape, DType::F32);
  float* o = out.data<float>();
  const auto& conv = cpu::convert_kernels(ctx.isa);
  ctx.parallel_for(n, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(d, 1)),
                   [&](std::int64_t b, std::int64_t e) {
                     for (std::int64_t i = b; i < e; ++i) {
                       const std::int64_t row = id_at(i) * d;
                       float* dst = o + i * d;
                       switch (table.dtype()) {
                         case DType::F16:
                           conv.f16_to_f32(table.data<Half>() + row, dst, d);
                           break;
                         case DType::BF16:
                           conv.bf16_to_f32(table.data<BFloat16>() + row, dst, d);
                           break;
                         default:
                           if (d > 0) {
                             std::memcpy(dst, table.data<float>() + row,
                                         static_cast<std::size_t>(d) * sizeof(float));
                           }
                           break;
                       }
                     }
                   });
}

}  // namespace chatterd::ops
