// The T3 decode step must not allocate once its state and scratch have grown (issue #8): counts
// operator new calls over decode steps, single-threaded and on a pool, for f32 and the converted
// dtypes, GPT-2 (turbo-tiny) and Llama CFG (english-tiny).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "core/thread_pool.h"
#include "fixture_dirs.h"
#include "models/t3/t3_cond.h"
#include "models/t3/t3_model.h"

// Sanitizers own the allocator (a replacement operator new here makes ASan report every
// new/free pair of the whole binary), so the counting allocator exists only in plain builds; the
// test skips under sanitizers and runs in the default tree.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CHATTERD_COUNTING_ALLOCATOR 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CHATTERD_COUNTING_ALLOCATOR 0
#endif
#endif
#ifndef CHATTERD_COUNTING_ALLOCATOR
#define CHATTERD_COUNTING_ALLOCATOR 1
#endif

namespace {
[[maybe_unused]] std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
}  // namespace

#if CHATTERD_COUNTING_ALLOCATOR

// Replaces the global allocator for this test binary: counts while g_counting is set.
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// Tensor storage comes from std::aligned_alloc: interposed here (this executable's definition
// wins over libc's), counted, and served by posix_memalign.
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
  void* p = nullptr;
  return posix_memalign(&p, alignment, n) == 0 ? p : nullptr;
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#endif  // CHATTERD_COUNTING_ALLOCATOR

namespace chatterd {
namespace {

long allocations_in_decode(const char* fixture, std::vector<std::int64_t> text, std::int64_t batch,
                           std::optional<DType> dtype, ThreadPool* pool) {
  const auto dir = test::kFixturesDir / fixture;
  const auto model = T3Model::load(dir, dtype);
  const T3Cond cond = load_t3_cond(dir / "conds.pt", model->config());
  ExecContext ctx;
  ctx.pool = pool;
  T3State st = model->new_state(256, batch);
  Tensor embeds;
  model->prefill_embeds(ctx, cond, text, st, embeds);
  model->forward(ctx, embeds, st);
  Tensor e;
  for (int i = 0; i < 3; ++i) {  // warm-up: scratch reaches its decode size
    model->decode_embeds(ctx, 10 + i, i, st, e);
    model->forward(ctx, e, st);
  }
  g_allocs = 0;
  g_counting = true;
  for (int i = 3; i < 20; ++i) {
    model->decode_embeds(ctx, 10 + i, i, st, e);
    model->forward(ctx, e, st);
  }
  g_counting = false;
  return g_allocs.load();
}

TEST(T3Decode, NoAllocationPerStep) {
  if (!CHATTERD_COUNTING_ALLOCATOR) {
    GTEST_SKIP() << "allocation counting needs the plain allocator (sanitizers replace it); "
                    "runs in the default build";
  }
  ThreadPool pool(2);
  for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
    for (const std::optional<DType> dt :
         {std::optional<DType>{}, std::optional{DType::BF16}, std::optional{DType::Q8_0}}) {
      const char* label = dt ? dtype_name(*dt).data() : "stored";
      EXPECT_EQ(allocations_in_decode("turbo-tiny", {15496, 612, 13}, 1, dt, p), 0)
          << "turbo-tiny " << label << (p ? " pool" : "");
      EXPECT_EQ(allocations_in_decode("english-tiny", {255, 17, 42, 300, 0}, 2, dt, p), 0)
          << "english-tiny " << label << (p ? " pool" : "");
    }
  }
}

}  // namespace
}  // namespace chatterd
