#pragma once
// Moving tensors between the host and the ExecContext's CUDA device (ctx.cuda). Builds without
// the CUDA backend, or a context without a device, get an error naming the call. Both wait for
// the copy, so the source may change at return.

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

Tensor to_device(const ExecContext& ctx, const Tensor& host);
// A host tensor is returned as it is.
Tensor to_host(const ExecContext& ctx, const Tensor& t);
// Makes `out` a (shape, dtype) tensor on `like`'s device: Tensor::resize on the host, the CUDA
// context's ensure on the device (kept when it already is one, e.g. a view being written).
void ensure_like(const ExecContext& ctx, const Tensor& like, Tensor& out, const Shape& shape,
                 DType dtype);
// Zeroes every byte of `t` where it lives (host or ctx's device; queued on the stream there).
void fill_zero(const ExecContext& ctx, Tensor& t);
// A GEMM weight (linear or conv, [rows, ...]) on ctx's device as `dtype` (f32, bf16 or f16),
// converted into a fresh tensor: never into the host's buffer, which the host model and its
// WeightStore still use. cuBLASLt's tensor-core kernels want 16-byte rows, so a weight whose rows
// (numel / dim 0 values) are not a multiple of 8 stays f32 (HiFT's source convs over 18 STFT
// channels: < 1% of the FLOPs).
Tensor gemm_weight_to_device(const ExecContext& ctx, const Tensor& weight, DType dtype);
// An uninitialised tensor on ctx's device.
Tensor device_empty(const ExecContext& ctx, const Shape& shape, DType dtype);

}  // namespace chatterd::ops
