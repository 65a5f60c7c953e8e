#pragma once
// Launchers of the CUDA kernels. All pointers are device pointers, queued on `stream`; nothing
// synchronises. Callers (ops) have validated shapes and dtypes; these check only what the kernels
// themselves assume. Kept free of CUDA headers so host-compiled ops can include it.

#include <cstddef>
#include <cstdint>

#include "chatterd/core/dtype.h"

struct CUstream_st;

namespace chatterd::cuda {

using StreamHandle = CUstream_st*;

// ---- elementwise (elementwise.cu)
enum class UnaryKind : std::uint8_t { Relu, Gelu, GeluTanh, Silu, Mish, Tanh, Sigmoid, Exp };
void unary_f32(StreamHandle stream, UnaryKind kind, const float* x, float* out, std::int64_t n);

enum class BinaryKind : std::uint8_t { Add, Sub, Mul, Div };
// A broadcast binary op over coalesced dims (ops::elementwise's plan): element strides of a and
// b per dim, 0 where broadcast; the last dim is the innermost.
inline constexpr int kMaxBinaryRank = 8;
struct BinaryPlan {
  int rank = 0;
  std::int64_t size[kMaxBinaryRank] = {};
  std::int64_t stride_a[kMaxBinaryRank] = {};
  std::int64_t stride_b[kMaxBinaryRank] = {};
};
void binary_f32(StreamHandle stream, BinaryKind kind, const float* a, const float* b, float* out,
                const BinaryPlan& plan);

// out[r, :] += bias (rows x n): the bias epilogue of linear.
void add_row_bias(StreamHandle stream, float* out, const float* bias, std::int64_t rows,
                  std::int64_t n);

// f32 / f16 / bf16 in any direction, round to nearest even (as ops::convert).
void convert(StreamHandle stream, const void* in, DType from, void* out, DType to, std::int64_t n);

// ---- rows (rows.cu): one block per row of the last axis
// gamma/beta may be null (no affine).
void layer_norm_f32(StreamHandle stream, const float* x, const float* gamma, const float* beta,
                    float* out, std::int64_t rows, std::int64_t d, float eps);
void rms_norm_f32(StreamHandle stream, const float* x, const float* gamma, float* out,
                  std::int64_t rows, std::int64_t d, float eps);
// log = true: log_softmax. An all -inf row gives zeros (log: -inf), as the CPU op.
void softmax_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows, std::int64_t d,
                 bool log);

// In place on x f32 [t, heads, head_dim]: HF rotate-half RoPE, token i at position start + i,
// cos/sin f32 [n_positions, head_dim / 2] (the host's RopeTable, uploaded). Positions are checked
// by the caller.
void rope_f32(StreamHandle stream, float* x, std::int64_t t, std::int64_t heads,
              std::int64_t head_dim, std::int64_t start, const float* cos, const float* sin);

// ---- layout (layout.cu)
// out[i] = in[src(i)] where output index i unravels over `size` (row-major) and src sums the
// coordinates times src_stride (x's element strides, reordered to the output's axes).
inline constexpr int kMaxPermuteRank = 8;
struct PermutePlan {
  int rank = 0;
  std::int64_t size[kMaxPermuteRank] = {};
  std::int64_t src_stride[kMaxPermuteRank] = {};
};
void permute(StreamHandle stream, const void* in, void* out, std::size_t elem_bytes,
             const PermutePlan& plan, std::int64_t n);
// [batch, rows, cols] -> [batch, cols, rows] of 4-byte values, through 32 x 32 shared tiles.
void swap_last_two_f32(StreamHandle stream, const float* in, float* out, std::int64_t batch,
                       std::int64_t rows, std::int64_t cols);

// ---- conv (conv.cu): PyTorch Conv1d on x f32 [batch, c_in, length] with zero padding.
struct Conv1dShape {
  std::int64_t batch = 0, c_in = 0, length = 0, kernel = 1;
  std::int64_t stride = 1, dilation = 1, groups = 1, pad_left = 0;
};
// cols f32 [batch * t_out, c_in * kernel]: row (b, t) holds the taps of output frame t, ordered
// as the weight's [c_out, c_in, kernel] rows, so out^T = cols . w^T is one GEMM (groups 1).
void im2col_1d(StreamHandle stream, const float* x, const Conv1dShape& shape, std::int64_t t_out,
               float* cols);
