#include "ops/lstm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/attention_kernels.h"
#include "backends/cpu/blas.h"
#include "core/check.h"

namespace chatterd::ops {
namespace {

constexpr std::int64_t kRowBlock = 64;   // rows of the input projection per work item
constexpr std::int64_t kUnitBlock = 16;  // hidden units per work item in the recurrence

float sigmoid(float v) {
  return 1.0f / (1.0f + std::exp(-v));
}

void check_layer(const LstmLayerWeights& w, std::size_t l, std::int64_t in_size, std::int64_t H) {
  const std::string p = "lstm: layer " + std::to_string(l) + " ";
  for (const Tensor* t : {&w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh}) {
    check_dtype(*t, DType::F32, (p + "weight").c_str());
  }
  check_shape(w.w_ih, Shape{4 * H, in_size}, (p + "w_ih").c_str());
  check_shape(w.w_hh, Shape{4 * H, H}, (p + "w_hh").c_str());
  check_shape(w.b_ih, Shape{4 * H}, (p + "b_ih").c_str());
  check_shape(w.b_hh, Shape{4 * H}, (p + "b_hh").c_str());
}

}  // namespace

void lstm(const ExecContext& ctx, const Tensor& x, std::span<const LstmLayerWeights> layers,
          Tensor& out, Tensor* h_n, Tensor* c_n) {
  check_dtype(x, DType::F32, "lstm: x");
  check_rank(x, 3, "lstm: x");
  CHATTERD_CHECK(!layers.empty(), InvalidArgument, "lstm: no layers");
  check_rank(layers[0].w_hh, 2, "lstm: layer 0 w_hh");
  const std::int64_t B = x.dim(0), T = x.dim(1), I = x.dim(2);
  const std::int64_t H = layers[0].w_hh.dim(1);
  CHATTERD_CHECK(H > 0, ShapeError, "lstm: hidden size must be positive (w_hh {})",
                 layers[0].w_hh.to_string());
  const auto L = static_cast<std::int64_t>(layers.size());
  for (std::size_t l = 0; l < layers.size(); ++l) check_layer(layers[l], l, l == 0 ? I : H, H);

  out.resize({B, T, H}, DType::F32);
  if (h_n != nullptr) h_n->resize({L, B, H}, DType::F32);
  if (c_n != nullptr) c_n->resize({L, B, H}, DType::F32);
  const std::int64_t G4 = 4 * H;
  std::vector<float> gates(static_cast<std::size_t>(B * T * G4));
  std::vector<float> hidden(static_cast<std::size_t>(L > 1 ? B * T * H : 0));  // between layers
  std::vector<float> h(static_cast<std::size_t>(2 * B * H));  // double-buffered h_{t-1}, h_t
  std::vector<float> c(static_cast<std::size_t>(B * H));
  const auto& kern = cpu::attention_kernels(ctx.isa);

  for (std::int64_t l = 0; l < L; ++l) {
    const LstmLayerWeights& w = layers[static_cast<std::size_t>(l)];
    const std::int64_t in_size = l == 0 ? I : H;
    const float* in = l == 0 ? x.data<float>() : hidden.data();
    // The top layer writes out directly; lower layers write `hidden`, which the next layer reads
    // only through `gates`, so one buffer suffices.
    float* dst = l == L - 1 ? out.data<float>() : hidden.data();
    const float* wih = w.w_ih.data<float>();
    const float* whh = w.w_hh.data<float>();
    const float* bih = w.b_ih.data<float>();
    const float* bhh = w.b_hh.data<float>();
    const std::int64_t rows = B * T;

    // gates[r, :] = in[r, :] . W_ih^T + b_ih + b_hh for every (batch, time) row.
    const std::int64_t n_row_blocks = (rows + kRowBlock - 1) / kRowBlock;
    ctx.parallel_for(n_row_blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t blk = b0; blk < b1; ++blk) {
        const std::int64_t r0 = blk * kRowBlock;
        const std::int64_t nr = std::min(kRowBlock, rows - r0);
        float* g = gates.data() + r0 * G4;
        for (std::int64_t r = 0; r < nr; ++r) {
          for (std::int64_t j = 0; j < G4; ++j) g[r * G4 + j] = bih[j] + bhh[j];
        }
        cpu::sgemm(false, true, nr, G4, in_size, 1.0f, in + r0 * in_size, in_size, wih, in_size,
                   1.0f, g, G4);
      }
    });

    std::fill(h.begin(), h.end(), 0.0f);
    std::fill(c.begin(), c.end(), 0.0f);
    const std::int64_t n_unit_blocks = (H + kUnitBlock - 1) / kUnitBlock;
    for (std::int64_t t = 0; t < T; ++t) {
      const float* h_prev = h.data() + (t % 2) * B * H;
      float* h_next = h.data() + ((t + 1) % 2) * B * H;
      ctx.parallel_for(n_unit_blocks, 1, [&](std::int64_t u0, std::int64_t u1) {
        for (std::int64_t j = u0 * kUnitBlock; j < std::min(H, u1 * kUnitBlock); ++j) {
          for (std::int64_t b = 0; b < B; ++b) {
            const float* g = gates.data() + (b * T + t) * G4;
            const float* hp = h_prev + b * H;
            const float pi = g[j] + kern.dot(whh + j * H, hp, H);
            const float pf = g[H + j] + kern.dot(whh + (H + j) * H, hp, H);
            const float pg = g[2 * H + j] + kern.dot(whh + (2 * H + j) * H, hp, H);
            const float po = g[3 * H + j] + kern.dot(whh + (3 * H + j) * H, hp, H);
            float& cell = c[static_cast<std::size_t>(b * H + j)];
            cell = sigmoid(pf) * cell + sigmoid(pi) * std::tanh(pg);
            const float hv = sigmoid(po) * std::tanh(cell);
            h_next[b * H + j] = hv;
            dst[(b * T + t) * H + j] = hv;
          }
        }
      });
    }
    const float* h_last = h.data() + (T % 2) * B * H;
    if (h_n != nullptr) std::copy(h_last, h_last + B * H, h_n->data<float>() + l * B * H);
    if (c_n != nullptr) std::copy(c.begin(), c.end(), c_n->data<float>() + l * B * H);
  }
}

}  // namespace chatterd::ops
