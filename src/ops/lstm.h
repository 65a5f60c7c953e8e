#pragma once
// Multi-layer unidirectional LSTM, PyTorch nn.LSTM semantics (batch_first, gate order i, f, g, o,
// two bias vectors, zero initial state):
//   i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)   f, o likewise;   g = tanh(...)
//   c' = f * c + i * g;   h' = o * tanh(c')

#include <cstdint>
#include <span>

#include "chatterd/core/tensor.h"
#include "ops/exec_context.h"

namespace chatterd::ops {

struct LstmLayerWeights {
  Tensor w_ih;  // f32 [4H, I_l] (I_0 = input size, I_l = H above)
  Tensor w_hh;  // f32 [4H, H]
  Tensor b_ih;  // f32 [4H]
  Tensor b_hh;  // f32 [4H]
};

// x: f32 [B, T, I]; out: f32 [B, T, H] (top layer, resized); h_n, c_n: f32 [L, B, H] (resized)
// when not null. Each layer first computes x.W_ih^T + b_ih + b_hh for the whole sequence with
// sgemm, then runs the recurrence with the hidden units split across ctx's threads.
void lstm(const ExecContext& ctx, const Tensor& x, std::span<const LstmLayerWeights> layers,
          Tensor& out, Tensor* h_n = nullptr, Tensor* c_n = nullptr);

}  // namespace chatterd::ops
