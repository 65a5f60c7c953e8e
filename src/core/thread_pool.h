#pragma once
// A fixed pool of worker threads for the heavy CPU kernels. parallel_for splits a range into
// chunks; the calling thread works too and returns when every chunk is done. Idle workers spin
// briefly (a decode step issues many short parallel regions back to back) and then sleep.
// Nested calls from inside a parallel region run inline. Submissions from several threads are
// serialised.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chatterd {

class ThreadPool {
 public:
  // n_threads counts the caller: 1 means no worker threads; 0 means one per hardware core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n), each at least `grain` long (except
  // possibly the last). Exceptions thrown by fn are rethrown here (the first one wins).
  void parallel_for(std::int64_t n, std::int64_t grain,
                    const std::function<void(std::int64_t, std::int64_t)>& fn);

  static int hardware_threads();

 private:
  void worker_loop(int index);
  void run_chunks();

  int n_threads_ = 1;
  std::vector<std::thread> workers_;

  std::mutex submit_mutex_;  // one parallel_for at a time
  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};

  // The job being run: written before generation_ is bumped, read by workers after they see it.
  const std::function<void(std::int64_t, std::int64_t)>* job_ = nullptr;
  std::int64_t job_n_ = 0;
  std::int64_t job_chunk_ = 1;
  std::int64_t job_chunks_ = 0;
  std::atomic<std::int64_t> next_chunk_{0};
  std::atomic<int> finished_workers_{0};
  std::mutex error_mutex_;
  std::exception_ptr error_;
};

}  // namespace chatterd
