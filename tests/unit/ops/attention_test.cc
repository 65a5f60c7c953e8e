#include "ops/attention.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "backends/cpu/cpu_features.h"
#include "chatterd/core/error.h"
#include "chatterd/core/half.h"
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

struct AttentionCase {
  std::int64_t tq, tk, hq, hkv, d;
  bool causal;
};

TEST(Attention, MatchesReferenceAcrossShapesIsasAndThreads) {
  std::mt19937 rng(7);
  const AttentionCase cases[] = {
      {1, 1, 1, 1, 64, false},   {1, 37, 16, 16, 64, false}, {3, 37, 2, 1, 16, true},
      {5, 5, 3, 3, 16, true},    {37, 37, 2, 2, 64, true},   {37, 53, 16, 4, 64, true},
      {67, 67, 3, 1, 16, false}, {129, 131, 2, 2, 16, true}, {7, 300, 16, 16, 64, false},
  };
  ThreadPool pool(3);
  for (const AttentionCase& c : cases) {
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

// Rounds every value to f16 and back (what an f16 KV cache stores).
Tensor rounded_to_f16(const Tensor& t) {
  Tensor r = Tensor::empty(t.shape(), DType::F32);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    r.data<float>()[i] = half_to_float(float_to_half(t.data<float>()[i]));
  }
  return r;
}

// Prefill then decode steps through the cache == one causal attention over the whole sequence,
// for caches of several block sizes (blocks smaller than the prompt, one block, a block per
// token) in f32 and f16, on every ISA, with and without a pool.
TEST(Attention, CachePrefillThenDecodeEqualsFullCausal) {
  std::mt19937 rng(42);
  for (auto [hq, hkv, d] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{16, 16, 64},
                            {3, 1, 16},
                            {4, 2, 16},
                            {2, 2, 24}}) {
    const std::int64_t prompt = 13, steps = 9, total = prompt + steps;
    Tensor q = random_tensor({total, hq, d}, rng);
    Tensor k = random_tensor({total, hkv, d}, rng);
    Tensor v = random_tensor({total, hkv, d}, rng);
    AttentionOptions opt;
    opt.causal = true;
    for (const DType dtype : {DType::F32, DType::F16}) {
      // An f16 cache must match attention over the f16-rounded keys and values to f32 accuracy.
      const Tensor kr = dtype == DType::F16 ? rounded_to_f16(k) : k;
      const Tensor vr = dtype == DType::F16 ? rounded_to_f16(v) : v;
      Tensor full;
      attention({}, q, kr, vr, opt, full);
      expect_near_all(
          full,
          reference_attention(q, kr, vr, 1.0f / std::sqrt(static_cast<float>(d)), true, 0, {}),
          2e-5f, "full");
      ThreadPool pool(2);
      for (const std::int64_t block : {1, 4, 5, 64}) {
        for (auto isa : cpu::supported_isas()) {
          for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
            const std::string what =
                fmt::format("hq={} d={} {} block={} isa={} pool={}", hq, d, dtype_name(dtype),
                            block, cpu::isa_name(isa), p != nullptr);
            ExecContext ctx{p, isa};
            KvCache cache(std::make_shared<KvBlockPool>(KvLayout{hkv, d, dtype, block}));
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
            EXPECT_EQ(cache.length(), total) << what;
            EXPECT_EQ(cache.n_blocks(), (total + block - 1) / block) << what;
            ASSERT_EQ(static_cast<std::int64_t>(got.size()), full.numel());
            for (std::size_t i = 0; i < got.size(); ++i) {
              ASSERT_NEAR(got[i], full.data<float>()[i], 1e-5f) << what << " at " << i;
            }
          }
        }
      }
    }
  }
}

// Key (or value) of token t, head h, element i, read back from the cache's blocks.
float cached(const KvCache& cache, bool keys, std::int64_t t, std::int64_t h, std::int64_t i) {
  const std::int64_t bt = cache.block_tokens();
  const void* blk = keys ? cache.block_keys(t / bt) : cache.block_values(t / bt);
  const std::int64_t at = (h * bt + t % bt) * cache.head_dim() + i;
  return cache.dtype() == DType::F16 ? half_to_float(static_cast<const Half*>(blk)[at])
                                     : static_cast<const float*>(blk)[at];
}

