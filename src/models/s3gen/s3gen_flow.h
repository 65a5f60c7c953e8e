#pragma once
// S3Gen token -> mel ("flow": CausalMaskedDiffWithXvec + CausalConditionalCFM), CPU, batch 1.
//   tokens = cat[prompt tokens, speech tokens] -> flow.input_embedding -> UpsampleConformerEncoder
//   -> encoder_proj = mu [1, mel, T] (T = token_mel_ratio x tokens); spks = Linear(L2norm(xvec));
//   cond = prompt mel in the first F1 frames; CFM from noise z over all T frames; the prompt's F1
//   frames are cut from the result: mel [1, mel, T - F1].
// Solvers (from the config): meanflow (Turbo/Nano) = Euler on a linear grid with (t, r) pairs,
// batch 1, no CFG; otherwise Euler on the cosine grid 1 - cos(pi/2 s) with classifier-free
// guidance: batch [cond; uncond (mu = spks = cond = 0)], v = (1 + rate) v_cond - rate v_uncond.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chatterd/core/tensor.h"
#include "core/caching_allocator.h"
#include "core/rng.h"
#include "layers/linear.h"
#include "models/s3gen/conditional_decoder.h"
#include "models/s3gen/flow_tap.h"
#include "models/s3gen/s3gen_config.h"
#include "models/s3gen/upsample_conformer_encoder.h"
#include "ops/device_lane.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd {

// The voice prompt the flow is conditioned on (S3Gen's ref_dict / conds.pt "gen.*").
struct S3GenPrompt {
  Tensor tokens;  // i64 (or i32) [1, Tp] or [Tp]: S3 speech tokens of the reference (Tp may be 0)
  Tensor mel;     // f32 [1, F1, mel_bins] (prompt_feat: frames x bins), F1 = ratio x Tp
  Tensor embedding;  // f32 [1, spk_embed_dim] or [spk_embed_dim]: CAMPPlus x-vector

  // gen.prompt_token, gen.prompt_feat and gen.embedding of a conds.pt store.
  static S3GenPrompt from_conds(const WeightStore& conds);
};

// What the encoder hands to the CFM.
struct FlowEncoding {
  Tensor mu;                       // f32 [1, mel, T]
  Tensor mask;                     // f32 [1, 1, T] (all ones: one unpadded utterance)
  Tensor spks;                     // f32 [1, mel]
  Tensor cond;                     // f32 [1, mel, T]
  std::int64_t prompt_frames = 0;  // F1
};

struct S3GenFlowOptions {
  std::int64_t n_timesteps = 0;  // solver steps; 0 = config n_cfm_timesteps (meanflow 2, CFG 10)
  // false (streaming, non-final chunk): drop the last pre_lookahead_len x token_mel_ratio
  // encoder frames, which still wait for look-ahead tokens; the decoder mask is trimmed with
  // them (the reference forgets that and fails: architecture notes 6.2).
  bool finalize = true;
  const Tensor* noise = nullptr;  // injected initial z f32 [1, mel, T]; null: draw from the Rng
  const FlowTap* tap = nullptr;   // intermediates for parity tests
};

class S3GenFlow {
 public:
  // Prompt + speech tokens per call. The encoder and estimator attend over the whole sequence
  // (O(T^2) time and memory in the frame count), so longer inputs are refused with
  // InvalidArgument: 4096 tokens = 8192 mel frames = about 164 s of prompt + speech.
  static constexpr std::int64_t kMaxTokens = 4096;

  // Reads flow.* from `store` (checked: names the missing or misshaped tensor).
  S3GenFlow(const WeightStore& store, const S3GenConfig& config);

  // Validates the inputs (InvalidArgument naming the problem) and runs embedding + encoder.
  FlowEncoding encode(const ExecContext& ctx, const Tensor& speech_tokens,
                      const S3GenPrompt& prompt, bool finalize = true,
                      const FlowTap* tap = nullptr) const;
  // One estimator evaluation (the velocity field).
  void estimate(const ExecContext& ctx, const EstimatorInputs& in, Tensor& out,
                const FlowTap* tap = nullptr) const;
  // The ODE solve from z [1, mel, T] -> x [1, mel, T] (prompt frames included).
  Tensor solve(const ExecContext& ctx, const FlowEncoding& enc, const Tensor& z,
               std::int64_t n_timesteps, const FlowTap* tap = nullptr) const;
  // Several independent solves as one estimator batch (VocoderBatcher): item i's encoding and
  // noise z_i [1, mel, T_i] may differ in length and voice; items are right-padded to the longest
  // and masked. Each result [1, mel, T_i] is solve() of that item alone: the estimator's
  // attention runs over each item's own frames, its convs are causal, and the time MLPs run on
  // one row for the whole batch. Identical on the bf16 path; f32 within float reordering (a
  // padded item's convs sum in another order, ~3e-7 of the scale; tested). `tap`: batch of one.
  std::vector<Tensor> solve_batch(const ExecContext& ctx,
                                  std::span<const FlowEncoding* const> encodings,
                                  std::span<const Tensor* const> noises, std::int64_t n_timesteps,
                                  const FlowTap* tap = nullptr) const;
  // The initial noise as the reference draws it, from `rng`: CFG: z ~ N(0, 1) [1, mel, T];
  // meanflow: first noised ~ N(0, 1) [1, mel, n_speech_frames], then z ~ N(0, 1) [1, mel, T],
  // and z's last n_speech_frames frames are replaced by noised (see compose_meanflow_noise).
  Tensor draw_noise(Rng& rng, std::int64_t frames, std::int64_t speech_frames) const;