// The direct form for any groups: w f32 [c_out, c_in / groups, kernel], bias f32 [c_out] or
// null, out f32 [batch, c_out, t_out].
void conv1d_direct_f32(StreamHandle stream, const float* x, const float* w, const float* bias,
                       const Conv1dShape& shape, std::int64_t c_out, std::int64_t t_out,
                       float* out);

// ---- vocoder (vocoder.cu): what HiFT needs besides conv1d
enum class UnaryParamKind : std::uint8_t { LeakyRelu, Elu, Scale, AddScalar };
// out = f(x, param) elementwise: leaky ReLU (slope), ELU (alpha), x * s, x + s.
void unary_param_f32(StreamHandle stream, UnaryParamKind kind, const float* x, float* out,
                     std::int64_t n, float param);
// Snake: x + sin(alpha_c x)^2 / (alpha_c + 1e-9) over x [rows, t], row r in channel r % channels.
void snake_f32(StreamHandle stream, const float* x, const float* alpha, float* out,
               std::int64_t rows, std::int64_t channels, std::int64_t t);
enum class PadKind : std::uint8_t { Zero, Reflect, Replicate };
// x [rows, t] -> out [rows, left + t + right] (ops::pad1d's modes; reflect needs pads < t).
void pad1d_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows, std::int64_t t,
               std::int64_t left, std::int64_t right, PadKind kind);
// PyTorch ConvTranspose1d: x f32 [batch, c_in, length], w f32 [c_in, c_out / groups, kernel],
// bias f32 [c_out] or null, out f32 [batch, c_out, t_out] (t_out from the caller).
struct ConvTranspose1dShape {
  std::int64_t batch = 0, c_in = 0, c_out = 0, length = 0, kernel = 1, t_out = 0;
  std::int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
};
void conv_transpose1d_f32(StreamHandle stream, const float* x, const float* w, const float* bias,
                          const ConvTranspose1dShape& shape, float* out);

// ---- relative-position attention (rel_pos_attention.cu): ops/rel_pos_attention.h's contract,
// q/k/v f32 [t, heads * dk], p f32 [2t - 1, heads * dk], biases f32 [heads, dk], out like q.
void rel_pos_attention_f32(StreamHandle stream, const float* q, const float* k, const float* v,
                           const float* p, const float* bias_u, const float* bias_v, std::int64_t t,
                           std::int64_t heads, std::int64_t dk, float* out);
// out[r, i * factor + f] = x[r, i] (nearest-neighbour upsampling of the last axis).
void upsample_nearest1d_f32(StreamHandle stream, const float* x, float* out, std::int64_t rows,
                            std::int64_t t, std::int64_t factor);

// ---- flow solver (flow.cu)
// One Euler step of S3Gen's ODE for `items` states x f32 [items, mel, frames]:
//   x += dt * v (meanflow: v [items, mel, frames]), or with CFG (cfg_pair: v [2 items, mel,
//   frames], rows 2i conditioned and 2i + 1 unconditioned) x += dt * ((1 + cfg) v_c - cfg v_u).
// Only item i's first lengths[i] frames (device i32 [items]) change, as on the host: its padding
// stays as it is.
void flow_euler_step(StreamHandle stream, float* x, const float* v, const std::int32_t* lengths,
                     std::int64_t items, std::int64_t mel, std::int64_t frames, float dt, float cfg,
                     bool cfg_pair);

// rope_f32 with token i at positions[i] (device i32 [t]); positions outside [0, n_positions)
// leave their token unrotated (the host checks them before the step).
void rope_positions_f32(StreamHandle stream, float* x, std::int64_t t, std::int64_t heads,
                        std::int64_t head_dim, const std::int32_t* positions,
                        std::int64_t n_positions, const float* cos, const float* sin);

// ---- linear (linear.cu)
// out[m, n] = x[m, k] . w[n, k] (+ bias[n]), w f32 / f16 / bf16 ("out x in"), f32 accumulation.
// The decode kernel: each warp streams whole weight rows once for up to kGemvMaxRows activation
// rows. Needs k % 8 == 0 and 16-byte aligned w for its vector loads (checked; the op falls back
// to cuBLASLt otherwise).
inline constexpr std::int64_t kGemvMaxRows = 8;
bool gemv_supported(const void* w, DType w_dtype, std::int64_t k);
void gemv(StreamHandle stream, const float* x, std::int64_t m, std::int64_t k, const void* w,
          DType w_dtype, const float* bias, float* out, std::int64_t n);

