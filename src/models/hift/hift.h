#pragma once
// HiFTGenerator (NSF + iSTFT HiFi-GAN vocoder): mel [1, 80, F] -> 24 kHz waveform [1, 480 F].
// f0 predictor -> harmonic source -> source STFT; conv_pre -> per stage: leaky_relu, transposed
// conv upsampling (+ a 1-sample left reflection pad at the last stage), source branch added,
// mean of the ResBlocks -> leaky_relu(0.01) -> conv_post -> exp magnitude / sin phase -> iSTFT ->
// clamp. The model is const and thread-safe; the randomness of a call is in HiftSourceNoise.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chatterd/core/tensor.h"
#include "core/caching_allocator.h"
#include "core/rng.h"
#include "models/hift/hift_conv.h"
#include "models/hift/hift_decoder_stack.h"
#include "models/hift/hift_f0_predictor.h"
#include "models/hift/hift_resblock.h"
#include "models/hift/hift_source.h"
#include "models/hift/hift_stft.h"
#include "models/s3gen/s3gen_config.h"
#include "ops/device_lane.h"
#include "ops/exec_context.h"
#include "weights/weight_store.h"

namespace chatterd::hift {

// Copies of the intermediate tensors of one call, keyed by the golden names ("hift.f0",
// "hift.ups.0.out", "output.sources", ...). Only filled when a caller passes one.
struct HiftTrace {
  std::map<std::string, Tensor, std::less<>> tensors;
  void put(const std::string& name, const Tensor& t) { tensors[name] = t.clone(); }
  const Tensor* find(std::string_view name) const;
};

struct HiftOutput {
  Tensor wav;     // f32 [1, samples_per_frame * F], clamped to +-audio_limit, no trim_fade
  Tensor source;  // f32 [1, 1, samples_per_frame * F]: the excitation (after cache_source)
};

class Hift {
 public:
  // Reads every "<prefix>*" tensor of hift_tensor_specs (weight norm folded at load).
  Hift(const WeightStore& store, const HiftConfig& config, const std::string& prefix = "mel2wav.");

  const HiftConfig& config() const { return config_; }
  std::int64_t samples_per_frame() const { return source_.upsample(); }
  std::int64_t harmonics() const { return source_.harmonics(); }  // nb_harmonics + 1

  // mel: f32 [1, in_channels, F]. noise: harmonics() rows of F * samples_per_frame() draws.
  // cache_source (optional, f32 [1, 1, L], L <= output samples) overwrites the start of the
  // excitation (streaming continuity). F = 0 gives empty outputs. Throws ShapeError on a wrong
  // mel shape and InvalidArgument on a non-finite mel value.
  HiftOutput infer(const ExecContext& ctx, const Tensor& mel, const HiftSourceNoise& noise,
                   const Tensor* cache_source = nullptr, HiftTrace* trace = nullptr) const;
  // Same, drawing the SineGen randomness from `rng`.
  HiftOutput infer(const ExecContext& ctx, const Tensor& mel, Rng& rng,
                   const Tensor* cache_source = nullptr, HiftTrace* trace = nullptr) const;

  // The stages, public for stage-wise parity. mel [1, C, F] -> f0 [1, F].
  void predict_f0(const ExecContext& ctx, const Tensor& mel, Tensor& f0) const;
  // f0 [1, F] -> source [1, 1, F * samples_per_frame()] (sine_waves: see HiftSineSource).
  void make_source(const ExecContext& ctx, const Tensor& f0, const HiftSourceNoise& noise,
                   Tensor& source, Tensor* sine_waves = nullptr) const;
  // mel [1, C, F] + source [1, 1, F * samples_per_frame()] -> wav [1, F * samples_per_frame()].
  void decode(const ExecContext& ctx, const Tensor& mel, const Tensor& source, Tensor& wav,
              HiftTrace* trace = nullptr) const;

  // Packs the decoder's Conv1d layers (not the transposed upsampling convs, nor the F0 predictor)
  // for the bf16 GEMM tile, as S3GenFlow::pack_bf16. Returns false where the CPU lacks AVX512_BF16.
  bool pack_bf16(const ExecContext& ctx);

  // Runs the convolution stack (HiftDecoderStack: conv_pre to conv_post, nearly all of HiFT's
  // work) on CUDA device `device` from now on, Conv1d matrices as `dtype` (f32 or bf16). The f0
  // predictor, the harmonic source, the source STFT and the final iSTFT stay on the host. Calls
  // run one at a time on a context owned here; a call with a trace stays on the host. Call once,
  // before pack_bf16 (which then leaves the stack alone) and before concurrent use. Throws
  // Unsupported without a device or CUDA build, InvalidArgument after pack_bf16.
  void use_device(int device, DType dtype);
  // "cuda:N (bf16)" when use_device ran, else empty.
  std::string device_description() const;
  // The device context's caching allocator (weights, im2col scratch); zeros on the host.
  CachingAllocatorStats device_memory() const;
  // GPU time of the conv-stack calls since use_device; zeros on the host.
  ops::DeviceBusy device_busy() const;

 private:
  struct DeviceStack;  // hift_device.cc

  void check_mel(const Tensor& mel) const;
  // The stack on the device: uploads mel and s_stft, returns conv_post's output on the host.
  Tensor decode_stack_on_device(const ExecContext& ctx, const Tensor& mel,
                                const Tensor& s_stft) const;

  HiftConfig config_;
  HiftF0Predictor f0_predictor_;
  HiftSineSource source_;
  SmallStft stft_;
  HiftDecoderStack stack_;
  std::shared_ptr<DeviceStack> device_;  // use_device
};

// S3Gen.inference's trim_fade: `zeros` zeros then `fade` samples of (cos(linspace(pi, 0)) + 1)/2,
// computed in f32 like the reference (default 480 + 480 at 24 kHz).
std::vector<float> trim_fade_window(std::int64_t zeros = 480, std::int64_t fade = 480);
// Multiplies the first min(window, T) samples of wav (f32 [1, T] or [T]) by trim_fade_window().
// Only the first chunk of a stream gets it.
void apply_trim_fade(Tensor& wav, std::int64_t zeros = 480, std::int64_t fade = 480);

}  // namespace chatterd::hift
