#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace chatterd {
namespace {

thread_local bool t_in_parallel_region = false;

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

constexpr int kSpinIterations = 4000;  // roughly 100-500 us of polling before sleeping

}  // namespace

int ThreadPool::hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads) {
  n_threads_ = n_threads <= 0 ? hardware_threads() : n_threads;
  workers_.reserve(static_cast<std::size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    const std::lock_guard<std::mutex> lock(wake_mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  const bool was_inside = t_in_parallel_region;
  t_in_parallel_region = true;
  for (;;) {
    const std::int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (c >= job_chunks_) break;
    const std::int64_t begin = c * job_chunk_;
    const std::int64_t end = std::min(job_n_, begin + job_chunk_);
    try {
      (*job_)(begin, end);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  t_in_parallel_region = was_inside;
}

void ThreadPool::worker_loop(int /*index*/) {
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(wake_mutex_);
      wake_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load()) return;
    run_chunks();
    finished_workers_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::parallel_for(std::int64_t n, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  if (n_threads_ == 1 || t_in_parallel_region || n <= grain) {
    fn(0, n);
    return;
  }
  const std::lock_guard<std::mutex> submit(submit_mutex_);
  // About 4 chunks per thread balances uneven chunks without much scheduling overhead.
  const std::int64_t target_chunks = static_cast<std::int64_t>(n_threads_) * 4;
  job_chunk_ = std::max(grain, (n + target_chunks - 1) / target_chunks);
  job_chunks_ = (n + job_chunk_ - 1) / job_chunk_;
  job_n_ = n;
  job_ = &fn;
  error_ = nullptr;
  next_chunk_.store(0, std::memory_order_relaxed);
  finished_workers_.store(0, std::memory_order_relaxed);
  {
    const std::lock_guard<std::mutex> lock(wake_mutex_);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_cv_.notify_all();
  run_chunks();
  // Every worker checks in for every job, so none can wake late and touch the next job's state.
  const int n_workers = static_cast<int>(workers_.size());
  while (finished_workers_.load(std::memory_order_acquire) != n_workers) cpu_relax();
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace chatterd
