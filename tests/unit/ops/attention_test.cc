#include "ops/attention.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/error.h"
#include "core/thread_pool.h"
#include "ops/kv_cache.h"

namespace chatterd::ops {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = t.data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

// Plain double-precision reference. mask: empty = all visible.
std::vector<float> reference_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                       float scale, bool causal, std::int64_t q_offset,
                                       const std::vector<bool>& mask) {
  const std::int64_t Tq = q.dim(0), Hq = q.dim(1), D = q.dim(2);
  const std::int64_t Tk = k.dim(0), Hkv = k.dim(1);
  const std::int64_t group = Hq / Hkv;
  const float* qd = q.data<float>();
  const float* kd = k.data<float>();
  const float* vd = v.data<float>();
  std::vector<float> out(static_cast<std::size_t>(Tq * Hq * D), 0.0f);
  for (std::int64_t i = 0; i < Tq; ++i) {
    for (std::int64_t h = 0; h < Hq; ++h) {
      const std::int64_t hk = h / group;
      std::vector<double> s(static_cast<std::size_t>(Tk));
      std::vector<bool> vis(static_cast<std::size_t>(Tk));
      double m = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < Tk; ++j) {
        const bool visible = (!causal || j <= q_offset + i) && (mask.empty() || mask[j]);
        vis[j] = visible;
        if (!visible) continue;
        double acc = 0;
        for (std::int64_t d = 0; d < D; ++d) {
          acc += double{qd[(i * Hq + h) * D + d]} * kd[(j * Hkv + hk) * D + d];
        }
        s[j] = acc * scale;
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (std::int64_t j = 0; j < Tk; ++j) {
        s[j] = vis[j] ? std::exp(s[j] - m) : 0.0;
        sum += s[j];
      }
      if (sum == 0) continue;  // no visible key: zeros
      for (std::int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (std::int64_t j = 0; j < Tk; ++j) acc += s[j] * vd[(j * Hkv + hk) * D + d];
        out[(i * Hq + h) * D + d] = static_cast<float>(acc / sum);
      }
    }
  }
  return out;
}

void expect_near_all(const Tensor& got, const std::vector<float>& want, float tol,
                     const std::string& what) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size())) << what;
  const float* g = got.data<float>();
  for (std::size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(g[i], want[i], tol) << what << " at " << i;
  }
}

struct Case {
  std::int64_t tq, tk, hq, hkv, d;
  bool causal;
};

TEST(Attention, MatchesReferenceAcrossShapesIsasAndThreads) {
  std::mt19937 rng(7);
  const Case cases[] = {
      {1, 1, 1, 1, 64, false},   {1, 37, 16, 16, 64, false}, {3, 37, 2, 1, 16, true},
      {5, 5, 3, 3, 16, true},    {37, 37, 2, 2, 64, true},   {37, 53, 16, 4, 64, true},
      {67, 67, 3, 1, 16, false}, {129, 131, 2, 2, 16, true}, {7, 300, 16, 16, 64, false},
  };
  ThreadPool pool(3);
  for (const Case& c : cases) {
    Tensor q = random_tensor({c.tq, c.hq, c.d}, rng, -2, 2);
    Tensor k = random_tensor({c.tk, c.hkv, c.d}, rng, -2, 2);
    Tensor v = random_tensor({c.tk, c.hkv, c.d}, rng);
    AttentionOptions opt;
    opt.causal = c.causal;
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.d));
    const auto want = reference_attention(q, k, v, scale, c.causal, c.tk - c.tq, {});
    Tensor single;
    for (auto isa : cpu::supported_isas()) {
      const std::string what = fmt::format("tq={} tk={} hq={} hkv={} d={} causal={} isa={}", c.tq,
                                           c.tk, c.hq, c.hkv, c.d, c.causal, cpu::isa_name(isa));
      ExecContext ctx{nullptr, isa};
      Tensor out;
      attention(ctx, q, k, v, opt, out);
      expect_near_all(out, want, 2e-5f, what);
      ExecContext pctx{&pool, isa};
      Tensor pout;
      attention(pctx, q, k, v, opt, pout);
      const float* a = out.data<float>();
      const float* b = pout.data<float>();
      for (std::int64_t i = 0; i < out.numel(); ++i) ASSERT_EQ(a[i], b[i]) << what;
    }
  }
}

