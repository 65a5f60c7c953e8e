// KvSlots' batched append + attention against the CPU attention op, stream by stream: GQA,
// streams of different lengths (0, across one and two 128-key tiles), fewer streams than slots,
// f32 and f16 slots, two steps (so the device-side advance is exercised). Skips without a GPU.

#include "backends/cuda/kv_slots.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "backends/cuda/context.h"
#include "backends/cuda/device.h"
#include "chatterd/core/error.h"
#include "cuda_test_util.h"
#include "ops/attention.h"
#include "ops/convert.h"

namespace chatterd {
namespace {

// The values a slot of `dtype` holds for `t` (f16 rounding), as f32.
Tensor as_stored(const Tensor& t, DType dtype) {
  if (dtype == DType::F32) return t.clone();
  Tensor half;
  Tensor back;
  ops::convert(ExecContext{}, t, dtype, half);
  ops::convert(ExecContext{}, half, DType::F32, back);
  return back;
}

class KvSlotsTest : public ::testing::TestWithParam<DType> {};

TEST_P(KvSlotsTest, AppendAndAttendMatchTheCpuPerStream) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: " << cuda::no_device_reason();
  const DType dtype = GetParam();
  cuda::DeviceContext dc(0);
  const ExecContext cpu;
  const std::int64_t hq = 8, hkv = 2, d = 64, capacity = 300, max_batch = 4, batch = 3;
  const std::vector<std::int64_t> lengths = {0, 129, 257};
  cuda::KvSlots slots(dc, 2, max_batch, capacity, hkv, d, dtype);
  std::mt19937 rng(5);

  // Host copies of what each stream's slot (layer 1) holds, f32 of the stored values.
  std::vector<Tensor> keys(batch), values(batch);
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::int64_t len = lengths[static_cast<std::size_t>(b)];
    keys[b] = as_stored(test::random_uniform({capacity, hkv, d}, rng, 1.5f), dtype);
    values[b] = as_stored(test::random_uniform({capacity, hkv, d}, rng, 1.5f), dtype);
    for (const auto& [host, slot] :
         {std::pair{&keys[b], slots.keys(1, b)}, std::pair{&values[b], slots.values(1, b)}}) {
      Tensor stored;
      ops::convert(cpu, *host, dtype, stored);
      Tensor dst = slot;
      dc.copy(dc.to_device(stored), dst);
    }
    slots.set_length(b, len);
  }

  const std::int64_t qd = hq * d, kd = hkv * d, stride = qd + 2 * kd + 3;  // odd row padding
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (int step = 0; step < 2; ++step) {
    const Tensor rows = test::random_uniform({batch, stride}, rng, 1.5f);
    const Tensor drows = dc.to_device(rows);
    Tensor out = dc.empty({batch, hq, d}, DType::F32);
    const float* base = drows.device_data<float>();
    slots.append(1, base + qd, base + qd + kd, stride, batch);
    slots.attend(1, base, stride, batch, hq, scale, out.device_data<float>());
    slots.advance(batch);
    slots.note_advanced(batch);
    const Tensor got = dc.to_host(out);
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t pos = lengths[static_cast<std::size_t>(b)] + step;
      const float* row = rows.data<float>() + b * stride;
      // The new position as the slot stores it.
      Tensor k_new = Tensor::empty({1, hkv, d}, DType::F32);
      Tensor v_new = Tensor::empty({1, hkv, d}, DType::F32);
      std::copy_n(row + qd, kd, k_new.data<float>());
      std::copy_n(row + qd + kd, kd, v_new.data<float>());
      std::copy_n(as_stored(k_new, dtype).data<float>(), kd, keys[b].data<float>() + pos * kd);
      std::copy_n(as_stored(v_new, dtype).data<float>(), kd, values[b].data<float>() + pos * kd);
      Tensor q = Tensor::empty({1, hq, d}, DType::F32);
      std::copy_n(row, qd, q.data<float>());
      Tensor want;
      ops::AttentionOptions o;
      o.causal = true;
      ops::attention(cpu, q, keys[b].narrow0(0, pos + 1), values[b].narrow0(0, pos + 1), o, want);
      double diff = 0, ref = 0;
      for (std::int64_t i = 0; i < want.numel(); ++i) {
        diff = std::max(diff,
                        std::fabs(double{got.data<float>()[b * qd + i]} - want.data<float>()[i]));
        ref = std::max(ref, std::fabs(double{want.data<float>()[i]}));
      }
      EXPECT_LT(diff / ref, 1e-5) << "step " << step << " stream " << b << " length " << pos;
      EXPECT_EQ(slots.length(b), pos + 1);
    }
  }
  EXPECT_EQ(slots.length(3), 0);  // the unused slot
  slots.set_length(0, capacity);
  EXPECT_THROW(slots.check_room(batch), InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, KvSlotsTest, ::testing::Values(DType::F32, DType::F16),
                         [](const ::testing::TestParamInfo<DType>& p) {
                           return std::string(dtype_name(p.param));
                         });

}  // namespace
}  // namespace chatterd
