#include "ops/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "backends/cpu/convert_kernels.h"
#include "core/check.h"

namespace chatterd::ops {
namespace {

const KvLayout kNoLayout{};

}  // namespace

KvCache::KvCache(std::shared_ptr<KvBlockPool> pool) : pool_(std::move(pool)) {
  CHATTERD_CHECK(pool_ != nullptr, InvalidArgument, "kv_cache: null block pool");
}

KvCache::KvCache(std::int64_t n_kv_heads, std::int64_t head_dim, std::int64_t block_tokens)
    : pool_(
          std::make_shared<KvBlockPool>(KvLayout{n_kv_heads, head_dim, DType::F32, block_tokens})) {
}

KvCache::KvCache(const KvCache& other)
    : pool_(other.pool_), blocks_(other.blocks_), length_(other.length_) {
  for (std::byte* b : blocks_) pool_->retain(b);
}

KvCache& KvCache::operator=(const KvCache& other) {
  if (this == &other) return *this;
  KvCache copy(other);
  *this = std::move(copy);
  return *this;
}

KvCache::KvCache(KvCache&& other) noexcept
    : pool_(std::move(other.pool_)),
      blocks_(std::exchange(other.blocks_, {})),
      length_(std::exchange(other.length_, 0)) {}

KvCache& KvCache::operator=(KvCache&& other) noexcept {
  if (this == &other) return *this;
  release_all();
  pool_ = std::move(other.pool_);
  blocks_ = std::exchange(other.blocks_, {});
  length_ = std::exchange(other.length_, 0);
  return *this;
}

KvCache::~KvCache() {
  release_all();
}

const KvLayout& KvCache::layout() const {
  return pool_ ? pool_->layout() : kNoLayout;
}

void KvCache::release_all() {
  for (std::byte* b : blocks_) pool_->release(b);
  blocks_.clear();
  length_ = 0;
}

void KvCache::clear() {
  release_all();
}

void KvCache::truncate(std::int64_t n_tokens) {
  CHATTERD_CHECK(n_tokens >= 0 && n_tokens <= length_, InvalidArgument,
                 "kv_cache: truncate({}) outside [0, {}]", n_tokens, length_);
  const auto keep = static_cast<std::size_t>((n_tokens + block_tokens() - 1) / block_tokens());
  while (blocks_.size() > keep) {
    pool_->release(blocks_.back());
    blocks_.pop_back();
  }
  length_ = n_tokens;
}

void KvCache::assign(const KvCache& src) {
  CHATTERD_CHECK(pool_ != nullptr && src.pool_ != nullptr, InvalidArgument,
                 "kv_cache: assign with a cache used before construction");
  const KvLayout& a = layout();
  const KvLayout& b = src.layout();
  CHATTERD_CHECK(a.n_kv_heads == b.n_kv_heads && a.head_dim == b.head_dim && a.dtype == b.dtype &&
                     a.block_tokens == b.block_tokens,
                 ShapeError,
                 "kv_cache: assign from {} heads x {} ({}, blocks of {}) into {} x {} ({}, {})",
                 b.n_kv_heads, b.head_dim, dtype_name(b.dtype), b.block_tokens, a.n_kv_heads,
                 a.head_dim, dtype_name(a.dtype), a.block_tokens);
  if (pool_ == src.pool_) {
    *this = src;
    return;
  }
  release_all();
  const std::size_t bytes = 2 * a.half_block_bytes();
  for (std::byte* s : src.blocks_) {
    blocks_.push_back(pool_->acquire());
    std::memcpy(blocks_.back(), s, bytes);
  }
  length_ = src.length_;
}

std::byte* KvCache::writable_block(std::int64_t b) {
  const auto i = static_cast<std::size_t>(b);
  if (i == blocks_.size()) {
    blocks_.push_back(pool_->acquire());
  } else if (pool_->references(blocks_[i]) > 1) {  // shared: copy before writing
    std::byte* own = pool_->acquire();
    std::memcpy(own, blocks_[i], 2 * layout().half_block_bytes());
    pool_->release(blocks_[i]);
    blocks_[i] = own;
  }
  return blocks_[i];
}

void KvCache::append(const ExecContext& ctx, const Tensor& k_new, const Tensor& v_new) {
  CHATTERD_CHECK(pool_ != nullptr, InvalidArgument, "kv_cache: append before construction");
  check_dtype(k_new, DType::F32, "kv_cache: k_new");
  check_dtype(v_new, DType::F32, "kv_cache: v_new");
  check_rank(k_new, 3, "kv_cache: k_new");
  const KvLayout& lay = layout();
  const std::int64_t T = k_new.dim(0);
  const std::int64_t H = lay.n_kv_heads;
  const std::int64_t D = lay.head_dim;
  const std::int64_t BT = lay.block_tokens;
  check_shape(k_new, Shape{T, H, D}, "kv_cache: k_new");
  check_shape(v_new, Shape{T, H, D}, "kv_cache: v_new");
  if (T == 0) return;
  // Blocks first (the pool's lock, copy-on-write), then the rows in parallel.
  const std::int64_t first_block = length_ / BT;
  const std::int64_t last_block = (length_ + T - 1) / BT;
  for (std::int64_t b = first_block; b <= last_block; ++b) writable_block(b);

  const float* ks = k_new.data<float>();
  const float* vs = v_new.data<float>();
  const std::int64_t base = length_;
  const std::size_t esize = lay.element_bytes();
  const std::size_t half = lay.half_block_bytes();
  const auto to_f16 = cpu::convert_kernels(ctx.isa).f32_to_f16;
  const bool f16 = lay.dtype == DType::F16;
  std::byte* const* blocks = blocks_.data();
  ctx.parallel_for(H, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(T * D, 1)),
                   [&](std::int64_t h0, std::int64_t h1) {
                     for (std::int64_t h = h0; h < h1; ++h) {
                       for (std::int64_t t = 0; t < T; ++t) {
                         const std::int64_t pos = base + t;
                         std::byte* blk = blocks[pos / BT];
                         const auto off = static_cast<std::size_t>((h * BT + pos % BT) * D) * esize;
                         const float* kr = ks + (t * H + h) * D;
                         const float* vr = vs + (t * H + h) * D;
                         if (f16) {
                           to_f16(kr, reinterpret_cast<Half*>(blk + off), D);
                           to_f16(vr, reinterpret_cast<Half*>(blk + half + off), D);
                         } else {
                           std::memcpy(blk + off, kr, static_cast<std::size_t>(D) * esize);
                           std::memcpy(blk + half + off, vr, static_cast<std::size_t>(D) * esize);
                         }
                       }
                     }
                   });
  length_ += T;
}

}  // namespace chatterd::ops