TEST(Attention, ExplicitScaleAndOffset) {
  std::mt19937 rng(11);
  Tensor q = random_tensor({6, 2, 16}, rng);
  Tensor k = random_tensor({20, 2, 16}, rng);
  Tensor v = random_tensor({20, 2, 16}, rng);
  AttentionOptions opt;
  opt.causal = true;
  opt.q_offset = 3;  // queries at positions 3..8 of 20 keys
  opt.scale = 0.7f;
  Tensor out;
  attention({}, q, k, v, opt, out);
  expect_near_all(out, reference_attention(q, k, v, 0.7f, true, 3, {}), 2e-5f, "offset 3");
}

TEST(Attention, PaddingMaskAndFullyMaskedRows) {
  std::mt19937 rng(3);
  for (std::int64_t tq : {1, 2, 9}) {
    const std::int64_t tk = 23;
    Tensor q = random_tensor({tq, 4, 16}, rng);
    Tensor k = random_tensor({tk, 2, 16}, rng);
    Tensor v = random_tensor({tk, 2, 16}, rng);
    std::vector<bool> keep(tk);
    Tensor mask = Tensor::empty({tk}, DType::Bool);
    for (std::int64_t j = 0; j < tk; ++j) {
      keep[j] = (j % 3) != 1 && j != 0;
      mask.data<bool>()[j] = keep[j];
    }
    AttentionOptions opt;
    opt.key_padding_mask = &mask;
    Tensor out;
    attention({}, q, k, v, opt, out);
    expect_near_all(out, reference_attention(q, k, v, 0.25f, false, 0, keep), 2e-5f, "mask");
    // Causal with offset 0: query 0 only sees key 0, which is masked: an all-zero row.
    opt.causal = true;
    opt.q_offset = 0;
    attention({}, q, k, v, opt, out);
    expect_near_all(out, reference_attention(q, k, v, 0.25f, true, 0, keep), 2e-5f, "mask causal");
    for (std::int64_t d = 0; d < 4 * 16; ++d) EXPECT_EQ(out.data<float>()[d], 0.0f);
    // Every key masked: the whole output is zero, not NaN.
    for (std::int64_t j = 0; j < tk; ++j) mask.data<bool>()[j] = false;
    opt.causal = false;
    attention({}, q, k, v, opt, out);
    for (std::int64_t i = 0; i < out.numel(); ++i) ASSERT_EQ(out.data<float>()[i], 0.0f);
  }
}

TEST(Attention, LargeScoresStayFinite) {
  std::mt19937 rng(5);
  Tensor q = random_tensor({9, 1, 16}, rng, 20, 30);
  Tensor k = random_tensor({9, 1, 16}, rng, 20, 30);
  Tensor v = random_tensor({9, 1, 16}, rng);
  AttentionOptions opt;
  opt.scale = 1.0f;  // scores ~ 1e4: exp would overflow without the max shift
  Tensor out;
  attention({}, q, k, v, opt, out);
  expect_near_all(out, reference_attention(q, k, v, 1.0f, false, 0, {}), 1e-4f, "large");
}

// Prefill then decode steps through the cache == one causal attention over the whole sequence.
TEST(Attention, CachePrefillThenDecodeEqualsFullCausal) {
  std::mt19937 rng(42);
  for (auto [hq, hkv, d] :
       {std::tuple<std::int64_t, std::int64_t, std::int64_t>{16, 16, 64}, {3, 1, 16}, {4, 2, 16}}) {
    const std::int64_t prompt = 13, steps = 9, total = prompt + steps;
    Tensor q = random_tensor({total, hq, d}, rng);
    Tensor k = random_tensor({total, hkv, d}, rng);
    Tensor v = random_tensor({total, hkv, d}, rng);
    AttentionOptions opt;
    opt.causal = true;
    Tensor full;
    attention({}, q, k, v, opt, full);
    expect_near_all(
        full, reference_attention(q, k, v, 1.0f / std::sqrt(static_cast<float>(d)), true, 0, {}),
        2e-5f, "full");

    ThreadPool pool(2);
    for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
      ExecContext ctx{p, cpu::default_isa()};
      KvCache cache(hkv, d, 4);  // deliberately too small: append must grow it
      cache.append(ctx, k.narrow0(0, prompt), v.narrow0(0, prompt));
      Tensor out;
      attention(ctx, q.narrow0(0, prompt), cache, opt, out);
      std::vector<float> got(out.data<float>(), out.data<float>() + out.numel());
      for (std::int64_t t = prompt; t < total; ++t) {
        // Two-token steps near the end exercise Tq > 1 against a cache.
        const std::int64_t n = (t + 2 <= total && t >= total - 4) ? 2 : 1;
        cache.append(ctx, k.narrow0(t, n), v.narrow0(t, n));
        attention(ctx, q.narrow0(t, n), cache, opt, out);
        got.insert(got.end(), out.data<float>(), out.data<float>() + out.numel());
        t += n - 1;
      }
      EXPECT_EQ(cache.length(), total);
      EXPECT_GE(cache.capacity(), total);
      ASSERT_EQ(static_cast<std::int64_t>(got.size()), full.numel());
      for (std::size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], full.data<float>()[i], 1e-5f) << "hq=" << hq << " at " << i;
      }
    }
  }
}

