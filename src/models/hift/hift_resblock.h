#pragma once
// HiFi-GAN ResBlock with Snake activations: for each dilation d,
// x += conv2_k,1(snake2(conv1_k,d(snake1(x)))); all convs weight-normed, "same" padding.

#include <cstdint>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "models/hift/hift_conv.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

class HiftResBlock {
 public:
  HiftResBlock() = default;
  // Reads "<prefix>.convs{1,2}.<j>.*" and "<prefix>.activations{1,2}.<j>.alpha".
  HiftResBlock(const WeightStore& store, std::string_view prefix, std::int64_t channels,
               std::int64_t kernel, const std::vector<std::int64_t>& dilations);

  // x [1, C, T] -> out [1, C, T] (resized; must not alias x).
  void forward(const ExecContext& ctx, const Tensor& x, Tensor& out) const;
  void pack_bf16(const ExecContext& ctx);  // bf16 GEMM weights (see Linear::pack_bf16)
  // To ctx's CUDA device: conv matrices as `dtype`, Snake alphas f32.
  void to_device(const ExecContext& ctx, DType dtype);

 private:
  struct Unit {
    Tensor alpha1;
    Conv1dLayer conv1;
    Tensor alpha2;
    Conv1dLayer conv2;
  };
  std::vector<Unit> units_;
};

}  // namespace chatterd::hift
