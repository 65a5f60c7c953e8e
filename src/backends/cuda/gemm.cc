#include "backends/cuda/gemm.h"

#include <cstdint>
#include <utility>

#include "backends/cuda/context.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels.h"
#include "core/check.h"

namespace chatterd::cuda {
namespace {

// Owners of cuBLASLt descriptors, released on every path out (errors throw).
struct MatmulDesc {
  cublasLtMatmulDesc_t h = nullptr;
  ~MatmulDesc() {
    if (h != nullptr) cublasLtMatmulDescDestroy(h);
  }
};
struct Layout {
  cublasLtMatrixLayout_t h = nullptr;
  ~Layout() {
    if (h != nullptr) cublasLtMatrixLayoutDestroy(h);
  }
};
struct Preference {
  cublasLtMatmulPreference_t h = nullptr;
  ~Preference() {
    if (h != nullptr) cublasLtMatmulPreferenceDestroy(h);
  }
};

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::F16:
      return CUDA_R_16F;
    case DType::BF16:
      return CUDA_R_16BF;
    default:
      CHATTERD_THROW(Unsupported, "cuda gemm: {} weights", dtype_name(t));
  }
}

}  // namespace

void gemm(DeviceContext& ctx, const float* x, std::int64_t m, std::int64_t k, const void* w,
          DType w_dtype, const float* bias, float* out, std::int64_t n) {
  if (m == 0 || n == 0) return;
  const cudaDataType_t wt = cuda_type(w_dtype);
  StreamHandle stream = ctx.stream().handle();
  // Tensor cores take both inputs in one type: the activation follows the weight.
  std::shared_ptr<void> x_cast;
  const void* b_ptr = x;
  if (w_dtype != DType::F32) {
    x_cast = ctx.scratch(storage_bytes(w_dtype, m * k));
    convert(stream, x, DType::F32, x_cast.get(), w_dtype, m * k);
    b_ptr = x_cast.get();
  }

  // Row-major out[m, n] = x[m, k] w[n, k]^T is column-major out^T[n, m] = w^T... : A = w viewed
  // as a k x n column-major matrix, transposed; B = x as k x m, not transposed; D = n x m.
  MatmulDesc desc;
  detail::check(cublasLtMatmulDescCreate(&desc.h, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                "cublasLtMatmulDescCreate");
  const cublasOperation_t trans_a = CUBLAS_OP_T;
  const cublasOperation_t trans_b = CUBLAS_OP_N;
  detail::check(cublasLtMatmulDescSetAttribute(desc.h, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a,
                                               sizeof(trans_a)),
                "CUBLASLT_MATMUL_DESC_TRANSA");
  detail::check(cublasLtMatmulDescSetAttribute(desc.h, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b,
                                               sizeof(trans_b)),
                "CUBLASLT_MATMUL_DESC_TRANSB");
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  Layout a, b, d;
  detail::check(cublasLtMatrixLayoutCreate(&a.h, wt, u(k), u(n), k), "layout A");
  detail::check(cublasLtMatrixLayoutCreate(&b.h, wt, u(k), u(m), k), "layout B");
  detail::check(cublasLtMatrixLayoutCreate(&d.h, CUDA_R_32F, u(n), u(m), n), "layout D");

  Preference pref;
  detail::check(cublasLtMatmulPreferenceCreate(&pref.h), "cublasLtMatmulPreferenceCreate");
  const std::size_t workspace = ctx.cublaslt_workspace_bytes();
  detail::check(
      cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &workspace, sizeof(workspace)),
      "CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES");
  // The heuristic assumes 256-byte aligned operands unless told: views (narrow0) may be less.
  const auto alignment = [](const void* p) {
    std::uint32_t bytes = 256;
    while (bytes > 1 && reinterpret_cast<std::uintptr_t>(p) % bytes != 0) bytes /= 2;
    return bytes;
  };
  const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> aligns[] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignment(w)},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignment(b_ptr)},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignment(out)},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignment(out)}};
  for (const auto& [attr, value] : aligns) {
    detail::check(cublasLtMatmulPreferenceSetAttribute(pref.h, attr, &value, sizeof(value)),
                  "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT");
  }
  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  detail::check(cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), desc.h, a.h, b.h, d.h, d.h, pref.h,
                                               1, &heuristic, &found),
                "cublasLtMatmulAlgoGetHeuristic");
  CHATTERD_CHECK(found > 0, Unsupported, "cuBLASLt has no algorithm for {} x {} x {} ({})", m, n, k,
                 dtype_name(w_dtype));
  const float alpha = 1.0f;
  const float beta = 0.0f;
  detail::check(
      cublasLtMatmul(ctx.cublaslt(), desc.h, &alpha, w, a.h, b_ptr, b.h, &beta, out, d.h, out, d.h,
                     &heuristic.algo, ctx.cublaslt_workspace(), workspace, stream),
      "cublasLtMatmul");
  if (bias != nullptr) add_row_bias(stream, out, bias, m, n);
  // x_cast returns to the cache here (the stream orders its reuse after this matmul), or stays
  // with the graph being captured.
}

}  // namespace chatterd::cuda