TEST(KvCache, GrowsGeometricallyAndKeepsContents) {
  std::mt19937 rng(1);
  KvCache cache(2, 8);
  EXPECT_EQ(cache.capacity(), 0);
  cache.reserve(5);
  EXPECT_EQ(cache.capacity(), 5);
  Tensor k = random_tensor({7, 2, 8}, rng);
  Tensor v = random_tensor({7, 2, 8}, rng);
  cache.append({}, k.narrow0(0, 4), v.narrow0(0, 4));
  EXPECT_EQ(cache.capacity(), 5);
  cache.append({}, k.narrow0(4, 3), v.narrow0(4, 3));
  EXPECT_EQ(cache.capacity(), 10);
  ASSERT_EQ(cache.length(), 7);
  for (std::int64_t h = 0; h < 2; ++h) {
    for (std::int64_t t = 0; t < 7; ++t) {
      for (std::int64_t i = 0; i < 8; ++i) {
        EXPECT_EQ(cache.k_data()[h * cache.head_stride() + t * 8 + i],
                  k.data<float>()[(t * 2 + h) * 8 + i]);
        EXPECT_EQ(cache.v_data()[h * cache.head_stride() + t * 8 + i],
                  v.data<float>()[(t * 2 + h) * 8 + i]);
      }
    }
  }
  cache.truncate(3);
  EXPECT_EQ(cache.length(), 3);
  cache.clear();
  EXPECT_EQ(cache.length(), 0);
  EXPECT_EQ(cache.capacity(), 10);
}

TEST(Attention, Errors) {
  Tensor q = Tensor::zeros({2, 4, 16}, DType::F32);
  Tensor k = Tensor::zeros({3, 3, 16}, DType::F32);
  Tensor out;
  EXPECT_THROW(attention({}, q, k, k, {}, out), ShapeError);  // 3 kv heads do not divide 4
  Tensor k2 = Tensor::zeros({3, 2, 8}, DType::F32);
  EXPECT_THROW(attention({}, q, k2, k2, {}, out), ShapeError);  // head dim
  Tensor k3 = Tensor::zeros({3, 2, 16}, DType::F32);
  Tensor v3 = Tensor::zeros({4, 2, 16}, DType::F32);
  EXPECT_THROW(attention({}, q, k3, v3, {}, out), ShapeError);  // v shape
  Tensor qi = Tensor::zeros({2, 4, 16}, DType::I32);
  EXPECT_THROW(attention({}, qi, k3, k3, {}, out), DTypeError);
  Tensor mask = Tensor::zeros({4}, DType::Bool);
  AttentionOptions opt;
  opt.key_padding_mask = &mask;
  EXPECT_THROW(attention({}, q, k3, k3, opt, out), ShapeError);  // mask length 4 != Tk 3
  Tensor mask_f = Tensor::zeros({3}, DType::F32);
  opt.key_padding_mask = &mask_f;
  EXPECT_THROW(attention({}, q, k3, k3, opt, out), DTypeError);
  AttentionOptions neg;
  neg.causal = true;
  neg.q_offset = -1;
  EXPECT_THROW(attention({}, q, k3, k3, neg, out), InvalidArgument);
  KvCache cache(2, 16);
  EXPECT_THROW(cache.append({}, k2, k2), ShapeError);
  EXPECT_THROW(cache.truncate(1), InvalidArgument);
  EXPECT_THROW(KvCache(0, 16), InvalidArgument);
  Tensor q8 = Tensor::zeros({1, 4, 8}, DType::F32);
  EXPECT_THROW(attention({}, q8, cache, {}, out), ShapeError);
}

}  // namespace
}  // namespace chatterd::ops