// ---- attention (attention.cu)
// One query block per (query row, head), keys walked in tiles with an online softmax; K/V f32 or
// f16 [Tk, Hkv, D], q/out f32 [Tq, Hq, D]. Key j is visible to query i when (!causal or
// j <= q_offset + i) and (mask == null or mask[j] != 0); a row with no visible key gets zeros.
struct AttentionShape {
  std::int64_t tq = 0, tk = 0, hq = 0, hkv = 0, d = 0;
  float scale = 1.0f;
  bool causal = false;
  std::int64_t q_offset = 0;
};
inline constexpr std::int64_t kAttentionMaxHeadDim = 256;
void attention_f32(StreamHandle stream, const AttentionShape& shape, const float* q, const void* k,
                   const void* v, DType kv_dtype, const std::uint8_t* key_mask, float* out);

// ---- batched decode (decode_batch.cu): one new position for each of `batch` streams whose
// caches are fixed slots (KvSlots). Every per-stream value (token id, slot length) is read from
// device memory, so a captured step replays correctly as they change.

// out[i, :] = table[ids[i], :] as f32 (table f32/f16/bf16 [rows, d]); ids outside [0, rows)
// give a zero row.
void gather_rows(StreamHandle stream, const void* table, DType table_dtype, std::int64_t rows,
                 std::int64_t d, const std::int32_t* ids, std::int64_t n, float* out);
// Row b of k_new / v_new (f32, rows `src_stride` elements apart, row_elems = Hkv * D values) goes
// to position lengths[b] of slot b (keys[b] / values[b]: [capacity, Hkv, D] of kv_dtype, f16 or
// f32). A position at or past capacity is dropped (the host retires streams before).
void kv_append_batch(StreamHandle stream, const float* k_new, const float* v_new,
                     std::int64_t src_stride, void* const* keys, void* const* values,
                     DType kv_dtype, const std::int32_t* lengths, std::int64_t capacity,
                     std::int64_t batch, std::int64_t row_elems);
// out[b, h, :] = attention of q[b, h, :] (rows q_stride elements apart) over slot b's first
// min(lengths[b] + 1, capacity) positions (this step's own included); out is [batch, Hq, D].
void attention_decode_batch(StreamHandle stream, const float* q, std::int64_t q_stride,
                            const void* const* keys, const void* const* values, DType kv_dtype,
                            const std::int32_t* lengths, std::int64_t capacity, std::int64_t batch,
                            std::int64_t hq, std::int64_t hkv, std::int64_t d, float scale,
                            float* out);
// lengths[b] += 1 for b < batch (the end of a step).
void advance_lengths(StreamHandle stream, std::int32_t* lengths, std::int64_t batch);
// ids[b] = the first index of the largest logits[b, :] (as t3::Sampler::argmax; -1 when no value
// exceeds -inf).
void argmax_rows(StreamHandle stream, const float* logits, std::int64_t batch, std::int64_t vocab,
                 std::int32_t* ids);

// ---- sampling (sampling.cu): the Turbo/Nano processor chain and the draw, on the device, so a
// decode step returns token ids only. Per stream b (one block per row):
//   scores = logits[b] / temperature (when > 0 and != 1), top-k (ties kept), top-p (ascending
//   order, ties by index, the largest always kept), repetition penalty on the filtered scores for
//   every id with seen[b, id] != 0 (s < 0 ? s * p : s / p), then the greedy pick (first maximum)
//   or the inverse-CDF draw with uniforms[b] in index order (the CPU Sampler's rule); -1 when
//   every score is -inf. processed[b] receives the final scores (for checks). seen[b, id] is set
//   for the picked id. NaN logits are not supported (the CPU chain is not defined for them
//   either).
struct TurboSampling {
  float temperature = 0.8f;
  std::int32_t top_k = 1000;  // 0 disables
  float top_p = 0.95f;        // 1 disables
  float repetition_penalty = 1.2f;
  std::int32_t greedy = 0;
};
inline constexpr std::int64_t kSamplingMaxVocab = 16384;
void sample_turbo_rows(StreamHandle stream, const float* logits, std::int64_t batch,
                       std::int64_t vocab, const TurboSampling* params, std::uint8_t* seen,
                       const float* uniforms, float* processed, std::int32_t* ids);

}  // namespace chatterd::cuda
