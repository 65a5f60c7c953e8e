// The Turbo sampling chain on the device against the CPU's (t3::process_logits with the Turbo
// chain, then Sampler::draw with the same uniform): the processed scores (which entries were
// filtered, the surviving values) and the drawn ids, for rows with different options, a history
// for the repetition penalty, ties at the top-k threshold, an all -inf row and greedy rows.
// Scores are spread widely so no cumulative mass lands within float rounding of a threshold,
// where the two summation orders may legitimately differ. Skips without a GPU.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "backends/cuda/kernels.h"
#include "models/t3/logits_processors.h"
#include "models/t3/sampler.h"

namespace chatterd {
namespace {

// One launch over `vocab` entries per row; every row checked against the CPU.
void check_against_cpu(std::int64_t vocab) {
  cuda::DeviceContext dc(0);
  struct Row {
    cuda::TurboSampling p;
    float u;
  };
  const std::vector<Row> rows = {
      {{0.8f, 1000, 0.95f, 1.2f, 0}, 0.3f},  // the Turbo defaults
      {{0.8f, 1000, 0.95f, 1.2f, 0}, 0.97f},
      {{1.0f, 0, 1.0f, 1.0f, 0}, 0.5f},      // nothing but the draw
      {{0.5f, 50, 1.0f, 1.0f, 0}, 0.01f},    // top-k only, its threshold on a 200-way tie
      {{1.3f, 0, 0.5f, 2.0f, 0}, 0.75f},     // top-p only
      {{0.8f, 1000, 0.95f, 1.2f, 1}, 0.0f},  // greedy, two equal maxima in different chunks
      {{0.8f, 1000, 0.95f, 1.2f, 0}, 0.4f},  // every score -inf
  };
  const auto batch = static_cast<std::int64_t>(rows.size());
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  Tensor logits = Tensor::empty({batch, vocab}, DType::F32);
  for (std::int64_t i = 0; i < logits.numel(); ++i) logits.data<float>()[i] = normal(rng);
  float* tie_row = logits.data<float>() + 3 * vocab;
  for (std::int64_t i = 0; i < 200; ++i) tie_row[i] = 30.0f;  // the 50th largest: all kept
  for (std::int64_t i = 200; i < 220; ++i) tie_row[i] = 40.0f;
  logits.data<float>()[5 * vocab + 10] = 100.0f;  // greedy: the first of two
  logits.data<float>()[5 * vocab + 6000] = 100.0f;
  for (std::int64_t i = 0; i < vocab; ++i) logits.data<float>()[6 * vocab + i] = -INFINITY;

  // History: 40 random ids plus each row's three largest logits (so the penalty hits survivors).
  Tensor seen = Tensor::zeros({batch, vocab}, DType::I8);
  std::vector<std::vector<std::int64_t>> history(rows.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* row = logits.data<float>() + b * vocab;
    std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
    for (std::int64_t i = 0; i < vocab; ++i) order[static_cast<std::size_t>(i)] = i;
    std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                      [&](std::int64_t x, std::int64_t y) { return row[x] > row[y]; });
    auto& h = history[static_cast<std::size_t>(b)];
    h.assign(order.begin(), order.begin() + 3);
    for (int n = 0; n < 40; ++n) h.push_back(static_cast<std::int64_t>(rng() % vocab));
    for (const std::int64_t id : h) seen.data<std::int8_t>()[b * vocab + id] = 1;
  }

  Tensor params =
      Tensor::empty({batch * static_cast<std::int64_t>(sizeof(cuda::TurboSampling))}, DType::I8);
  Tensor uniforms = Tensor::empty({batch}, DType::F32);
  for (std::int64_t b = 0; b < batch; ++b) {
    std::memcpy(params.data<std::int8_t>() + b * sizeof(cuda::TurboSampling),
                &rows[static_cast<std::size_t>(b)].p, sizeof(cuda::TurboSampling));
    uniforms.data<float>()[b] = rows[static_cast<std::size_t>(b)].u;
  }
  const Tensor d_logits = dc.to_device(logits);
  const Tensor d_params = dc.to_device(params);
  Tensor d_seen = dc.to_device(seen);
  const Tensor d_uniforms = dc.to_device(uniforms);
  Tensor d_processed = dc.empty({batch, vocab}, DType::F32);
  Tensor d_ids = dc.empty({batch}, DType::I32);
  cuda::sample_turbo_rows(dc.stream().handle(), d_logits.device_data<float>(), batch, vocab,
                          static_cast<const cuda::TurboSampling*>(d_params.raw_data()),
                          static_cast<std::uint8_t*>(d_seen.raw_data()),
                          d_uniforms.device_data<float>(), d_processed.device_data<float>(),
                          d_ids.device_data<std::int32_t>());
  const Tensor processed = dc.to_host(d_processed);
  const Tensor ids = dc.to_host(d_ids);
  const Tensor seen_after = dc.to_host(d_seen);

  std::vector<float> probs;
  for (std::int64_t b = 0; b < batch; ++b) {
    const Row& r = rows[static_cast<std::size_t>(b)];
    std::vector<float> want(logits.data<float>() + b * vocab,
                            logits.data<float>() + (b + 1) * vocab);
    t3::SamplingOptions o;
    o.temperature = r.p.temperature;
    o.top_k = r.p.top_k;
    o.top_p = r.p.top_p;
    o.repetition_penalty = r.p.repetition_penalty;
    t3::process_logits(want, history[static_cast<std::size_t>(b)], o, t3::ProcessorChain::Turbo);
    const float* got = processed.data<float>() + b * vocab;
    int mismatches = 0;
    for (std::int64_t i = 0; i < vocab && mismatches < 5; ++i) {
      const float w = want[static_cast<std::size_t>(i)];
      const bool same = std::isinf(w) ? got[i] == w : std::fabs(got[i] - w) <= 1e-6f * std::fabs(w);
      if (!same) {
        ADD_FAILURE() << "vocab " << vocab << " row " << b << " [" << i << "]: got " << got[i]
                      << ", want " << w;
        ++mismatches;
      }
    }
    const std::int64_t want_id =
        r.p.greedy != 0 ? t3::Sampler::argmax(want) : t3::Sampler::draw(want, r.u, probs);
    EXPECT_EQ(ids.data<std::int32_t>()[b], want_id) << "vocab " << vocab << " row " << b;
    if (b == 5) {
      EXPECT_EQ(want_id, 10);  // the greedy row's first maximum
    }
    // seen: as before, plus the picked id.
    for (std::int64_t i = 0; i < vocab; ++i) {
      const bool expect = seen.data<std::int8_t>()[b * vocab + i] != 0 || i == want_id;
      if ((seen_after.data<std::int8_t>()[b * vocab + i] != 0) != expect) {
        ADD_FAILURE() << "vocab " << vocab << " row " << b << ": seen[" << i << "] wrong";
        break;
      }
    }
  }
}

// 6563 (Turbo's speech vocabulary, sorted as 8192 pairs) and 9000 (16384 pairs, the 128 KiB of
// shared memory opted in).
TEST(CudaSampling, TurboChainMatchesTheCpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  check_against_cpu(6563);
  check_against_cpu(9000);
}

}  // namespace
}  // namespace chatterd
