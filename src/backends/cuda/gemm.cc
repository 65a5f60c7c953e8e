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

struct GemmPlans::Plan {
  MatmulDesc desc;
  Layout a, b, d;
  cublasLtMatmulHeuristicResult_t heuristic{};
};

GemmPlans::GemmPlans() = default;
GemmPlans::~GemmPlans() = default;

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

  // The heuristic assumes 256-byte aligned operands unless told: views (narrow0) may be less.
  const auto alignment = [](const void* p) {
    std::uint32_t bytes = 256;
    while (bytes > 1 && reinterpret_cast<std::uintptr_t>(p) % bytes != 0) bytes /= 2;
    return bytes;
  };
  const std::uint32_t align_a = alignment(w);
  const std::uint32_t align_b = alignment(b_ptr);
  const std::uint32_t align_d = alignment(out);
  const std::size_t workspace = ctx.cublaslt_workspace_bytes();
  const GemmPlans::Key key{m, n, k, static_cast<std::int64_t>(w_dtype), align_a, align_b, align_d};
  const GemmPlans::Plan& plan = ctx.gemm_plans().get(key, [&] {
    auto p = std::make_unique<GemmPlans::Plan>();
    // Row-major out[m, n] = x[m, k] w[n, k]^T is column-major out^T[n, m] = w^T... : A = w
    // viewed as a k x n column-major matrix, transposed; B = x as k x m, not transposed;
    // D = n x m.
    detail::check(cublasLtMatmulDescCreate(&p->desc.h, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                  "cublasLtMatmulDescCreate");
    const cublasOperation_t trans_a = CUBLAS_OP_T;
    const cublasOperation_t trans_b = CUBLAS_OP_N;
    detail::check(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a,
                                                 sizeof(trans_a)),
                  "CUBLASLT_MATMUL_DESC_TRANSA");
    detail::check(cublasLtMatmulDescSetAttribute(p->desc.h, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b,
                                                 sizeof(trans_b)),
                  "CUBLASLT_MATMUL_DESC_TRANSB");
    const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    detail::check(cublasLtMatrixLayoutCreate(&p->a.h, wt, u(k), u(n), k), "layout A");
    detail::check(cublasLtMatrixLayoutCreate(&p->b.h, wt, u(k), u(m), k), "layout B");
    detail::check(cublasLtMatrixLayoutCreate(&p->d.h, CUDA_R_32F, u(n), u(m), n), "layout D");

    Preference pref;
    detail::check(cublasLtMatmulPreferenceCreate(&pref.h), "cublasLtMatmulPreferenceCreate");
    detail::check(
        cublasLtMatmulPreferenceSetAttribute(pref.h, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace, sizeof(workspace)),
        "CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES");
    const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> aligns[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_a},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_b},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_d},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_d}};
    for (const auto& [attr, value] : aligns) {
      detail::check(cublasLtMatmulPreferenceSetAttribute(pref.h, attr, &value, sizeof(value)),
                    "CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT");
    }
    int found = 0;
    detail::check(cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), p->desc.h, p->a.h, p->b.h, p->d.h,
                                                 p->d.h, pref.h, 1, &p->heuristic, &found),
                  "cublasLtMatmulAlgoGetHeuristic");
    CHATTERD_CHECK(found > 0, Unsupported, "cuBLASLt has no algorithm for {} x {} x {} ({})", m, n,
                   k, dtype_name(w_dtype));
    return p;
  });
  const float alpha = 1.0f;
  const float beta = 0.0f;
  detail::check(cublasLtMatmul(ctx.cublaslt(), plan.desc.h, &alpha, w, plan.a.h, b_ptr, plan.b.h,
                               &beta, out, plan.d.h, out, plan.d.h, &plan.heuristic.algo,
                               ctx.cublaslt_workspace(), workspace, stream),
                "cublasLtMatmul");
  if (bias != nullptr) add_row_bias(stream, out, bias, m, n);
  // x_cast returns to the cache here (the stream orders its reuse after this matmul), or stays
  // with the graph being captured.
}

}  // namespace chatterd::cuda
