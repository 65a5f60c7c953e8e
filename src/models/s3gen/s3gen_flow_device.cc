// S3GenFlow's device path (use_device, encode_on_device, solve_on_device): the encoder and
// estimator copies on an ops::DeviceLane (one call at a time) and the solver loop on the GPU.
// Without the CUDA backend, use_device refuses with a reason.

#include <fmt/format.h>

#include <optional>
#include <utility>
#include <vector>

#include "core/check.h"
#include "models/s3gen/s3gen_flow.h"
#include "ops/device.h"
#include "ops/device_lane.h"

#ifdef CHATTERD_HAVE_CUDA
#include "backends/cuda/context.h"
#include "backends/cuda/kernels.h"
#endif

namespace chatterd {

struct S3GenFlow::DeviceEstimator {
  explicit DeviceEstimator(int device) : lane(device) {}
  ops::DeviceLane lane;
  // Destroyed before the lane's context.
  std::optional<ConditionalDecoder> estimator;
  std::optional<UpsampleConformerEncoder> encoder;
  std::optional<layers::Linear> encoder_proj;
  std::string description;
};

void S3GenFlow::use_device(int device, DType dtype) {
  CHATTERD_CHECK(dtype == DType::F32 || dtype == DType::BF16, InvalidArgument,
                 "S3GenFlow::use_device: matrices must be f32 or bf16, got {}", dtype_name(dtype));
  // The device's rel-pos attention keeps a row of scores in shared memory: about 11,700 frames.
  CHATTERD_CHECK(kMaxTokens * config_.encoder.up_stride <= 11000, Unsupported,
                 "S3GenFlow::use_device: up to {} tokens make {} encoder frames, more than the "
                 "device's rel-pos attention holds (11000)",
                 kMaxTokens, kMaxTokens * config_.encoder.up_stride);
  auto d = std::make_shared<DeviceEstimator>(device);
  d->lane.run(ExecContext{}, [&](const ExecContext& ctx) {
    // Copies share the host weights until to_device replaces them.
    d->estimator.emplace(estimator_);
    d->estimator->to_device(ctx, dtype);
    d->encoder.emplace(encoder_);
    d->encoder->to_device(ctx, dtype);
    d->encoder_proj.emplace(encoder_proj_);
    d->encoder_proj->to_device(ctx, dtype);
  });
  d->description = fmt::format("cuda:{} ({})", device, dtype_name(dtype));
  device_ = std::move(d);
}

std::string S3GenFlow::device_description() const {
  return device_ ? device_->description : std::string();
}

CachingAllocatorStats S3GenFlow::device_memory() const {
  return device_ ? device_->lane.memory() : CachingAllocatorStats{};
}

ops::DeviceBusy S3GenFlow::device_busy() const {
  return device_ ? device_->lane.busy() : ops::DeviceBusy{};
}

Tensor S3GenFlow::encode_on_device(const ExecContext& host_ctx, const Tensor& xs, bool finalize,
                                   std::int64_t f1) const {
  return device_->lane.run(host_ctx, [&](const ExecContext& ctx) {
    const Tensor mu = encode_frames(ctx, *device_->encoder, *device_->encoder_proj,
                                    ops::to_device(ctx, xs), finalize, f1, nullptr);
    return ops::to_host(ctx, mu);  // waits for the stream
  });
}

Tensor S3GenFlow::solve_on_device(const ExecContext& host_ctx, const SolveBatch& batch,
                                  std::span<const float> grid) const {
#ifdef CHATTERD_HAVE_CUDA
  return device_->lane.run(host_ctx, [&](const ExecContext& ctx) {
    cuda::DeviceContext& dc = *ctx.cuda;
    const std::int64_t mel = config_.mel_bins;
    const bool meanflow = config_.meanflow;
    const std::int64_t n = batch.items;
    const std::int64_t frames = batch.frames;
    const Tensor mask = ops::to_device(ctx, batch.mask);
    std::vector<std::int32_t> host_lengths;
    for (const std::int64_t len : batch.lengths)
      host_lengths.push_back(static_cast<std::int32_t>(len));
    const Tensor lengths = ops::to_device(
        ctx, Tensor::from_span<std::int32_t>(host_lengths, {static_cast<std::int64_t>(n)}));
    const Tensor mu = ops::to_device(ctx, batch.mu);
    const Tensor spks = ops::to_device(ctx, batch.spks);
    const Tensor cond = ops::to_device(ctx, batch.cond);
    Tensor x = ops::to_device(ctx, batch.x);
    Tensor x_in = meanflow ? x : ops::device_empty(ctx, {batch.rows, mel, frames}, DType::F32);
    Tensor v;
    // Every step's time embeddings in one upload (row 2k: t of step k, row 2k + 1: its r), so no
    // step waits for the device before queueing its kernels.
    const auto steps = static_cast<std::int64_t>(grid.size()) - 1;
    const std::int64_t channels = config_.estimator.in_channels;
    Tensor sinusoids;
    {
      std::vector<float> times;
      for (std::int64_t k = 0; k < steps; ++k) {
        times.push_back(grid[static_cast<std::size_t>(k)]);
        times.push_back(grid[static_cast<std::size_t>(k + 1)]);
      }
      sinusoids = ops::to_device(ctx, sinusoidal_time_embedding(times, channels));
    }
    const auto cfg = static_cast<float>(config_.inference_cfg_rate);
    const std::size_t item_bytes = static_cast<std::size_t>(mel * frames) * sizeof(float);
    for (std::size_t k = 0; k + 1 < grid.size(); ++k) {
      if (!meanflow) {  // both rows of item i (2i, 2i + 1) start from state i
        auto* dst = static_cast<std::byte*>(x_in.raw_data());
        dc.copy_rows(dst, 2 * item_bytes, x.raw_data(), item_bytes, item_bytes,
                     static_cast<std::size_t>(n));
        dc.copy_rows(dst + item_bytes, 2 * item_bytes, x.raw_data(), item_bytes, item_bytes,
                     static_cast<std::size_t>(n));
      }
      const std::vector<float> ts(static_cast<std::size_t>(batch.rows), grid[k]);
      const std::vector<float> rs(static_cast<std::size_t>(batch.rows), grid[k + 1]);
      EstimatorInputs in;
      in.x = &x_in;
      in.mask = &mask;
      in.host_mask = &batch.mask;
      in.mu = &mu;
      in.spks = &spks;
      in.cond = &cond;
      in.t = ts;
      if (meanflow) in.r = rs;
      const auto row = static_cast<std::int64_t>(2 * k);
      const Tensor t_sinusoid = sinusoids.narrow0(row, 1);
      const Tensor r_sinusoid = sinusoids.narrow0(row + 1, 1);
      in.t_sinusoid = &t_sinusoid;
      in.r_sinusoid = &r_sinusoid;
      device_->estimator->forward(ctx, in, v);
      cuda::flow_euler_step(dc.stream().handle(), x.device_data<float>(), v.device_data<float>(),
                            lengths.device_data<std::int32_t>(), n, mel, frames,
                            grid[k + 1] - grid[k], cfg, !meanflow);
    }
    return ops::to_host(ctx, x);  // waits for the stream
  });
#else
  (void)host_ctx, (void)batch, (void)grid;
  CHATTERD_THROW(Unsupported, "S3GenFlow: this build has no CUDA backend");
#endif
}

}  // namespace chatterd