TEST(KvCache, BlocksHoldTheRowsAndGoBackToThePool) {
  std::mt19937 rng(1);
  for (const DType dtype : {DType::F32, DType::F16}) {
    auto pool = std::make_shared<KvBlockPool>(KvLayout{2, 8, dtype, 4});
    KvCache cache(pool);
    EXPECT_EQ(cache.capacity(), 0);
    Tensor k = random_tensor({7, 2, 8}, rng);
    Tensor v = random_tensor({7, 2, 8}, rng);
    cache.append({}, k.narrow0(0, 4), v.narrow0(0, 4));
    EXPECT_EQ(cache.n_blocks(), 1);
    cache.append({}, k.narrow0(4, 3), v.narrow0(4, 3));
    EXPECT_EQ(cache.n_blocks(), 2);
    EXPECT_EQ(cache.capacity(), 8);
    ASSERT_EQ(cache.length(), 7);
    EXPECT_EQ(pool->stats().blocks_in_use, 2);
    for (std::int64_t h = 0; h < 2; ++h) {
      for (std::int64_t t = 0; t < 7; ++t) {
        for (std::int64_t i = 0; i < 8; ++i) {
          const float kw = k.data<float>()[(t * 2 + h) * 8 + i];
          const float vw = v.data<float>()[(t * 2 + h) * 8 + i];
          const float kx = dtype == DType::F16 ? half_to_float(float_to_half(kw)) : kw;
          const float vx = dtype == DType::F16 ? half_to_float(float_to_half(vw)) : vw;
          EXPECT_EQ(cached(cache, true, t, h, i), kx);
          EXPECT_EQ(cached(cache, false, t, h, i), vx);
        }
      }
    }
    cache.truncate(3);
    EXPECT_EQ(cache.length(), 3);
    EXPECT_EQ(cache.n_blocks(), 1);
    EXPECT_EQ(pool->stats().blocks_in_use, 1);
    cache.clear();
    EXPECT_EQ(cache.length(), 0);
    EXPECT_EQ(pool->stats().blocks_in_use, 0);
    // A new request reuses the freed blocks: no new slab.
    const std::int64_t allocated = pool->stats().blocks_allocated;
    cache.append({}, k, v);
    EXPECT_EQ(pool->stats().blocks_allocated, allocated);
    EXPECT_EQ(pool->stats().peak_blocks_in_use, 2);
    EXPECT_EQ(pool->stats().bytes_in_use(),
              2 * 2 * static_cast<std::size_t>(2 * 4 * 8) * (dtype == DType::F16 ? 2 : 4));
  }
}

TEST(KvCache, CopiesShareBlocksAndCopyBeforeWriting) {
  std::mt19937 rng(2);
  auto pool = std::make_shared<KvBlockPool>(KvLayout{2, 8, DType::F32, 4});
  Tensor k = random_tensor({8, 2, 8}, rng);
  Tensor v = random_tensor({8, 2, 8}, rng);
  KvCache prefix(pool);
  prefix.append({}, k.narrow0(0, 6), v.narrow0(0, 6));  // one full block, one partial
  KvCache a(pool);
  a.assign(prefix);
  KvCache b = prefix;
  EXPECT_EQ(pool->stats().blocks_in_use, 2);  // shared, not copied
  EXPECT_EQ(pool->references(static_cast<const std::byte*>(prefix.block_keys(1))), 3);
  a.append({}, k.narrow0(6, 1), v.narrow0(6, 1));  // writes into the shared partial block
  EXPECT_EQ(pool->stats().blocks_in_use, 3);
  b.append({}, k.narrow0(7, 1), v.narrow0(7, 1));
  EXPECT_EQ(pool->stats().blocks_in_use, 4);
  EXPECT_EQ(a.block_keys(0), prefix.block_keys(0));  // the full block stays shared
  EXPECT_NE(a.block_keys(1), prefix.block_keys(1));
  // Each sees the prefix plus its own token at position 6; the prefix is untouched.
  for (std::int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(cached(a, true, 6, 1, i), k.data<float>()[(6 * 2 + 1) * 8 + i]);
    EXPECT_EQ(cached(b, true, 6, 1, i), k.data<float>()[(7 * 2 + 1) * 8 + i]);
    EXPECT_EQ(cached(a, false, 5, 0, i), v.data<float>()[(5 * 2 + 0) * 8 + i]);
    EXPECT_EQ(cached(b, false, 5, 0, i), v.data<float>()[(5 * 2 + 0) * 8 + i]);
  }
  EXPECT_EQ(prefix.length(), 6);
  // A cache from another pool of the same layout gets a copy.
  auto other = std::make_shared<KvBlockPool>(KvLayout{2, 8, DType::F32, 4});
  KvCache c(other);
  c.assign(a);
  EXPECT_EQ(other->stats().blocks_in_use, 2);
  EXPECT_EQ(cached(c, true, 6, 1, 3), cached(a, true, 6, 1, 3));
  a.clear();
  b.clear();
  prefix.clear();
  EXPECT_EQ(pool->stats().blocks_in_use, 0);
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
  EXPECT_THROW(KvCache(2, 16, 0), InvalidArgument);  // block of no tokens
  EXPECT_THROW(KvBlockPool(KvLayout{2, 16, DType::BF16, 4}), DTypeError);
  KvCache f16(std::make_shared<KvBlockPool>(KvLayout{2, 16, DType::F16, 64}));
  EXPECT_THROW(f16.assign(cache), ShapeError);  // another storage dtype
  Tensor q8 = Tensor::zeros({1, 4, 8}, DType::F32);
  EXPECT_THROW(attention({}, q8, cache, {}, out), ShapeError);
}

}  // namespace
}  // namespace chatterd::ops