  // encode + noise + solve + trim: mel f32 [1, mel, T - F1]. `rng` may be null when
  // options.noise is given.
  Tensor infer(const ExecContext& ctx, const Tensor& speech_tokens, const S3GenPrompt& prompt,
               Rng* rng, const S3GenFlowOptions& options = {}) const;

  const S3GenConfig& config() const { return config_; }

  // The reduced-precision path (EngineConfig::vocoder_dtype bf16): packs the encoder's and the
  // estimator's frame-wise linears and convs for the bf16 GEMM tile (weights rounded once,
  // activations per call, f32 sums); the per-utterance M = 1 layers (time and speaker MLPs) stay
  // f32. Call once after loading, before concurrent use. Returns false (and changes nothing)
  // where the CPU lacks AVX512_BF16.
  bool pack_bf16(const ExecContext& ctx);

  // Runs the conformer encoder with encoder_proj (encode), the CFM estimator and the solver's
  // updates (solve, solve_batch, infer) on CUDA device `device` from now on: copies go there
  // with `dtype` matrices (f32 or bf16; norms, biases and the time MLPs f32); the token
  // embedding lookup and the speaker affine (one row) stay on the host. Calls run on one
  // DeviceContext owned here, one at a time (the device would serialise them anyway;
  // VocoderBatcher batches concurrent solves). A call with a tap stays on the host (taps read
  // host tensors). Call once, before pack_bf16 (which then leaves the encoder and the
  // estimator alone) and before concurrent use. Throws Unsupported without a device or CUDA
  // build, InvalidArgument after pack_bf16.
  void use_device(int device, DType dtype);
  // "cuda:N (bf16)" when use_device ran, else empty.
  std::string device_description() const;
  // The device context's caching allocator (weights, the solve's tensors); zeros on the host.
  CachingAllocatorStats device_memory() const;
  // GPU time of the device calls (encoder and solves) since use_device; zeros on the host.
  ops::DeviceBusy device_busy() const;

 private:
  // The padded estimator batch of a solve_batch call, built on the host.
  struct SolveBatch {
    std::int64_t items = 0, rows = 0, frames = 0;  // n, estimator rows (n or 2n), t_max
    std::vector<std::int64_t> lengths;             // frames of each item
    Tensor mask, mu, spks, cond;                   // estimator inputs [rows, ...]
    Tensor x;                                      // the ODE state [items, mel, frames]
  };
  struct DeviceEstimator;  // s3gen_flow_device.cc

  // The encoder, the look-ahead trim (finalize false) and encoder_proj: xs [1, n, D] -> mu
  // [1, mel, T] on xs's device, with `encoder`/`proj` on that device. f1: prompt frames.
  Tensor encode_frames(const ExecContext& ctx, const UpsampleConformerEncoder& encoder,
                       const layers::Linear& proj, const Tensor& xs, bool finalize, std::int64_t f1,
                       const FlowTap* tap) const;
  // The same with the device copies: uploads xs, returns mu on the host.
  Tensor encode_on_device(const ExecContext& ctx, const Tensor& xs, bool finalize,
                          std::int64_t f1) const;

  // The solver loop (grid.size() - 1 Euler steps) on the host: updates batch.x in place.
  void solve_on_host(const ExecContext& ctx, SolveBatch& batch, std::span<const float> grid,
                     const FlowTap* tap) const;
  // The same on the device: returns the final state on the host.
  Tensor solve_on_device(const ExecContext& ctx, const SolveBatch& batch,
                         std::span<const float> grid) const;

  S3GenConfig config_;
  Tensor input_embedding_;
  layers::Linear spk_affine_, encoder_proj_;
  UpsampleConformerEncoder encoder_;
  ConditionalDecoder estimator_;
  std::shared_ptr<DeviceEstimator> device_;  // use_device
};

// z [1, mel, T] with its last noised.dim(2) frames (all of them if noised is longer, from its
// start) replaced by `noised` [1, mel, N]: the meanflow composition of S3Gen.flow_inference's two
// draws (rng.cfm_z and rng.noised_mels in the goldens).
Tensor compose_meanflow_noise(const Tensor& z, const Tensor& noised);

// The solver's time grid: torch.linspace(0, 1, n + 1) in f32, then 1 - cos(s pi / 2) when cosine.
std::vector<float> flow_time_grid(std::int64_t n_timesteps, bool cosine);

}  // namespace chatterd
